"""The plant description (`plant/plant.yaml`): hierarchy, shifts, products, tags."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from lakehouse.contracts.vocabulary import STATES
from plant.kinds import COMMON_TAGS, KIND_TAGS, METER_TAGS, PHYSICS, TagTemplate

DEFAULT_CONFIG = Path(__file__).with_name("plant.yaml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PlantConfigError(ValueError):
    """The plant YAML cannot be used; the message names the key."""


@dataclass(frozen=True)
class TagSpec:
    name: str
    datatype: str  # "Double" | "Int64" | "Boolean" | "String" | "Enum"
    unit: str
    low: float | None
    high: float | None
    description: str
    enum_values: tuple[str, ...] = ()
    sample_s: int = 10  # publishing period of the value; 0: on change


@dataclass(frozen=True)
class EquipmentSpec:
    equipment_id: str
    enterprise: str
    site: str
    area: str
    line: str
    cell: str
    name: str
    kind: str
    timezone: str
    tags: tuple[TagSpec, ...]

    @property
    def path(self) -> tuple[str, ...]:
        return (self.enterprise, self.site, self.area, self.line, self.cell, self.name)

    def topic(self, tag: str) -> str:
        return "/".join((*self.path, tag))


@dataclass(frozen=True)
class ShiftSpec:
    name: str
    start: time
    hours: float


@dataclass(frozen=True)
class SiteSpec:
    name: str
    timezone: str
    weekend: tuple[int, ...]  # weekday numbers, Monday = 0
    shifts: tuple[ShiftSpec, ...]
    break_minutes: int
    maintenance_every_days: int
    maintenance_minutes: int


@dataclass(frozen=True)
class ProductSpec:
    product_id: str
    name: str
    material: str
    ideal_cycle_s: dict[str, float]


@dataclass(frozen=True)
class PlantConfig:
    enterprise: str
    sites: tuple[SiteSpec, ...]
    equipment: tuple[EquipmentSpec, ...]
    products: tuple[ProductSpec, ...]

    def site(self, name: str) -> SiteSpec:
        return next(s for s in self.sites if s.name == name)

    @property
    def lines(self) -> list[tuple[str, str, str]]:
        """(site, area, line) of every line, in declaration order."""
        seen: dict[tuple[str, str, str], None] = {}
        for e in self.equipment:
            seen[(e.site, e.area, e.line)] = None
        return list(seen)

    @property
    def tag_count(self) -> int:
        return sum(len(e.tags) for e in self.equipment)


def _tag(t: TagTemplate) -> TagSpec:
    return TagSpec(
        t.name,
        t.datatype,
        t.unit,
        t.low,
        t.high,
        t.description,
        STATES if t.datatype == "Enum" else (),
        t.sample_s,
    )


def _aux_tags(n: int) -> tuple[TagSpec, ...]:
    return tuple(
        TagSpec(
            f"aux_temperature_{i:02d}",
            "Double",
            "degC",
            -20,
            200,
            f"auxiliary temperature probe {i}",
            (),
            60,
        )
        for i in range(1, n + 1)
    )


def _require(data: dict, key: str, where: str):
    if not isinstance(data, dict) or key not in data:
        raise PlantConfigError(f"{where}.{key} is missing")
    return data[key]


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise PlantConfigError(f"{where}: {value!r} is not a name (lower case letters, digits, _)")
    return value


def parse_plant_config(data: dict) -> PlantConfig:
    """Validate a loaded plant YAML; PlantConfigError names the bad key."""
    enterprise = _name(_require(data, "enterprise", "plant"), "enterprise")
    aux = data.get("aux_channels", 42)
    if not isinstance(aux, int) or aux < 0:
        raise PlantConfigError(f"aux_channels: {aux!r} is not a whole number >= 0")
    sites, equipment = [], []
    for si, site in enumerate(_require(data, "sites", "plant")):
        where = f"sites[{si}]"
        sname = _name(_require(site, "name", where), f"{where}.name")
        tz = _require(site, "timezone", where)
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise PlantConfigError(
                f"{where}.timezone: {tz!r} is not an IANA time zone such as Europe/Berlin"
            ) from None
        weekend = []
        for day in site.get("weekend", []):
            if day not in WEEKDAYS:
                raise PlantConfigError(f"{where}.weekend: {day!r} is not one of {WEEKDAYS}")
            weekend.append(WEEKDAYS.index(day))
        shifts = []
        for hi, shift in enumerate(_require(site, "shifts", where)):
            swhere = f"{where}.shifts[{hi}]"
            start = _require(shift, "start", swhere)
            try:
                start_time = time.fromisoformat(start)
            except (TypeError, ValueError):
                raise PlantConfigError(
                    f"{swhere}.start: {start!r} is not a time such as 06:00"
                ) from None
            hours = _require(shift, "hours", swhere)
            if not isinstance(hours, int | float) or not 0 < hours <= 24:
                raise PlantConfigError(
                    f"{swhere}.hours: {hours!r} is not a number of hours in (0, 24]"
                )
            shifts.append(
                ShiftSpec(
                    _name(_require(shift, "name", swhere), f"{swhere}.name"),
                    start_time,
                    float(hours),
                )
            )
        sites.append(
            SiteSpec(
                sname,
                tz,
                tuple(weekend),
                tuple(shifts),
                int(site.get("break_minutes", 30)),
                int(site.get("maintenance_every_days", 7)),
                int(site.get("maintenance_minutes", 120)),
            )
        )
        for ai, area in enumerate(_require(site, "areas", where)):
            awhere = f"{where}.areas[{ai}]"
            aname = _name(_require(area, "name", awhere), f"{awhere}.name")
            for li, line in enumerate(_require(area, "lines", awhere)):
                lwhere = f"{awhere}.lines[{li}]"
                lname = _name(_require(line, "name", lwhere), f"{lwhere}.name")
                for ei, eq in enumerate(_require(line, "equipment", lwhere)):
                    ewhere = f"{lwhere}.equipment[{ei}]"
                    kind = _require(eq, "kind", ewhere)
                    if kind not in PHYSICS:
                        raise PlantConfigError(
                            f"{ewhere}.kind: {kind!r} is not one of {sorted(PHYSICS)}"
                        )
                    ename = _name(_require(eq, "name", ewhere), f"{ewhere}.name")
                    cell = _name(eq.get("cell", "cell1"), f"{ewhere}.cell")
                    tags = tuple(_tag(t) for t in (*COMMON_TAGS, *KIND_TAGS[kind])) + _aux_tags(aux)
                    equipment.append(
                        EquipmentSpec(
                            f"{enterprise}.{sname}.{aname}.{lname}.{cell}.{ename}",
                            enterprise,
                            sname,
                            aname,
                            lname,
                            cell,
                            ename,
                            kind,
                            tz,
                            tags,
                        )
                    )
                meter = tuple(_tag(t) for t in METER_TAGS)
                equipment.append(
                    EquipmentSpec(
                        f"{enterprise}.{sname}.{aname}.{lname}.meter.energy",
                        enterprise,
                        sname,
                        aname,
                        lname,
                        "meter",
                        "energy",
                        "energy_meter",
                        tz,
                        meter,
                    )
                )
    ids = [e.equipment_id for e in equipment]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise PlantConfigError(f"equipment ids must be unique; repeated: {dupes}")
    products = []
    for pi, prod in enumerate(_require(data, "products", "plant")):
        pwhere = f"products[{pi}]"
        cycles = _require(prod, "ideal_cycle_s", pwhere)
        missing = sorted(set(PHYSICS) - set(cycles))
        if missing:
            raise PlantConfigError(f"{pwhere}.ideal_cycle_s: no cycle time for kinds {missing}")
        products.append(
            ProductSpec(
                _require(prod, "product_id", pwhere),
                _require(prod, "name", pwhere),
                prod.get("material", ""),
                {k: float(v) for k, v in cycles.items()},
            )
        )
    return PlantConfig(enterprise, tuple(sites), tuple(equipment), tuple(products))


def load_plant_config(path: str | Path | None = None) -> PlantConfig:
    """The plant of `path` (default: plant/plant.yaml)."""
    path = Path(path) if path else DEFAULT_CONFIG
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise PlantConfigError(f"plant config {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise PlantConfigError(f"plant config {path} is not valid YAML: {exc}") from None
    return parse_plant_config(data or {})
