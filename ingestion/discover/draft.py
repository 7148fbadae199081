"""A draft plant model from what discovery saw: hierarchy, signal rules and tag roles, guessed.

The draft is valid as written (`load_plant_model` reads it): every guess is a valid value with
a `# guess: …` comment beside it, and what the source cannot tell (the time zone, the shift
calendar, ideal cycle times, a missing hierarchy level) carries a `# TODO: …` comment. A person
reviews the comments; nothing has to be filled in before `plantlake model check` runs.

    >>> text = render_draft(draft_from_opcua(scan_opcua("opc.tcp://127.0.0.1:4840/")))
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingestion.discover.mqtt import (
    MqttCapture,
    PayloadShape,
    is_number,
    payload_shape,
    payload_values,
)
from ingestion.discover.opcua import OpcUaScan, OpcUaVariable
from ingestion.opcua.paths import split_path, unescape_name
from lakehouse.contracts.vocabulary import STATES
from lakehouse.plant_model.roles import STATE_MAPS
from lakehouse.plant_model.schema import value_key  # the model's own rule for map keys
from lakehouse.plant_model.templates import glob_regex

HIERARCHY = ("enterprise", "site", "area", "line", "cell")
MISSING = {"enterprise": "enterprise", "site": "site1", "area": "area1", "line": "line1"}

# -- names and data types --------------------------------------------------------------------
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_INT_TYPES = {
    "sbyte", "byte", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "int",
}  # fmt: skip
_FLOAT_TYPES = {"float", "double"}
_TEXT_TYPES = {"string", "localizedtext", "text", "uuid", "str"}


def words(name: str) -> list[str]:
    """`PartsGood_count` -> ['parts', 'good', 'count'] (camel case, separators, digits); unit
    prefixes stay on their unit: `Power_kW` -> ['power', 'kw'], `EnergyKWh` -> ['energy', 'kwh']."""
    out: list[str] = []
    for w in (w.lower() for w in _WORDS.findall(name)):
        if out and out[-1] in ("k", "m") and w in ("w", "wh"):
            out[-1] += w
        else:
            out.append(w)
    return out


def value_kind(data_type: str, values: Sequence[Any] = ()) -> str:
    """bool, int, float, string or other, from a declared type (OPC UA, Sparkplug) or, for
    JSON (data_type ''), from the values themselves."""
    t = data_type.lower()
    if t in ("boolean", "bool"):
        return "bool"
    if t in _INT_TYPES:
        return "int"
    if t in _FLOAT_TYPES:
        return "float"
    if t in _TEXT_TYPES:
        return "string"
    if t:
        return "other"
    seen = [v for v in values if v is not None]
    if not seen:
        return "unknown"
    if all(isinstance(v, bool) for v in seen):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in seen):
        return "int"
    if all(is_number(v) for v in seen) and all(not isinstance(v, bool) for v in seen):
        return "float"
    if all(isinstance(v, str) for v in seen):
        return "string"
    return "other"


def name_ok(text: str) -> bool:
    """Whether `text` is a valid hierarchy name of the plant model (no '.', '/', leading space)."""
    return bool(re.fullmatch(r"[^.\s/][^./]*", text))


def safe_name(text: str) -> str:
    cleaned = re.sub(r"[./]", "_", text).strip()
    return cleaned or "_"


# -- tag roles -------------------------------------------------------------------------------
@dataclass
class TagGuess:
    """One tag of a rule: its role (the plant model's `tags` entry) or why it is left out."""

    name: str
    role: dict[str, Any] | None  # {"role": "analog", "unit": "degC"}; None: left out
    note: str


_STATE_WORDS = {"state", "status", "mode", "machinestate"}
_RUNNING_WORDS = {"running", "run", "producing", "active", "busy", "execute", "executing"}
_SCRAP_WORDS = {
    "scrap",
    "scrapped",
    "reject",
    "rejects",
    "rejected",
    "nok",
    "ng",
    "bad",
    "defect",
    "defects",
}
_GOOD_WORDS = {"good", "ok"}
_TOTAL_WORDS = {
    "count",
    "counter",
    "parts",
    "total",
    "produced",
    "pieces",
    "pcs",
    "output",
    "qty",
    "quantity",
}
_UNIT_FROM_NAME = {
    "c": "degC", "degc": "degC", "celsius": "degC", "f": "degF", "degf": "degF", "k": "K",
    "bar": "bar", "psi": "psi", "kpa": "kPa", "pa": "Pa", "rpm": "rpm", "pct": "%",
    "percent": "%", "a": "A", "amp": "A", "amps": "A", "v": "V", "volt": "V", "hz": "Hz",
    "kn": "kN", "n": "N", "s": "s", "sec": "s", "ms": "ms", "mm": "mm", "kw": "kW", "w": "W",
    "kwh": "kWh", "wh": "Wh", "mwh": "MWh", "l": "l", "lpm": "l/min", "nm": "Nm",
}  # fmt: skip
_UNIT_PAIRS = {
    ("mm", "s"): "mm/s", ("m", "s"): "m/s", ("in", "s"): "in/s", ("l", "min"): "l/min",
    ("m3", "h"): "m3/h", ("kg", "h"): "kg/h", ("deg", "c"): "degC", ("deg", "f"): "degF",
}  # fmt: skip
# State words of a source (an enumeration's names, a string state's values) -> our vocabulary.
_STATE_GUESS = (
    ("changeover", ("changeover", "change_over", "setup", "set_up", "retool", "rüsten")),
    ("planned_stop", ("planned", "maintenance", "break", "pause", "scheduled", "off", "shift")),
    ("unplanned_stop", ("fault", "error", "alarm", "down", "breakdown", "abort", "held", "hold", "fail", "emergency", "estop", "clearing", "stopped_fault")),
    ("running", ("running", "run", "execute", "producing", "production", "auto", "complet", "active", "working")),
    ("idle", ("idle", "standby", "ready", "wait", "starv", "block", "stop", "stopped", "undefined", "suspend", "start", "reset", "manual")),
)  # fmt: skip


def guess_state(value: object) -> tuple[str, bool]:
    """Our state for a source's state word: (state, sure). Unknown words are idle, unsure."""
    text = str(value).strip().lower()
    if text in STATES:
        return text, True
    for state, keys in _STATE_GUESS:
        if any(k in text for k in keys):
            return state, True
    return "idle", False


def _state_role(
    kind: str, values: Sequence[Any], enum_strings: Sequence[str] | None
) -> tuple[dict, str]:
    observed = sorted({value_key(v) for v in values if v is not None})
    shown = f"; seen {', '.join(observed[:8])}" if observed else ""
    if kind == "bool":
        return {"role": "state", "values": "running_bool"}, "true = running, false = idle" + shown
    if enum_strings:
        mapping, unsure = {}, []
        for code, label in enumerate(enum_strings):
            mapping[str(code)], sure = guess_state(label)
            if not sure:
                unsure.append(label)
        detail = ", ".join(f"{c} {enum_strings[int(c)]}" for c in mapping)
        note = f"states from the enumeration ({detail})"
        return {"role": "state", "values": mapping}, note + (
            f"; TODO: {', '.join(unsure)} unknown, mapped to idle" if unsure else ""
        )
    if kind in ("int", "float"):
        if all(k.lstrip("-").isdigit() and k in STATE_MAPS["packml"] for k in observed):
            return (
                {"role": "state", "values": "packml"},
                "PackML state numbers (6 = Execute = running); if the machine uses codes of its own, list them as {code: state}"
                + shown,
            )
        mapping = {k: "idle" for k in observed}
        return (
            {"role": "state", "values": mapping},
            f"TODO: codes {', '.join(observed)} are not PackML; map each code to one of {', '.join(STATES)}",
        )
    if observed and set(observed) <= set(STATES):
        return {"role": "state", "values": "plantlake"}, "the values are plantlake's states" + shown
    if observed:
        mapping, unsure = {}, []
        for v in observed:
            mapping[v], sure = guess_state(v)
            if not sure:
                unsure.append(v)
        note = "states from the values seen"
        return {"role": "state", "values": mapping}, note + (
            f"; TODO: {', '.join(unsure)} unknown, mapped to idle" if unsure else ""
        ) + "; add values not seen yet"
    return (
        {"role": "state", "values": "plantlake"},
        f"TODO: no value seen; the source must send {', '.join(STATES)} or list its values as {{value: state}}",
    )


def _unit_from_name(tokens: list[str]) -> str | None:
    """A unit the name ends with: temperature_c -> degC, vibration_mm_s -> mm/s."""
    if len(tokens) > 2 and (pair := _UNIT_PAIRS.get(tuple(tokens[-2:]))):
        return pair
    return _UNIT_FROM_NAME.get(tokens[-1]) if len(tokens) > 1 else None


def _fixed_unit(role: str, unit: str, source: str | None) -> tuple[dict[str, Any], str]:
    """A role stored in a fixed unit (kW, kWh): the source's unit to convert from, if any."""
    # the conversions silver knows (one home for them; importing it costs a quarter second)
    from lakehouse.plant_model.units import UNIT_CONVERSIONS

    spec: dict[str, Any] = {"role": role}
    convertible = {pair[0] for pair in UNIT_CONVERSIONS if pair[1] == unit}
    if source is None:
        return (
            spec,
            f"assumed {unit}: set source_unit ({', '.join(sorted(convertible))}) if it is not",
        )
    if source == unit:
        return spec, f"the source says {unit}"
    if source in convertible:
        spec["source_unit"] = source
        return spec, f"the source says {source}: silver converts it to {unit}"
    return spec, f"TODO: the source says {source}; silver stores {unit} and cannot convert {source}"


def guess_role(
    name: str,
    kind: str,
    *,
    values: Sequence[Any] = (),
    unit: str | None = None,
    enum_strings: Sequence[str] | None = None,
    eu_range: tuple[float, float] | None = None,
    type_label: str = "",
) -> TagGuess:
    """The role a tag most likely has, from its name, value kind (`value_kind`), values and unit.

    >>> guess_role("PartsGood", "int").role
    {'role': 'counter_good'}
    """
    tokens = words(name)
    tset = set(tokens)
    joined = "".join(tokens)
    label = type_label or kind
    numeric = kind in ("int", "float", "unknown")

    def guess(role: dict, why: str) -> TagGuess:
        return TagGuess(name, role, f"guess: {role['role']} ({label}){'; ' + why if why else ''}")

    def left_out(why: str) -> TagGuess:
        return TagGuess(name, None, f"left out: {name} ({label}): {why}")

    if kind == "other":
        return left_out("no role reads this data type")
    if "reason" in tset:
        return guess({"role": "reason_code"}, "")
    if tset & {"order", "workorder", "wo", "job"}:
        return guess({"role": "work_order"}, "")
    if tset & {"lot", "batch"}:
        return guess({"role": "material_lot"}, "")
    if tset & {"product", "sku", "article", "recipe"} or (
        "part" in tset and tset & {"number", "no", "id", "nr"}
    ):
        return guess({"role": "product"}, "")
    if tset & _STATE_WORDS or (kind == "bool" and tset & _RUNNING_WORDS):
        role, why = _state_role(kind, values, enum_strings)
        return guess(role, why)
    if kind == "bool":
        return left_out("a flag without a role; keep it as 0/1 with {role: analog}")
    if kind == "string":
        if values and all(is_number(v) for v in values if v is not None):
            numeric = True  # numbers sent as text: silver reads them as numbers
        else:
            return left_out("text without a role")
    if not numeric:
        return left_out("no role for this data type")
    if tset & {"rework", "reworked"}:
        return guess({"role": "counter_rework"}, "")
    if tset & _SCRAP_WORDS:
        return guess({"role": "counter_scrap"}, "")
    if tset & _GOOD_WORDS:
        return guess({"role": "counter_good"}, "")
    if tset & {"energy", "kwh", "wh", "mwh"} or "kwh" in joined:
        return guess(*_fixed_unit("energy_counter", "kWh", unit or _unit_from_name(tokens)))
    if (tset & {"power", "kw"} or joined.endswith("kw")) and not tset & {"factor", "cos", "pf"}:
        return guess(*_fixed_unit("power", "kW", unit or _unit_from_name(tokens)))
    if tset & _TOTAL_WORDS:
        return guess({"role": "counter_total"}, "")
    role = {"role": "analog"}
    why = []
    if unit:
        role["unit"] = unit
        why.append(f"unit {unit}")
    elif (u := _unit_from_name(tokens)) is not None:
        role["unit"] = u
        why.append(f"unit {u} from the name")
    if eu_range and all(math.isfinite(x) for x in eu_range) and eu_range[0] < eu_range[1]:
        role["low"], role["high"] = eu_range
        why.append(f"EURange {eu_range[0]:g}..{eu_range[1]:g}")
    return guess(role, ", ".join(why))


# -- the hierarchy ---------------------------------------------------------------------------
_LEVEL_WORDS = {
    "site": ("site", "plant", "factory", "fab", "werk", "works", "campus"),
    "area": ("area", "hall", "halle", "zone", "shop", "dept", "department", "building"),
    "line": ("line", "linie", "ln"),
    "cell": ("cell", "station", "ws", "workstation", "zelle"),
}
_KINDS = (
    ("energy_meter", ("meter", "energy", "power")),
    ("injection_moulder", ("inject", "mould", "mold", "imm")),
    ("cnc_mill", ("cnc", "mill")),
    ("press", ("press",)),
    ("packer", ("pack", "filler", "palletiz")),
    ("robot", ("robot",)),
    ("oven", ("oven", "furnace", "dryer")),
    ("welder", ("weld",)),
    ("conveyor", ("conveyor",)),
    ("pump", ("pump",)),
    ("compressor", ("compressor",)),
    ("lathe", ("lathe",)),
)


def level_hint(values: Iterable[str]) -> str | None:
    """The hierarchy level every one of `values` is named after (line1, Hall_B, …), if any."""
    found = set()
    for v in values:
        letters = re.sub(r"[^a-z]", "", v.lower())
        hit = None
        for level, names in _LEVEL_WORDS.items():
            if (
                letters in names
                or letters[:-1] in names
                or any(
                    len(n) >= 4 and (letters.startswith(n) or letters.endswith(n)) for n in names
                )
            ):
                hit = level
                break
        if hit is None:
            return None
        found.add(hit)
    return found.pop() if len(found) == 1 else None


def assign_levels(
    columns: Sequence[Sequence[str]], roles: Sequence[str] = HIERARCHY
) -> list[str | None]:
    """Which hierarchy level each path level above the equipment is (None: a folder of no level).

    Levels named after a level (`line2`, `Hall B`) keep it; the others take the free levels
    from the top down, so `acme/berlin/line1` is enterprise, site, line (area and cell missing).
    """
    k = len(columns)
    out: list[str | None] = [None] * k
    last = -1
    for i, col in enumerate(columns):
        hint = level_hint(col)
        if hint in roles and roles.index(hint) > last:
            out[i], last = hint, roles.index(hint)
    i = 0
    while i < k:
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < k and out[j] is None:
            j += 1
        above = max((roles.index(out[x]) for x in range(i) if out[x]), default=-1)
        below = min((roles.index(out[x]) for x in range(j, k) if out[x]), default=len(roles))
        free = list(range(above + 1, below))
        segment = list(range(i, j))
        if len(segment) > len(free):  # more folders than levels: the top ones are folders
            segment = segment[len(segment) - len(free) :]
        for x, r in zip(segment, free, strict=False):
            out[x] = roles[r]
        i = j
    return out


def guess_kind(name: str, roles: set[str]) -> tuple[str, str]:
    """The equipment kind from its name, else from its tags' roles (a meter has only energy)."""
    text = name.lower()
    for kind, keys in _KINDS:
        if any(k in text for k in keys):
            return kind, f"guess: from the name {name!r}"
    if (
        roles
        and roles <= {"energy_counter", "power", "analog"}
        and roles & {"energy_counter", "power"}
    ):
        return "energy_meter", "guess: energy and power only"
    return "machine", "guess: TODO: the equipment kind (press, cnc_mill, packer, …)"


@dataclass
class DraftEquipment:
    site: str
    area: str
    line: str
    cell: str
    name: str
    kind: str = "machine"
    kind_note: str = ""
    notes: dict[str, str] = field(default_factory=dict)  # level -> comment
    roles: set[str] = field(default_factory=set)  # roles of its tags

    @property
    def makes_parts(self) -> bool:
        return any(r.startswith("counter_") for r in self.roles)

    def id(self, enterprise: str) -> str:
        return ".".join((enterprise, self.site, self.area, self.line, self.cell, self.name))

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.site, self.area, self.line, self.cell, self.name)


