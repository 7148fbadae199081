"""Equipment kinds: the tags each kind exposes and the constants of its physics."""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.contracts.vocabulary import STATES

# The code of each state on the simulated machines (an OPC UA Enum's value, a timeline's array).
STATE_CODE = {name: i for i, name in enumerate(STATES)}


@dataclass(frozen=True)
class TagTemplate:
    """A tag every equipment of a kind has; `sample_s` 0 means published on change."""

    name: str
    datatype: str  # Double | Int64 | Boolean | String | Enum
    unit: str
    low: float | None
    high: float | None
    description: str
    sample_s: int = 10


@dataclass(frozen=True)
class KindPhysics:
    """Constants of one kind of machine."""

    rated_kw: float
    idle_kw: float
    vibration_mm_s: float  # when running, new bearings
    run_temperature_rise_c: float
    pressure_bar: float | None  # process pressure set point (None: no pressure tag)
    mean_run_min: float  # mean running spell before a small stop
    wear_per_run_hour: float  # mean wear % per running hour (100 % = failure)


COMMON_TAGS = (
    TagTemplate("state", "Enum", "", None, None, "machine state", 0),
    TagTemplate(
        "reason_code",
        "String",
        "",
        None,
        None,
        "reason of the current stop, empty while running",
        0,
    ),
    TagTemplate("parts_total", "Int64", "count", 0, None, "parts produced since commissioning", 0),
    TagTemplate("parts_good", "Int64", "count", 0, None, "good parts since commissioning", 0),
    TagTemplate("parts_scrap", "Int64", "count", 0, None, "scrapped parts since commissioning", 0),
    TagTemplate(
        "parts_rework", "Int64", "count", 0, None, "parts sent to rework since commissioning", 0
    ),
    TagTemplate("product_id", "String", "", None, None, "product being made", 0),
    TagTemplate("work_order_id", "String", "", None, None, "work order being run", 0),
    TagTemplate("material_lot", "String", "", None, None, "material lot in use", 0),
    TagTemplate("speed_pct", "Double", "%", 0, 120, "speed relative to the ideal cycle"),
    TagTemplate("cycle_time_s", "Double", "s", 0, 600, "actual cycle time"),
    TagTemplate("power_kw", "Double", "kW", 0, 500, "electrical power draw"),
    TagTemplate("vibration_mm_s", "Double", "mm/s", 0, 50, "bearing vibration velocity (RMS)"),
    TagTemplate("temperature_c", "Double", "degC", -20, 200, "drive/bearing temperature"),
    TagTemplate("tool_wear_pct", "Double", "%", 0, 150, "estimated tool/bearing wear", 60),
)
KIND_TAGS = {
    "cnc_mill": (
        TagTemplate("spindle_speed_rpm", "Double", "rpm", 0, 24000, "spindle speed"),
        TagTemplate("spindle_current_a", "Double", "A", 0, 200, "spindle motor current"),
    ),
    "press": (
        TagTemplate("pressure_bar", "Double", "bar", 0, 400, "hydraulic pressure"),
        TagTemplate("force_kn", "Double", "kN", 0, 5000, "press force"),
    ),
    "injection_moulder": (
        TagTemplate("pressure_bar", "Double", "bar", 0, 2500, "injection pressure"),
        TagTemplate("melt_temperature_c", "Double", "degC", 0, 400, "melt temperature"),
        TagTemplate("mould_temperature_c", "Double", "degC", 0, 200, "mould temperature"),
    ),
    "packer": (TagTemplate("film_tension_n", "Double", "N", 0, 500, "film tension"),),
}
METER_TAGS = (
    TagTemplate("power_kw", "Double", "kW", 0, 5000, "line active power"),
    TagTemplate("energy_kwh", "Double", "kWh", 0, None, "line active energy (counter)", 60),
    TagTemplate("voltage_v", "Double", "V", 0, 500, "phase-to-phase voltage"),
    TagTemplate("power_factor", "Double", "", 0, 1, "power factor"),
)
PHYSICS = {
    "cnc_mill": KindPhysics(22.0, 4.0, 1.8, 18.0, None, 45.0, 1.6),
    "press": KindPhysics(45.0, 8.0, 2.6, 14.0, 180.0, 35.0, 1.2),
    "injection_moulder": KindPhysics(60.0, 12.0, 1.4, 22.0, 1100.0, 55.0, 1.0),
    "packer": KindPhysics(6.0, 1.5, 1.1, 8.0, None, 30.0, 0.8),
}
