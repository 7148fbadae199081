"""Check a plant model against live addresses: what each rule matches, what no rule matches.

Matching reads the same address forms as silver (`transforms/silver/signals.py`): OPC UA by
`nsu=<namespace URI>;<identifier>` or by browse path below the root, UNS by topic, Sparkplug B
by group, edge node, device and metric, each template compiled by `Template.match`. The first
rule of a source that matches an address takes it, as in silver.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ingestion.discover.draft import value_kind
from ingestion.discover.mqtt import MqttCapture, PayloadShape, is_number, payload_values
from ingestion.discover.opcua import OpcUaScan, OpcUaVariable
from lakehouse.plant_model.roles import ROLES
from lakehouse.plant_model.schema import PlantModel, SignalRule, TagRole, value_key
from lakehouse.plant_model.templates import ANY, BROWSE_NAME, SEGMENT, glob_regex

NUMERIC_ROLES = {"counter_total", "counter_good", "counter_scrap", "counter_rework", "energy_counter", "power", "analog"}  # fmt: skip
SOURCES = {"opcua": "OPC UA", "uns": "MQTT (UNS JSON)", "sparkplug": "Sparkplug B"}


@dataclass
class RuleReport:
    """What one rule matched among the live addresses."""

    index: int
    label: str
    source: str  # opcua, uns, sparkplug
    checked: bool  # False: no addresses of its source were collected
    addresses: int = 0  # addresses this rule takes (the first matching rule takes an address)
    shadowed: int = 0  # addresses it matches that an earlier rule takes
    values: int = 0
    equipment: Counter = field(default_factory=Counter)
    tags: Counter = field(default_factory=Counter)  # tag -> role ('' when no glob matches)
    problems: dict[str, None] = field(default_factory=dict)  # ordered set of messages

    def problem(self, text: str) -> None:
        self.problems[text] = None

    @property
    def tags_without_role(self) -> list[str]:
        return sorted(t for t, role in self.tags.items() if role == "")

    @property
    def matches_nothing(self) -> bool:
        return self.checked and self.addresses == 0


@dataclass
class CheckReport:
    rules: list[RuleReport]
    unmatched: dict[str, list[str]]  # source -> addresses no rule matches
    collected: dict[str, int]  # source -> addresses collected

    @property
    def ok(self) -> bool:
        return not any(r.matches_nothing for r in self.rules)


# -- addresses ---------------------------------------------------------------------------------
@dataclass
class _Value:
    tag_fields: dict[str, str]  # extra template values (the JSON field of a fields: all rule)
    values: list[Any]
    kind: str


class _Equipment:
    """The model's declared equipment, looked up as silver does (by id, or by attributes)."""

    def __init__(self, model: PlantModel):
        self.rows = [e.attributes() for e in model.equipment()]

    def resolve(self, rule: SignalRule, captured: dict[str, str]) -> tuple[str, str | None]:
        """(what the rule names, a problem or None)."""
        wanted = {k: t.render(captured) for k, t in rule.selector().items()}
        hits = [r for r in self.rows if all(r[k] == v for k, v in wanted.items())]
        shown = wanted["equipment_id"] if list(wanted) == ["equipment_id"] else json.dumps(wanted)
        if len(hits) == 1:
            return hits[0]["equipment_id"], None
        if not hits:
            return (
                shown,
                f"equipment {shown} is not declared in the model (unless the MES declares it)",
            )
        return (
            shown,
            f"equipment {shown} picks {len(hits)} declared equipment: add levels to pick one",
        )


def _opcua_match(rule: SignalRule, v: OpcUaVariable, endpoint: str) -> dict[str, str] | None:
    op = rule.opcua
    if op is None or (op.endpoint and op.endpoint != endpoint):
        return None
    if op.node is not None:
        return op.node.match(v.node, ANY)
    return op.browse_path.match(v.browse_path, BROWSE_NAME)  # type: ignore[union-attr]


def _sparkplug_match(
    rule: SignalRule, key: tuple[str, str, str | None], metric: str
) -> dict[str, str] | None:
    """Part by part: silver joins the parts with a separator no id contains and reads each part
    with `[^SEP]+`, which on one part is `.+` (ANY); a rule without a device takes node metrics."""
    sp = rule.sparkplug
    if sp is None or (sp.device is None) != (key[2] is None):
        return None
    out: dict[str, str] = {}
    parts = [(sp.group, key[0]), (sp.edge_node, key[1]), (sp.metric, metric)]
    if sp.device is not None:
        parts.append((sp.device, key[2] or ""))
    for template, text in parts:
        m = template.match(text, ANY)
        if m is None:
            return None
        out = {**m, **out}  # the first part that captures a name gives it (as silver's index())
    return out