@dataclass
class DraftRule:
    name: str
    source: str  # opcua, mqtt, sparkplug
    match: dict[str, Any]
    equipment: str | dict[str, str]
    tags: list[TagGuess]
    tag: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def specificity(self) -> tuple[int, bool]:
        """Sort key: more literal text before the first placeholder first; a placeholder that
        spans levels (`{tag:.+}`) after the rules it could take addresses from."""
        text = str(next(iter(self.match.values()), ""))
        return (-len(text.split("{", 1)[0]), ":.+}" in text)


@dataclass
class Draft:
    """A plant model in the making: render it with `render_draft`."""

    command: str
    enterprise: str = "enterprise"
    enterprise_note: str = ""
    timezone: str = "UTC"
    timezone_note: str = "TODO: the site's IANA time zone, e.g. Europe/Berlin"
    equipment: list[DraftEquipment] = field(default_factory=list)
    rules: list[DraftRule] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # header comments
    unmapped: list[str] = field(default_factory=list)  # addresses the draft does not map
    addresses: int = 0  # variables, topics or metrics seen
    seconds: float = 0.0

    def add_equipment(self, eq: DraftEquipment) -> DraftEquipment:
        """The equipment, or the one already declared at the same place."""
        for known in self.equipment:
            if known.key == eq.key:
                known.roles |= eq.roles
                return known
        self.equipment.append(eq)
        return eq

    def summary(self) -> dict[str, Any]:
        roles = Counter(t.role["role"] for r in self.rules for t in r.tags if t.role)
        left = sum(1 for r in self.rules for t in r.tags if not t.role)
        return {
            "addresses": self.addresses,
            "equipment": len(self.equipment),
            "rules": len(self.rules),
            "roles": dict(sorted(roles.items())),
            "left_out": left,
            "unmapped": len(self.unmapped),
            "seconds": round(self.seconds, 2),
        }


