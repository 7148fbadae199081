"""Unit conversions plantlake knows: a source's unit to the unit a tag is stored in.

Each conversion works on a number or a Spark column alike (`v * 25.4`).
"""

from __future__ import annotations

# (from unit, to unit) -> conversion
UNIT_CONVERSIONS = {
    ("degF", "degC"): lambda v: (v - 32) * 5 / 9,
    ("K", "degC"): lambda v: v - 273.15,
    ("psi", "bar"): lambda v: v * 0.0689476,
    ("kPa", "bar"): lambda v: v / 100,
    ("W", "kW"): lambda v: v / 1000,
    ("Wh", "kWh"): lambda v: v / 1000,
    ("MWh", "kWh"): lambda v: v * 1000,
    ("in/s", "mm/s"): lambda v: v * 25.4,
    ("N", "kN"): lambda v: v / 1000,
}