def _shape(rule: SignalRule) -> PayloadShape:
    m = rule.mqtt
    assert m is not None
    return PayloadShape(m.value, m.timestamp, m.timestamp_format, m.quality, m.unit)


def _timestamp_problem(rule: SignalRule, objects: list[dict]) -> str | None:
    m = rule.mqtt
    assert m is not None
    if m.timestamp is None or not objects:
        return None
    raw = [o.get(m.timestamp) for o in objects]
    if all(r is None for r in raw):
        return (
            f"payloads have no field {m.timestamp!r} (timestamp): silver cannot place them in time"
        )
    numeric = [is_number(r) and not isinstance(r, str) for r in raw if r is not None]
    if m.timestamp_format == "iso" and any(numeric):
        return f"timestamp {m.timestamp!r} is a number: set timestamp_format to epoch_s or epoch_ms"
    if m.timestamp_format != "iso" and not all(numeric):
        return f"timestamp {m.timestamp!r} is text, not {m.timestamp_format}"
    return None


def _role_of(rule: SignalRule, tag: str) -> TagRole | None:
    for glob, spec in rule.tags.items():
        if re.match(glob_regex(glob), tag):
            return spec  # type: ignore[return-value]
    return None


def _fit(role: TagRole, tag: str, kind: str, values: list[Any]) -> str | None:
    """Why values of this kind do not fit the role, or None."""
    seen = [v for v in values if v is not None]
    if role.role == "state":
        keys = set(role.value_map())
        missing = sorted({value_key(v) for v in seen} - keys)
        if missing:
            return f"{tag}: state values {', '.join(missing[:6])} are not in its value map"
        return None
    if role.role not in NUMERIC_ROLES:
        return None
    if kind == "bool" and role.role != "analog":
        return f"{tag}: {role.role} on Boolean values"
    if kind in ("string", "other") and not all(is_number(v) for v in seen):
        example = next((v for v in seen if not is_number(v)), "")
        return f"{tag}: {role.role} on text values (e.g. {str(example)[:30]!r})"
    if (
        ROLES[role.role].counter
        and kind in ("int", "float")
        and any(float(v) < 0 for v in seen if is_number(v))
    ):
        return f"{tag}: {role.role} with negative values"
    return None


# -- the check ------------------------------------------------------------------------------
def check_model(
    model: PlantModel,
    *,
    opcua: Iterable[OpcUaScan] = (),
    mqtt: MqttCapture | None = None,
) -> CheckReport:
    """Match every collected address against the model's rules, as silver would."""
    scans = list(opcua)
    reports = [RuleReport(i, r.label, r.source, checked=False) for i, r in enumerate(model.signals)]
    equipment = _Equipment(model)
    collected: dict[str, int] = {}
    unmatched: dict[str, list[str]] = {}
    rules = list(enumerate(model.signals))

    def take(source: str, address: str, match, expand) -> None:
        """Give the address to the first rule that matches; note later ones as shadowed."""
        winner = None
        for i, rule in rules:
            if rule.source != source:
                continue
            captured = match(rule)
            if captured is None:
                continue
            if winner is not None:
                reports[i].shadowed += 1
                continue
            winner = i
            rep = reports[i]
            rep.addresses += 1
            eq, problem = equipment.resolve(rule, captured)
            for value in expand(rule, rep):
                names = {**captured, **value.tag_fields}
                tag = rule.tag_template().render(names)
                role = _role_of(rule, tag)
                rep.values += 1
                rep.equipment[eq] += 1
                rep.tags[tag] = role.role if role else ""
                if problem:
                    rep.problem(problem)
                if role is not None and (why := _fit(role, tag, value.kind, value.values)):
                    rep.problem(why)
        if winner is None:
            unmatched.setdefault(source, []).append(address)

    if scans:
        collected["opcua"] = sum(len(s.variables) for s in scans)
        for scan in scans:
            for v in scan.variables:
                kind = (
                    "int"
                    if v.enum_strings and value_kind(v.data_type) == "other"
                    else value_kind(v.data_type)
                )
                values = [v.value] if v.value is not None else []
                take(
                    "opcua",
                    f"{v.node} @ {v.browse_path}",
                    lambda rule, v=v, scan=scan: _opcua_match(rule, v, scan.endpoint),
                    lambda rule, rep, kind=kind, values=values: [_Value({}, values, kind)],
                )
    if mqtt is not None:
        if "uns" in mqtt.sources:
            collected["uns"] = len(mqtt.topics)
        if "sparkplug" in mqtt.sources:
            collected["sparkplug"] = sum(len(m) for m in mqtt.sparkplug.values())
        for topic, seen in sorted(mqtt.topics.items()):
            objects = seen.json_objects()

            def expand(
                rule: SignalRule, rep: RuleReport, objects=objects, topic=topic
            ) -> list[_Value]:
                if not objects:
                    rep.problem(f"{topic}: payload is not a JSON object")
                    return []
                if why := _timestamp_problem(rule, objects):
                    rep.problem(f"{topic}: {why}")
                by_field: dict[str | None, list] = {}
                for obj in objects:
                    for fld, val in payload_values(obj, _shape(rule)).items():
                        by_field.setdefault(fld, []).append(val)
                if not by_field:
                    rep.problem(f"{topic}: payloads have no field {rule.mqtt.value!r}")  # type: ignore[union-attr]
                return [
                    _Value({"field": f} if f is not None else {}, vals, value_kind("", vals))
                    for f, vals in by_field.items()
                ]

            take(
                "uns",
                topic,
                lambda rule, topic=topic: rule.mqtt.topic.match(topic, SEGMENT),
                expand,
            )  # type: ignore[union-attr]
        for key, metrics in sorted(
            mqtt.sparkplug.items(), key=lambda kv: tuple(x or "" for x in kv[0])
        ):
            for name, seen in sorted(metrics.items()):
                kind, values = value_kind(seen.datatype), list(seen.values)
                take(
                    "sparkplug",
                    "/".join([key[0], key[1], key[2] or "-", name]),
                    lambda rule, key=key, name=name: _sparkplug_match(rule, key, name),
                    lambda rule, rep, kind=kind, values=values: [_Value({}, values, kind)],
                )
    for rep in reports:
        rep.checked = rep.source in collected
        if rep.matches_nothing and rep.source == "sparkplug" and mqtt and not mqtt.births:
            rep.problem("no Sparkplug B birth seen: ask for births (--rebirth) or listen longer")
    return CheckReport(reports, unmatched, collected)