def _place(
    levels: Sequence[str], roles: Sequence[str | None], name: str, *, site: str | None, why: str
) -> DraftEquipment:
    """The draft equipment at a path: its levels by role, the missing ones defaulted with a TODO."""
    values: dict[str, str] = {}
    notes: dict[str, str] = {}
    for value, role in zip(levels, roles, strict=True):
        if role and role not in values:
            values[role] = value
    for role in HIERARCHY[1:]:
        if role == "site" and site:
            values["site"], notes["site"] = site, ""
        elif role not in values:
            if role == "cell":
                values["cell"] = name
                notes["cell"] = "TODO: the source has no cell level: one cell per equipment"
            else:
                values[role] = MISSING[role]
                notes[role] = f"TODO: the source has no {role} level: name the {role}"
        else:
            notes[role] = f"guess: {role} from the {why}"
    for role, value in list(values.items()):
        if role != "enterprise" and not name_ok(value):
            values[role] = safe_name(value)
            notes[role] = (
                f"TODO: {value!r} is not a valid name ('.' and '/' are not allowed): rename"
            )
    clean = name if name_ok(name) else safe_name(name)
    eq = DraftEquipment(
        values["site"], values["area"], values["line"], values["cell"], clean, notes=notes
    )
    if clean != name:
        eq.notes["name"] = f"TODO: {name!r} is not a valid name ('.' and '/' are not allowed)"
    return eq


