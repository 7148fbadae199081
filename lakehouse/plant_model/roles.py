"""What a signal means to plantlake: its role, the silver tag it becomes, and state value maps.

A role fixes the tag name in silver.readings (a counter of all parts is `parts_total` whatever
the machine calls it), so every transform after silver reads roles, never a vendor's naming.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lakehouse.contracts.vocabulary import STATES

Role = Literal[
    "state",
    "counter_total",
    "counter_good",
    "counter_scrap",
    "counter_rework",
    "product",
    "work_order",
    "reason_code",
    "material_lot",
    "analog",
    "energy_counter",
    "power",
]


@dataclass(frozen=True)
class RoleSpec:
    silver_tag: str | None  # None: the source's tag name (analog)
    text: bool  # value kept as text (value_str), not a number
    counter: bool = False  # counts up; a decrease is a reset
    unit: str | None = None  # the unit silver stores it in
    vocabulary: tuple[str, ...] = ()


ROLES: dict[str, RoleSpec] = {
    "state": RoleSpec("state", text=True, vocabulary=STATES),
    "counter_total": RoleSpec("parts_total", text=False, counter=True, unit="count"),
    "counter_good": RoleSpec("parts_good", text=False, counter=True, unit="count"),
    "counter_scrap": RoleSpec("parts_scrap", text=False, counter=True, unit="count"),
    "counter_rework": RoleSpec("parts_rework", text=False, counter=True, unit="count"),
    "product": RoleSpec("product_id", text=True),
    "work_order": RoleSpec("work_order_id", text=True),
    "reason_code": RoleSpec("reason_code", text=True),
    "material_lot": RoleSpec("material_lot", text=True),
    "analog": RoleSpec(None, text=False),
    "energy_counter": RoleSpec("energy_kwh", text=False, counter=True, unit="kWh"),
    "power": RoleSpec("power_kw", text=False, unit="kW"),
}
COUNTER_TAGS = tuple(r.silver_tag for r in ROLES.values() if r.counter)

# Ready-made state value maps (`values: packml`). Keys are the values as text: booleans lower
# case, whole numbers without a decimal point.
STATE_MAPS: dict[str, dict[str, str]] = {
    "plantlake": {s: s for s in STATES},
    # ISA-TR88.00.02 (PackML) state numbers. Execute is production; Held is an internal stop
    # (unplanned); Suspended waits on up- or downstream (idle); Aborted is a fault.
    "packml": {
        "0": "idle",  # Undefined
        "1": "unplanned_stop",  # Clearing
        "2": "idle",  # Stopped
        "3": "idle",  # Starting
        "4": "idle",  # Idle
        "5": "idle",  # Suspended
        "6": "running",  # Execute
        "7": "idle",  # Stopping
        "8": "unplanned_stop",  # Aborting
        "9": "unplanned_stop",  # Aborted
        "10": "unplanned_stop",  # Holding
        "11": "unplanned_stop",  # Held
        "12": "unplanned_stop",  # Unholding
        "13": "idle",  # Suspending
        "14": "idle",  # Unsuspending
        "15": "idle",  # Resetting
        "16": "running",  # Completing
        "17": "idle",  # Complete
    },
    # A plain "machine running" flag: not running is idle (not a failure: nothing says so).
    "running_bool": {"true": "running", "false": "idle", "1": "running", "0": "idle"},
}
