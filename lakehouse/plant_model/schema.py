"""The plant model file: ISA-95 hierarchy, site calendars and the signal rules, validated.

A plant engineer writes it in YAML (`docs/connect-your-plant.md`); `load_plant_model` reads it
and stops with `PlantModelError` naming the key and the expected form.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lakehouse.plant_model.roles import ROLES, STATE_MAPS, Role
from lakehouse.plant_model.templates import Template, TemplateError

Name = Annotated[
    str,
    Field(
        min_length=1,
        pattern=r"^[^.\s/][^./]*$",
        description="a name without '.' or '/' (it becomes part of the equipment id)",
    ),
]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock_text(value: object) -> object:
    # YAML 1.1 reads an unquoted 14:00 as the number 840 (base 60): ask for quotes
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError('write times in quotes, e.g. "14:00" (unquoted, YAML reads 14:00 as 840)')
    return value


def _local_time(value: object) -> object:
    if isinstance(value, datetime) and value.tzinfo is not None:
        raise ValueError("give the site's local time without an offset (the site has a time zone)")
    if isinstance(value, str) and re.search(r"(Z|[+-]\d\d:?\d\d)$", value.strip()):
        raise ValueError("give the site's local time without an offset (the site has a time zone)")
    return value


ClockTime = Annotated[time, BeforeValidator(_clock_text)]
LocalDateTime = Annotated[datetime, BeforeValidator(_local_time)]


def _json_field_name(value: str | None) -> str | None:
    if value is not None and ("'" in value or not value):
        raise ValueError("a JSON field name must be non-empty and without a ' (quote)")
    return value


JsonField = Annotated[str | None, AfterValidator(_json_field_name)]


class PlantModelError(ValueError):
    """The plant model file cannot be used; the message names the key and the expected form."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- hierarchy ------------------------------------------------------------------------------
class Equipment(_Strict):
    name: Name
    kind: str = Field("machine", description="equipment kind (press, cnc_mill, energy_meter, …)")
    ideal_cycle_s: float | None = Field(
        None, gt=0, description="planned run time per unit (s) when no product says otherwise"
    )
    ideal_cycle_s_by_product: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="product id -> planned run time per unit (s)"
    )
    description: str = ""


class Cell(_Strict):
    name: Name
    equipment: list[Equipment] = Field(min_length=1)


class Line(_Strict):
    name: Name
    cells: list[Cell] = Field(default_factory=list)


class Area(_Strict):
    name: Name
    lines: list[Line] = Field(default_factory=list)


# -- calendar -------------------------------------------------------------------------------
class ShiftSpec(_Strict):
    name: Name
    start: ClockTime = Field(description="local wall-clock start, HH:MM")
    end: ClockTime | None = Field(None, description="local wall-clock end, HH:MM (or give hours)")
    hours: float | None = Field(None, gt=0, le=24, description="length in hours (or give end)")
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = Field(
        None, description="weekdays the shift is worked on (default: the calendar's workdays)"
    )

    @model_validator(mode="after")
    def _one_length(self) -> ShiftSpec:
        if (self.end is None) == (self.hours is None):
            raise ValueError("give exactly one of end (HH:MM) or hours")
        return self

    @property
    def minutes(self) -> float:
        if self.hours is not None:
            return self.hours * 60
        s = self.start.hour * 60 + self.start.minute
        e = self.end.hour * 60 + self.end.minute  # type: ignore[union-attr]
        return (e - s) % (24 * 60) or 24 * 60


class BreakSpec(_Strict):
    name: str = "break"
    start: ClockTime = Field(description="local wall-clock start, HH:MM")
    minutes: float = Field(gt=0, description="length in minutes")
    shifts: list[str] | None = Field(
        None, description="shift names it belongs to (default: every shift that contains it)"
    )