def _new_draft(command: str, enterprise: str | None, timezone: str | None) -> Draft:
    draft = Draft(command=command)
    if enterprise:
        draft.enterprise, draft.enterprise_note = enterprise, "given"
    if timezone:
        draft.timezone, draft.timezone_note = timezone, "given"
    return draft


def _finish(draft: Draft, rules: list[DraftRule], enterprise_values: Counter) -> None:
    """Name the enterprise, give rules their equipment ids, guess kinds, order the rules."""
    if draft.enterprise_note != "given":
        if enterprise_values:
            top, _ = enterprise_values.most_common(1)[0]
            draft.enterprise = safe_name(top)
            draft.enterprise_note = "guess: the top level of the source"
            if len(enterprise_values) > 1:
                others = ", ".join(sorted(set(enterprise_values) - {top}))
                draft.enterprise_note += (
                    f"; TODO: the source also names {others} (one enterprise per model)"
                )
        else:
            draft.enterprise_note = "TODO: the source has no enterprise level: name the enterprise"
    for r in rules:
        if isinstance(r.equipment, DraftEquipment):
            r.equipment = r.equipment.id(draft.enterprise)
    for eq in draft.equipment:
        eq.kind, eq.kind_note = guess_kind(eq.name, eq.roles)
    for r in rules:
        r.tags = compact_tags(r.tags)
    # the first matching rule wins: the more literal text before the first placeholder, the earlier
    draft.rules = sorted(rules, key=lambda r: r.specificity)


def compact_tags(tags: list[TagGuess], at_least: int = 3) -> list[TagGuess]:
    """Numbered tags with the same role as one glob: aux_temperature_01 … _36 -> aux_temperature_*.

    Only when the glob matches no other tag of the rule (a tag glob takes the first match).
    """
    numbered: dict[tuple[str, str], list[TagGuess]] = {}
    for t in tags:
        m = re.fullmatch(r"(.*?[^\d])\d+", t.name)
        if t.role and m and not any(c in m.group(1) for c in "*?"):
            numbered.setdefault((m.group(1), json.dumps(t.role, sort_keys=True)), []).append(t)
    merged: dict[int, TagGuess] = {}  # id of the first member -> the glob entry
    dropped: set[int] = set()
    for (prefix, _), members in numbered.items():
        if len(members) < at_least:
            continue
        pattern = re.compile(glob_regex(prefix + "*"))
        if any(pattern.match(t.name) for t in tags if t not in members):
            continue
        first, last = members[0], members[-1]
        note = first.note.split(";")[0] + f"; {len(members)} tags {first.name} … {last.name}"
        merged[id(first)] = TagGuess(prefix + "*", first.role, note)
        dropped |= {id(t) for t in members[1:]}
    return [merged.get(id(t), t) for t in tags if id(t) not in dropped]