# -- addresses from the lake's bronze tables -------------------------------------------------
def collect_from_lake(lake, samples: int = 20) -> tuple[list[OpcUaScan], MqttCapture | None]:
    """The addresses bronze holds (OPC UA per endpoint, MQTT topics, Sparkplug metrics) with a
    few recent values each, in the forms the live collectors return."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    scans: list[OpcUaScan] = []
    if lake.exists("bronze.opcua_values"):
        rows = (
            lake.read("bronze.opcua_values")
            .groupBy("endpoint", "node_id", "namespace_uri", "browse_path")
            .agg(
                F.max_by("value", "received_at").alias("value"),
                F.max_by("variant_type", "received_at").alias("variant_type"),
            )
            .collect()
        )
        by_endpoint: dict[str, OpcUaScan] = {}
        for r in rows:
            scan = by_endpoint.setdefault(r.endpoint, OpcUaScan(r.endpoint, ["(bronze)"]))
            try:
                value = json.loads(r.value) if r.value is not None else None
            except ValueError:
                value = r.value
            scan.variables.append(
                OpcUaVariable(
                    r.node_id,
                    r.namespace_uri or "",
                    r.browse_path or "",
                    r.variant_type or "",
                    value=value,
                )
            )
        scans = list(by_endpoint.values())
    capture = MqttCapture(broker="bronze", sources=set())
    recent = Window.partitionBy("_k").orderBy(F.col("received_at").desc())
    if lake.exists("bronze.mqtt_messages"):
        capture.sources.add("uns")
        rows = (
            lake.read("bronze.mqtt_messages")
            .withColumn("_k", F.col("topic"))
            .withColumn("_n", F.row_number().over(recent))
            .where(F.col("_n") <= samples)
            .select("topic", "payload")
            .collect()
        )
        for r in rows:
            capture.add(r.topic, bytes(r.payload))
    if lake.exists("bronze.sparkplug_messages"):
        capture.sources.add("sparkplug")
        metric = "struct<name:string,datatype:string,value:string,is_null:boolean>"
        metrics = (
            lake.read("bronze.sparkplug_messages")
            .where(F.col("message_type").isin("NBIRTH", "DBIRTH", "NDATA", "DDATA"))
            .select(
                "group_id",
                "edge_node_id",
                "device_id",
                "received_at",
                F.explode(
                    F.from_json("decoded_json", f"struct<metrics:array<{metric}>>")["metrics"]
                ).alias("m"),
            )
            .where(F.col("m.name").isNotNull())
            .withColumn(
                "_k",
                F.concat_ws(
                    "\x1f", "group_id", "edge_node_id", F.coalesce("device_id", F.lit("")), "m.name"
                ),
            )
            .withColumn("_n", F.row_number().over(recent))
            .where(F.col("_n") <= samples)
            .collect()
        )
        for r in metrics:
            value = None if r.m.is_null else r.m.value
            capture.add_metric(
                (r.group_id, r.edge_node_id, r.device_id), r.m.name, r.m.datatype or "", value
            )
    return scans, capture if capture.sources else None