class MaintenanceWindow(_Strict):
    name: str = "planned_maintenance"
    start: LocalDateTime = Field(description="local date and time, YYYY-MM-DDTHH:MM")
    end: LocalDateTime = Field(description="local date and time, YYYY-MM-DDTHH:MM")
    equipment: list[str] | None = Field(
        None, description="equipment names or ids it stops (default: the whole site)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Calendar(_Strict):
    shifts: list[ShiftSpec] = Field(min_length=1)
    workdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"]
    )
    breaks: list[BreakSpec] = Field(default_factory=list)
    holidays: list[date] = Field(default_factory=list)
    planned_maintenance: list[MaintenanceWindow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_shifts(self) -> Calendar:
        names = {s.name for s in self.shifts}
        for b in self.breaks:
            unknown = sorted(set(b.shifts or ()) - names)
            if unknown:
                raise ValueError(f"break {b.name!r} names unknown shifts {unknown}")
        return self


class Site(_Strict):
    name: Name
    timezone: str = Field(description="IANA time zone, e.g. Europe/Berlin")
    calendar: Calendar | None = None
    areas: list[Area] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone name such as Europe/Berlin") from None
        return value


# -- signals --------------------------------------------------------------------------------
class OpcUaMatch(_Strict):
    """An OPC UA address: a node id template (`nsu=<namespace URI>;s=…`) or a browse path."""

    node: Template | None = Field(
        None,
        description="node id template with the namespace by URI: nsu=urn:…;s={equipment}.{tag}",
    )
    browse_path: Template | None = Field(
        None,
        description="browse path template below the connector's root: Line 1/{equipment}/{tag}",
    )
    endpoint: str | None = Field(None, description="only values from this endpoint URL")

    @model_validator(mode="after")
    def _one(self) -> OpcUaMatch:
        if (self.node is None) == (self.browse_path is None):
            raise ValueError("give exactly one of node or browse_path")
        if self.node is not None and self.node.text.startswith("ns="):
            raise ValueError(
                "name the namespace by URI (nsu=urn:…;s=…), not by index: indexes change between servers"
            )
        return self


class MqttMatch(_Strict):
    """A JSON MQTT topic and how its payload carries values."""

    topic: Template = Field(description="topic template, e.g. umh/v1/{enterprise}/{site}/…/{tag}")
    value: JsonField = Field(
        "value", description="JSON field holding the value (null: every other field is a tag)"
    )
    fields: Literal["all"] | None = Field(
        None, description="'all': every field but timestamp/quality/unit is a tag named by it"
    )
    timestamp: JsonField = Field("timestamp", description="JSON field holding the time")
    timestamp_format: Literal["iso", "epoch_s", "epoch_ms"] = "iso"
    quality: JsonField = Field(None, description="JSON field holding good/uncertain/bad")
    unit: JsonField = Field(None, description="JSON field holding the unit")

    @model_validator(mode="after")
    def _mode(self) -> MqttMatch:
        if self.fields == "all":
            object.__setattr__(self, "value", None)
        elif self.value is None:
            raise ValueError("give value (the JSON field) or fields: all")
        return self


class SparkplugMatch(_Strict):
    """A Sparkplug B metric by group, edge node, device (null: node metrics) and metric name."""

    group: Template = Field(description="group id template")
    edge_node: Template = Field(description="edge node id template")
    device: Template | None = Field(
        None, description="device id template; leave out for the node's own metrics"
    )
    metric: Template = Field(Template("{tag}"), description="metric name template")


class TagRole(_Strict):
    """What one tag means: its role, and for states the value map, for analogs the unit."""

    role: Role
    name: str | None = Field(
        None, description="silver tag name (analog only; default: the source's tag name)"
    )
    values: str | dict[str, str] | None = Field(
        None,
        description=f"state value map: {', '.join(STATE_MAPS)} or a mapping value -> state",
    )
    unit: str | None = Field(None, description="unit stored in silver (analog, power)")
    source_unit: str | None = Field(None, description="unit the source sends, converted to unit")
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _values(self) -> TagRole:
        if self.role == "state":
            if self.values is None:
                raise ValueError("a state needs values: a map name or a mapping value -> state")
            if isinstance(self.values, str) and self.values not in STATE_MAPS:
                raise ValueError(
                    f"unknown value map {self.values!r}; known: {', '.join(STATE_MAPS)}"
                )
            if isinstance(self.values, dict):
                bad = sorted(set(self.values.values()) - set(ROLES["state"].vocabulary))
                if bad:
                    raise ValueError(
                        f"states {bad} are not in {', '.join(ROLES['state'].vocabulary)}"
                    )
        elif self.values is not None:
            raise ValueError("values (a value map) only applies to role state")
        if self.name is not None and ROLES[self.role].silver_tag is not None:
            raise ValueError(f"role {self.role} is always stored as {ROLES[self.role].silver_tag}")
        return self

    @field_validator("values", mode="before")
    @classmethod
    def _keys_as_text(cls, value: object) -> object:
        if isinstance(value, dict):
            return {value_key(k): v for k, v in value.items()}
        return value

    def value_map(self) -> dict[str, str]:
        if self.values is None:
            return {}
        if isinstance(self.values, str):
            return dict(STATE_MAPS[self.values])
        return dict(self.values)


def value_key(value: object) -> str:
    """A value as the map looks it up: booleans lower case, whole numbers without '.0'."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return text.lower()
    if re.fullmatch(r"-?\d+\.0+", text):
        return text.split(".")[0]
    return text


EquipmentSelector = (
    Template
    | dict[
        Literal["equipment_id", "enterprise", "site", "area", "line", "cell", "name", "kind"],
        Template,
    ]
)


class SignalRule(_Strict):
    """Source addresses → equipment and tags with a role. The first rule that matches wins."""

    name: str | None = Field(None, description="shown in `plantlake model check` and unmapped")
    opcua: OpcUaMatch | None = None
    mqtt: MqttMatch | None = None
    sparkplug: SparkplugMatch | None = None
    equipment: EquipmentSelector = Field(
        description="equipment id template, or a mapping of equipment attributes (site, line, "
        "cell, name, kind, …) to templates that picks exactly one equipment"
    )
    tag: Template | None = Field(
        None, description="tag name template (default {tag}; {field} for payload fields)"
    )
    tags: dict[str, TagRole] = Field(
        min_length=1,
        description="tag name or glob (*, ?) -> role or {role, values, unit, …}; first match wins",
    )

    @model_validator(mode="after")
    def _one_source(self) -> SignalRule:
        given = [s for s in ("opcua", "mqtt", "sparkplug") if getattr(self, s) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of opcua, mqtt or sparkplug")
        names = set(self.match_template_names())
        if self.mqtt is not None and self.mqtt.fields == "all":
            names.add("field")
        for template in self.templates_used():
            missing = sorted(set(template.names) - names)
            if missing:
                raise ValueError(
                    f"{template.text!r} uses {{{'}, {'.join(missing)}}} which the address "
                    f"template does not capture (it captures {sorted(names) or 'nothing'})"
                )
        return self

    @field_validator("tags", mode="before")
    @classmethod
    def _roles(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k): ({"role": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value

    @property
    def source(self) -> Literal["opcua", "uns", "sparkplug"]:
        return "opcua" if self.opcua else "uns" if self.mqtt else "sparkplug"

    @property
    def label(self) -> str:
        return self.name or self.address_text()

    def address_text(self) -> str:
        if self.opcua:
            return (self.opcua.node or self.opcua.browse_path).text  # type: ignore[union-attr]
        if self.mqtt:
            return self.mqtt.topic.text
        sp = self.sparkplug
        parts = [sp.group.text, sp.edge_node.text, sp.device.text if sp.device else "-"]  # type: ignore[union-attr]
        return "/".join([*parts, sp.metric.text])  # type: ignore[union-attr]

    def match_template_names(self) -> list[str]:
        if self.opcua:
            return list((self.opcua.node or self.opcua.browse_path).names)  # type: ignore[union-attr]
        if self.mqtt:
            return list(self.mqtt.topic.names)
        sp = self.sparkplug
        names = [*sp.group.names, *sp.edge_node.names, *sp.metric.names]  # type: ignore[union-attr]
        return names + (list(sp.device.names) if sp.device else [])  # type: ignore[union-attr]

    def tag_template(self) -> Template:
        if self.tag is not None:
            return self.tag
        if self.mqtt and self.mqtt.fields == "all":
            return Template("{field}")
        return Template("{tag}")

    def selector(self) -> dict[str, Template]:
        if isinstance(self.equipment, Template):
            return {"equipment_id": self.equipment}
        return dict(self.equipment)

    def templates_used(self) -> list[Template]:
        return [self.tag_template(), *self.selector().values()]


# -- the model ------------------------------------------------------------------------------
class PlantModel(_Strict):
    plant_model: Literal[1] = Field(1, description="format version of this file")
    enterprise: Name
    sites: list[Site] = Field(default_factory=list)
    signals: list[SignalRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> PlantModel:
        ids = [e.equipment_id for e in self.equipment()]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"equipment declared twice: {dup}")
        sites = [s.name for s in self.sites]
        if len(set(sites)) != len(sites):
            raise ValueError("site names must be unique")
        for site in self.sites:
            known = {
                n
                for e in self.equipment()
                if e.site.name == site.name
                for n in (e.spec.name, e.equipment_id)
            }
            for w in site.calendar.planned_maintenance if site.calendar else []:
                unknown = sorted(set(w.equipment or ()) - known)
                if unknown:
                    raise ValueError(
                        f"site {site.name}: planned maintenance {w.name!r} names equipment "
                        f"{unknown} that the site does not declare"
                    )
        return self

    def equipment(self) -> list[DeclaredEquipment]:
        out = []
        for s in self.sites:
            for a in s.areas:
                for ln in a.lines:
                    for c in ln.cells:
                        for e in c.equipment:
                            out.append(
                                DeclaredEquipment(self.enterprise, s, a.name, ln.name, c.name, e)
                            )
        return out


class DeclaredEquipment:
    """One equipment of the model with its place in the hierarchy."""

    def __init__(
        self, enterprise: str, site: Site, area: str, line: str, cell: str, spec: Equipment
    ):
        self.enterprise, self.site, self.area, self.line, self.cell = (
            enterprise,
            site,
            area,
            line,
            cell,
        )
        self.spec = spec

    def attributes(self) -> dict[str, str]:
        """The attributes a rule's equipment selector may name, by name."""
        return {
            "equipment_id": self.equipment_id,
            "enterprise": self.enterprise,
            "site": self.site.name,
            "area": self.area,
            "line": self.line,
            "cell": self.cell,
            "name": self.spec.name,
            "kind": self.spec.kind,
        }

    @property
    def equipment_id(self) -> str:
        return ".".join(
            (self.enterprise, self.site.name, self.area, self.line, self.cell, self.spec.name)
        )


def _where(loc: tuple, data: object) -> str:
    """`sites[0].areas[1].name` with the names of list items where they have one."""
    out, node = [], data
    for part in loc:
        if isinstance(part, int):
            name = (
                node[part].get("name")
                if isinstance(node, list) and part < len(node) and isinstance(node[part], dict)
                else None
            )
            out.append(f"[{part}]" + (f"({name})" if name else ""))
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            out.append(("." if out else "") + str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(out)


def parse_plant_model(data: object, *, origin: str = "plant model") -> PlantModel:
    """A PlantModel from parsed YAML; PlantModelError lists every problem with its key."""
    if not isinstance(data, dict):
        raise PlantModelError(f"{origin}: expected a mapping with enterprise, sites and signals")
    try:
        return PlantModel.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(
                p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            # pydantic names union members in the path (str, TagRole, …): they say nothing to a reader
            loc = tuple(
                p
                for p in loc
                if not (isinstance(p, str) and (p[:1].isupper() or p in ("str", "dict[str,str]")))
            )
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(
                f"{origin}: {_where(loc, data) or '(top level)'}: {msg} (got {err.get('input')!r:.80})"
            )
        raise PlantModelError("\n".join(dict.fromkeys(lines))) from None
    except TemplateError as exc:
        raise PlantModelError(f"{origin}: {exc}") from None


def load_plant_model(path: str | Path) -> PlantModel:
    """Read and validate a plant model YAML file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlantModelError(f"plant model file {p} does not exist") from None
    except yaml.YAMLError as exc:
        raise PlantModelError(f"{p}: not valid YAML: {exc}") from None
    return parse_plant_model(data, origin=str(p))