def _roles_of(tags: Iterable[TagGuess]) -> set[str]:
    return {t.role["role"] for t in tags if t.role}


def _has_braces(*texts: str) -> bool:
    return any(c in t for t in texts for c in "{}")


# -- OPC UA ----------------------------------------------------------------------------------
def _opcua_tag(tag: str, v: OpcUaVariable) -> TagGuess:
    label = v.data_type_name or v.data_type
    if v.unit:
        label += f", {v.unit}"
    kind = (
        "int"
        if v.enum_strings and value_kind(v.data_type) in ("int", "other")
        else value_kind(v.data_type)
    )
    return guess_role(
        tag,
        kind,
        values=[v.value] if v.value is not None else [],
        unit=v.unit,
        enum_strings=v.enum_strings,
        eu_range=v.eu_range,
        type_label=label,
    )


def _node_template(members: list[tuple[str, OpcUaVariable]]) -> str | None:
    """`nsu=<uri>;s=<prefix>{tag}` when every string node id is the prefix plus its tag name."""
    uris = {v.namespace_uri for _, v in members}
    if len(uris) != 1:
        return None
    uri = uris.pop()
    prefixes = set()
    for tag, v in members:
        ident = v.identifier
        if "/" in tag or not ident.startswith("s=") or not ident.endswith(tag):
            return None
        prefixes.add(ident[2 : len(ident) - len(tag)])
    if not uri or len(prefixes) != 1:
        return None
    prefix = prefixes.pop()
    if _has_braces(uri, prefix, *(tag for tag, _ in members)):
        return None
    return f"nsu={uri};s={prefix}{{tag}}"


def draft_from_opcua(
    scan: OpcUaScan,
    *,
    enterprise: str | None = None,
    site: str | None = None,
    timezone: str | None = None,
    command: str = "",
) -> Draft:
    """A draft model from an OPC UA scan: objects holding variables become equipment, the levels
    above them the hierarchy; one rule per equipment (by node id when the string ids follow the
    tag names, else by browse path below the scan's root)."""
    draft = _new_draft(
        command or f"plantlake model discover opcua {scan.endpoint}", enterprise, timezone
    )
    draft.addresses, draft.seconds = len(scan.variables), scan.seconds
    paths = {v.browse_path for v in scan.variables}
    groups: dict[str, list[tuple[str, OpcUaVariable]]] = {}
    for v in scan.variables:  # paths are escaped (`Halle 2&/Nord` is one name)
        names = split_path(v.browse_path)
        parent_names = names[:-1]
        while parent_names and "/".join(parent_names) in paths:
            parent_names = parent_names[:-1]  # a variable below a variable belongs to its object
        parent = "/".join(parent_names)
        tag = "/".join(names[len(parent_names) :])
        groups.setdefault(parent, []).append((tag, v))
    root = scan.root_names  # the root's own levels take part in guessing the hierarchy
    by_depth: dict[int, list[tuple[str, list[str], str, list]]] = {}
    for path, members in sorted(groups.items()):
        full = root + ([unescape_name(n) for n in split_path(path)] if path else [])
        name = full[-1] if full else "equipment"
        by_depth.setdefault(len(full) - 1 if full else 0, []).append(
            (path, full[:-1], name, members)
        )
    enterprise_values: Counter = Counter()
    rules = []
    root_text = "/".join(scan.root)
    for depth, group in by_depth.items():
        roles = assign_levels([[e[1][i] for e in group] for i in range(depth)])
        if enterprise:  # given: a level is the enterprise only when it is named so
            roles = [
                r if r != "enterprise" or all(e[1][i] == enterprise for e in group) else None
                for i, r in enumerate(roles)
            ]
        for path, levels, name, members in group:
            enterprise_values.update(
                v for v, r in zip(levels, roles, strict=True) if r == "enterprise"
            )
            tags = [_opcua_tag(tag, v) for tag, v in members]
            if not _roles_of(tags):  # an object of text or flags only is not equipment
                shown = ", ".join(t for t, _ in members[:5]) + (", …" if len(members) > 5 else "")
                draft.unmapped.append(f"{path or name}: no variable with a role ({shown})")
                continue
            eq = _place(levels, roles, name, site=site, why="browse path")
            eq.roles = _roles_of(tags)
            eq = draft.add_equipment(eq)
            node = _node_template(members)
            notes = []
            if node is not None:
                match = {"node": node}
            elif _has_braces(path):
                draft.unmapped.append(f"{path}/*: braces in a browse path cannot be templated")
                continue
            else:
                deep = any(len(split_path(tag)) > 1 for tag, _ in members)
                tag_t = "{tag:.+}" if deep else "{tag}"
                match = {"browse_path": f"{path}/{tag_t}" if path else tag_t}
                notes.append(
                    f"browse path below the root {root_text}: the ingestion source must use the same root"
                )
            rules.append(DraftRule(path or name, "opcua", match, eq, tags, notes=notes))  # type: ignore[arg-type]
    _finish(draft, rules, enterprise_values)
    draft.notes.append(
        f"{len(scan.variables)} variables below {root_text} of {scan.endpoint}; namespaces: "
        + ", ".join(f"{i}={u}" for i, u in enumerate(scan.namespaces))
    )
    return draft


# -- MQTT: UNS JSON and Sparkplug B ---------------------------------------------------------
UMH_LEVELS = ("enterprise", "site", "area", "line", "workcell", "origin")


@dataclass
class _TopicGroup:
    levels: int
    umh_schema: int | None  # index of the `_schema` level of a UMH v1 topic
    by_value: bool
    topics: list[tuple[str, list[dict], PayloadShape]] = field(default_factory=list)


