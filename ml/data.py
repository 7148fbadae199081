"""Reading the models' inputs from the lake by table name, with the Delta versions read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.lake import Lake
from transforms.gold.reliability import failure_events

MAINTENANCE_FEATURES = (
    "kind",
    "vibration_mean_mm_s",
    "vibration_std_mm_s",
    "vibration_max_mm_s",
    "vibration_mean_24h_mm_s",
    "vibration_trend_24h_mm_s",
    "vibration_max_24h_mm_s",
    "vibration_slope_24h_mm_s_per_h",
    "temperature_mean_c",
    "temperature_max_c",
    "temperature_mean_24h_c",
    "power_mean_kw",
    "tool_wear_pct",
    "tool_wear_rate_24h_pct_per_h",
    "temperature_slope_24h_c_per_h",
    "run_s",
    "unplanned_stops",
    "parts_produced",
    "hours_since_maintenance",
)
MAINTENANCE_CATEGORICAL = ("kind",)
QUALITY_FEATURES = (
    "kind",
    "product_id",
    "shift_name",
    "lot_defect_rate_before",
    "lot_parts_before",
    "tool_wear_pct",
    "vibration_mean_mm_s",
    "temperature_mean_c",
    "power_mean_kw",
    "hours_since_maintenance",
)
QUALITY_CATEGORICAL = ("kind", "product_id", "shift_name")


@dataclass
class Inputs:
    """pandas frames read from the lake, and which table versions they came from."""

    frames: dict[str, pd.DataFrame]
    versions: dict[str, int | None] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]


def _window(df: DataFrame, column: str, start: datetime | date | None, end: datetime | date | None):
    if start is not None:
        df = df.where(F.col(column) >= F.lit(start))
    if end is not None:
        df = df.where(F.col(column) < F.lit(end))
    return df


def to_pandas(df: DataFrame) -> pd.DataFrame:
    """`df` as pandas, timestamps as datetime64 (naive UTC)."""
    out = df.toPandas()
    for c, t in df.dtypes:
        if t == "timestamp":
            out[c] = pd.to_datetime(out[c])
    return out


def maintenance_inputs(
    lake: Lake, *, start: datetime | None = None, end: datetime | None = None
) -> Inputs:
    """gold.asset_health_features in [start, end) and every failure from silver.equipment_states."""
    features = _window(lake.read("gold.asset_health_features"), "hour_start", start, end)
    failures = failure_events(lake.read("silver.equipment_states")).select(
        "equipment_id", "start_time", "end_time", "reason_code"
    )
    names = ("gold.asset_health_features", "silver.equipment_states")
    return Inputs(
        {"features": to_pandas(features), "failures": to_pandas(failures)},
        {n: lake.version(n) for n in names},
    )


def quality_inputs(
    lake: Lake, *, start: datetime | None = None, end: datetime | None = None
) -> Inputs:
    """gold.quality_features in [start, end)."""
    features = _window(lake.read("gold.quality_features"), "hour_start", start, end)
    return Inputs(
        {"features": to_pandas(features)},
        {"gold.quality_features": lake.version("gold.quality_features")},
    )