def _shape_of_group(group: _TopicGroup) -> PayloadShape:
    shapes = [s for _, _, s in group.topics]
    ts = Counter((s.timestamp, s.timestamp_format) for s in shapes).most_common(1)[0][0]
    value = Counter(s.value for s in shapes).most_common(1)[0][0]
    quality = next((s.quality for s in shapes if s.quality), None)
    unit = next((s.unit for s in shapes if s.unit), None)
    notes = sorted({s.note for s in shapes if s.note})
    return PayloadShape(value, ts[0], ts[1], quality, unit, "; ".join(notes))


def _json_values(
    group: _TopicGroup, shape: PayloadShape, tag_of
) -> tuple[dict[str, dict], dict[str, set[str]]]:
    """Per tag name the values and units seen, and per topic its tag names."""
    seen: dict[str, dict] = {}
    per_topic: dict[str, set[str]] = {}
    for topic, objects, _ in group.topics:
        for obj in objects:
            for fld, value in payload_values(obj, shape).items():
                tag = tag_of(topic, fld)
                per_topic.setdefault(topic, set()).add(tag)
                entry = seen.setdefault(tag, {"values": [], "units": Counter()})
                entry["values"].append(value)
                if shape.unit and obj.get(shape.unit):
                    entry["units"][str(obj[shape.unit])] += 1
    return seen, per_topic


def _match_of(shape: PayloadShape, topic: str) -> dict[str, Any]:
    """The `mqtt:` block of a rule: only what differs from the defaults."""
    match: dict[str, Any] = {"topic": topic}
    if shape.value is None:
        match["fields"] = "all"
    elif shape.value != "value":
        match["value"] = shape.value
    if shape.timestamp != "timestamp":
        match["timestamp"] = shape.timestamp
    if shape.timestamp_format != "iso":
        match["timestamp_format"] = shape.timestamp_format
    if shape.quality:
        match["quality"] = shape.quality
    if shape.unit:
        match["unit"] = shape.unit
    return match


def _levels_regex(n: int) -> str:
    """A placeholder regex for exactly n topic levels (rules of other depths stay apart)."""
    return "/".join(["[^/]+"] * n)


def _uns_rule(
    draft: Draft,
    group: _TopicGroup,
    *,
    site: str | None,
    enterprise: str | None,
    enterprise_values: Counter,
) -> DraftRule | None:
    """One rule for a group of topics of the same depth and payload shape (None: no equipment
    level). Hierarchy levels become placeholders that pick the equipment by its attributes."""
    shape = _shape_of_group(group)
    split = [t.split("/") for t, _, _ in group.topics]
    n = group.levels

    def column(i: int) -> list[str]:
        return [s[i] for s in split]

    def constant(i: int) -> bool:
        return len(set(column(i))) == 1

    parts: list[str] = []
    placeholder: dict[int, str] = {}  # level -> placeholder name
    role_of: dict[int, str] = {}  # level -> hierarchy role it names (site, area, line, cell)

    def level(i: int, role: str | None, name: str | None = None) -> None:
        """Level i of the template: a placeholder for a hierarchy level or a named one, else
        the literal text when every topic has the same, else a placeholder of no meaning."""
        if role == "enterprise":
            enterprise_values.update(column(i))
        if name is None and role in (None, "enterprise") and constant(i):
            parts.append(split[0][i])
            return
        name = name or role or f"level{i}"
        parts.append(f"{{{name}}}")
        placeholder[i] = name
        if role in ("site", "area", "line", "cell"):
            role_of[i] = role

    if group.umh_schema is not None:
        s = group.umh_schema
        named = dict(zip(range(2, s), UMH_LEVELS, strict=False))
        below = [i for i, r in named.items() if r in ("site", "area", "line", "workcell")]
        if not below:
            return None
        eq_index = max(below)
        for i in range(s + 1):
            role = named.get(i)
            if role == "workcell":
                level(i, None, "equipment")
            elif role == "origin":
                level(i, None, "origin")
            else:  # enterprise … line by name; umh, v1, the schema and extra levels as folders
                level(i, role)
        after = list(range(s + 1, n))
        why = "UMH topic level"
    else:
        eq_index = n - 2 if group.by_value else n - 1
        if eq_index < 0:
            return None
        roles = assign_levels([column(i) for i in range(eq_index)])
        if enterprise:
            roles = [
                r if r != "enterprise" or set(column(i)) == {enterprise} else None
                for i, r in enumerate(roles)
            ]
        for i in range(eq_index):
            level(i, roles[i])
        level(eq_index, None, "equipment")
        after = list(range(eq_index + 1, n))
        why = "topic level"
    # after the equipment: the tag (value payloads) or tag groups (a value per field)
    tag_template = None
    if group.by_value:
        if not after:
            return None
        parts.append("{tag}" if len(after) == 1 else f"{{tag:{_levels_regex(len(after))}}}")
    elif after:
        parts.append(
            "{tag_group}" if len(after) == 1 else f"{{tag_group:{_levels_regex(len(after))}}}"
        )
        tag_template = "{tag_group}/{field}"

    def tag_of(topic: str, fld: str | None) -> str:
        rest = "/".join(topic.split("/")[after[0] :]) if after else ""
        if fld is None:
            return rest
        return f"{rest}/{fld}" if rest else fld

    topic_template = "/".join(parts)
    selector = {
        role: f"{{{placeholder[i]}}}"
        for i, role in role_of.items()
        if not (site and role == "site")
    }
    selector["name"] = f"{{{placeholder[eq_index]}}}"
    seen, per_topic = _json_values(group, shape, tag_of)
    tags = []
    for tag, info in sorted(seen.items()):
        unit = info["units"].most_common(1)[0][0] if info["units"] else None
        kind = value_kind("", info["values"])
        tags.append(
            guess_role(tag, kind, values=info["values"], unit=unit, type_label=f"JSON {kind}")
        )
    by_name = {t.name: t for t in tags}
    bad_names = set()
    hier = sorted(role_of)
    for (topic, _, _), s in zip(group.topics, split, strict=True):
        eq = _place(
            [s[i] for i in hier], [role_of[i] for i in hier], s[eq_index], site=site, why=why
        )
        eq.roles = _roles_of(by_name[t] for t in per_topic.get(topic, ()))
        if eq.name != s[eq_index] or any(not name_ok(s[i]) for i in hier):
            bad_names.add("/".join(s[: eq_index + 1]))
        if eq.roles:  # only text or flags: no equipment (silver reports the topic unmapped)
            draft.add_equipment(eq)
    notes = [
        f"{len(group.topics)} topics, "
        + (f"payload {{{shape.value!r}: …}}" if shape.value else "a value per payload field")
        + (f", timestamp {shape.timestamp!r} ({shape.timestamp_format})" if shape.timestamp else "")
    ]
    if group.umh_schema is not None:
        notes.append("guess: UMH v1 levels: the workCell is the equipment; originID is not used")
    if shape.note:
        notes.append(f"TODO: {shape.note}")
    if bad_names:
        notes.append(
            "TODO: topic levels that are not valid names do not match the declared equipment: "
            + ", ".join(sorted(bad_names)[:3])
        )
    nested = sorted(
        {
            k
            for _, objs, _ in group.topics
            for o in objs
            for k, v in o.items()
            if isinstance(v, dict | list)
        }
    )
    if nested:
        notes.append(
            f"TODO: fields {', '.join(nested)} hold objects or lists: silver reads them as text; flatten at the source"
        )
    return DraftRule(
        topic_template,
        "mqtt",
        _match_of(shape, topic_template),
        selector,
        tags,
        tag=tag_template,
        notes=notes,
    )


def _sparkplug_rules(draft: Draft, capture: MqttCapture, site: str | None) -> list[DraftRule]:
    """One rule per device (or edge node) with metrics in a birth or named data."""
    rules = []
    uns = list(draft.equipment)  # what the UNS topics declared
    for (group, edge, device), metrics in sorted(
        capture.sparkplug.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
    ):
        if _has_braces(group, edge, device or ""):
            draft.unmapped.append(
                f"spBv1.0/{group}/…/{edge}/{device or ''}: braces in an id cannot be templated"
            )
            continue
        # the usual layout: group = site, edge node = line, device = machine; an edge node's own
        # metrics belong to an equipment named after it (a line's energy meter, a gateway)
        levels, name = [group, edge], device or edge
        if all(level_hint([x]) is None for x in levels):
            roles: list[str | None] = ["site", "line"]
        else:
            roles = assign_levels([[x] for x in levels], roles=HIERARCHY[1:])
        eq = _place(levels, roles, name, site=site, why="Sparkplug ids")
        tags = [
            guess_role(
                metric, value_kind(seen.datatype), values=seen.values, type_label=seen.datatype
            )
            for metric, seen in sorted(metrics.items())
        ]
        eq.roles = _roles_of(tags)
        if not eq.roles:
            draft.unmapped.append(f"{group}/{edge}/{device or '-'}: no metric with a role")
            continue
        born = (group, edge, device) in capture.births
        notes = [
            f"{'device' if device else 'edge node'} metrics from {'a birth' if born else 'named data'}"
        ]
        # the same machine in the UNS: one equipment of this site with this name
        same = [e for e in uns if (e.site, e.name) == (eq.site, eq.name)]
        if len(same) == 1:
            same[0].roles |= eq.roles
            eq = same[0]
            notes.append("guess: the same equipment as the UNS topics of this site and name")
        else:
            in_line = next((e for e in uns if (e.site, e.line) == (eq.site, eq.line)), None)
            if in_line is not None and "area" not in roles:
                eq.area, eq.notes["area"] = in_line.area, "guess: the area of this line in the UNS"
        eq = draft.add_equipment(eq)
        match: dict[str, Any] = {"group": group, "edge_node": edge}
        if device is not None:
            match["device"] = device
        match["metric"] = "{tag}"
        rules.append(
            DraftRule(f"{group}/{edge}/{device or '-'}", "sparkplug", match, eq, tags, notes=notes)
        )  # type: ignore[arg-type]
    for group, edge, device in sorted(
        capture.sparkplug_without_birth - set(capture.sparkplug), key=str
    ):
        draft.unmapped.append(
            f"spBv1.0/{group}/…/{edge}{'/' + device if device else ''}: data without a birth while "
            "listening: run discover again with --rebirth, or longer"
        )
    return rules


def draft_from_mqtt(
    capture: MqttCapture,
    *,
    enterprise: str | None = None,
    site: str | None = None,
    timezone: str | None = None,
    command: str = "",
) -> Draft:
    """A draft model from what a broker carried: UNS JSON topics grouped into topic templates
    (same depth and payload shape; UMH v1 levels recognised), and one rule per Sparkplug B
    device (or edge node) from its births."""
    draft = _new_draft(
        command or f"plantlake model discover mqtt {capture.broker}", enterprise, timezone
    )
    draft.seconds = capture.seconds
    draft.addresses = len(capture.topics) + sum(len(m) for m in capture.sparkplug.values())
    groups: dict[tuple, _TopicGroup] = {}
    for topic, seen in sorted(capture.topics.items()):
        objects = seen.json_objects()
        shape = payload_shape(objects)
        levels = topic.split("/")
        if shape is None:
            example = seen.payloads[0][:40] if seen.payloads else b""
            draft.unmapped.append(f"{topic}: payload is not a JSON object ({example!r})")
            continue
        if any(not lv for lv in levels) or _has_braces(topic):
            draft.unmapped.append(f"{topic}: an empty level or braces in the topic")
            continue
        schema = None
        if len(levels) > 3 and levels[0] == "umh" and levels[1] == "v1":
            schema = next((i for i in range(3, len(levels)) if levels[i].startswith("_")), None)
        key = (len(levels), schema, levels[schema] if schema else None, shape.value is not None)
        group = groups.setdefault(key, _TopicGroup(len(levels), schema, shape.value is not None))
        group.topics.append((topic, objects, shape))
    enterprise_values: Counter = Counter()
    rules: list[DraftRule] = []
    for group in groups.values():
        rule = _uns_rule(
            draft, group, site=site, enterprise=enterprise, enterprise_values=enterprise_values
        )
        if rule is None:
            draft.unmapped.extend(
                f"{t}: no topic level for the equipment" for t, _, _ in group.topics
            )
            continue
        clash = next((r for r in rules if r.match["topic"] == rule.match["topic"]), None)
        if clash is not None:
            rule.notes.append(
                f"TODO: the same topic template as {clash.name!r} with another payload: only the first matches"
            )
        rules.append(rule)
    rules.extend(_sparkplug_rules(draft, capture, site))
    _finish(draft, rules, enterprise_values)
    draft.notes.append(
        f"{capture.messages} messages in {capture.seconds:.1f} s from {capture.broker}: "
        f"{len(capture.topics)} JSON topics, {len(capture.sparkplug)} Sparkplug B nodes/devices; "
        "tags not seen while listening are not listed (listen longer to see rare ones)"
    )
    return draft


# -- rendering --------------------------------------------------------------------------------
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _y(value: Any) -> str:
    """A YAML flow scalar, mapping or list; strings quoted unless plainly safe."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_y(k)}: {_y(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_y(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _comment(note: str) -> str:
    note = " ".join(note.split())
    return f"  # {note}" if note else ""


def render_draft(draft: Draft) -> str:
    """The draft as plant model YAML with `# guess:` and `# TODO:` comments."""
    out: list[str] = [
        "# plantlake plant model: DRAFT",
        f"# made by `{draft.command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "# Lines marked `# guess:` were guessed from names and data types: confirm or correct them.",
        "# `# TODO:` marks what the source cannot tell. The file is valid as it is; check it against",
        "# the live source with `plantlake model check FILE --opcua …|--mqtt …`.",
        *[f"# {n}" for n in draft.notes],
        "plant_model: 1",
        f"enterprise: {_y(draft.enterprise)}{_comment(draft.enterprise_note)}",
        "sites:",
    ]

    def tree(items: list[DraftEquipment], level: int) -> dict[str, list[DraftEquipment]]:
        grouped: dict[str, list[DraftEquipment]] = {}
        for e in items:
            grouped.setdefault(e.key[level], []).append(e)
        return grouped

    def note(items: list[DraftEquipment], level: str) -> str:
        return next((e.notes[level] for e in items if e.notes.get(level)), "")

    for site, in_site in tree(draft.equipment, 0).items():
        out.append(f"  - name: {_y(site)}{_comment(note(in_site, 'site'))}")
        out.append(f"    timezone: {_y(draft.timezone)}{_comment(draft.timezone_note)}")
        out.append("    # TODO: the shift calendar makes the planned time of OEE, e.g.")
        out.append("    # calendar:")
        out.append(
            '    #   shifts: [{name: early, start: "06:00", hours: 8}, {name: late, start: "14:00", hours: 8}]'
        )
        out.append("    #   workdays: [mon, tue, wed, thu, fri]")
        out.append("    areas:")
        for area, in_area in tree(in_site, 1).items():
            out.append(f"      - name: {_y(area)}{_comment(note(in_area, 'area'))}")
            out.append("        lines:")
            for line, in_line in tree(in_area, 2).items():
                out.append(f"          - name: {_y(line)}{_comment(note(in_line, 'line'))}")
                out.append("            cells:")
                for cell, in_cell in tree(in_line, 3).items():
                    out.append(f"              - name: {_y(cell)}{_comment(note(in_cell, 'cell'))}")
                    out.append("                equipment:")
                    for e in in_cell:
                        out.append(
                            f"                  - name: {_y(e.name)}{_comment(e.notes.get('name', ''))}"
                        )
                        out.append(f"                    kind: {_y(e.kind)}{_comment(e.kind_note)}")
                        if e.makes_parts:
                            out.append(
                                "                    # TODO: ideal_cycle_s: planned seconds per part (OEE performance)"
                            )
    if not draft.equipment:
        out[-1] = "sites: []"
    out.append("signals:" if draft.rules else "signals: []")
    for rule in draft.rules:
        roles = [t for t in rule.tags if t.role]
        for n in rule.notes:
            out.append(f"  # {' '.join(n.split())}")
        if not roles:
            out.append(f"  # rule {rule.name!r} left out: no tag with a role")
            out.extend(f"  # {t.note}" for t in rule.tags)
            continue
        out.append(f"  - name: {_y(rule.name)}")
        key = "mqtt" if rule.source == "mqtt" else rule.source
        out.append(f"    {key}: {_y(rule.match)}")
        out.append(f"    equipment: {_y(rule.equipment)}")
        if rule.tag:
            out.append(f"    tag: {_y(rule.tag)}")
        out.append("    tags:")
        for t in rule.tags:
            if t.role:
                out.append(f"      {_y(t.name)}: {_y(t.role)}{_comment(t.note)}")
            else:
                out.append(f"      # {' '.join(t.note.split())}")
    if draft.unmapped:
        out.append("# Seen but not mapped by this draft:")
        out.extend(f"#   {' '.join(u.split())}" for u in draft.unmapped)
    return "\n".join(out) + "\n"
