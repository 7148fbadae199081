"""The digital-twin table: one row per equipment with its state now and what matters about it."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.contracts.vocabulary import FAILURE_REASONS
from transforms.columns import conform
from transforms.timeseries import latest_value

KEY_VALUES = {
    "vibration_mm_s": "vibration_mm_s",
    "temperature_c": "temperature_c",
    "power_kw": "power_kw",
    "tool_wear_pct": "tool_wear_pct",
}


def _latest(df: DataFrame, key: str, order: str) -> DataFrame:
    w = Window.partitionBy(key).orderBy(F.col(order).desc())
    return df.withColumn("_r", F.row_number().over(w)).where("_r = 1").drop("_r")


def asset_state(
    equipment: DataFrame,
    states: DataFrame,
    readings: DataFrame,
    oee_shift: DataFrame,
    predictions: DataFrame | None = None,
    *,
    now: datetime,
) -> DataFrame:
    """gold.asset_state from the latest state interval, readings, shift OEE and failure.

    `readings` may be only the recent ones (the latest value of each key tag is taken);
    `predictions` (equipment_id, failure_probability, predicted_at) are optional until the
    maintenance model has scored.

    >>> asset_state(equipment, states, recent_readings, oee_shift, now=datetime.now(UTC))
    """
    machines = equipment.where("is_current AND (kind IS NULL OR kind != 'energy_meter')").select(
        "equipment_id", "site", "area", "line", "kind"
    )
    current = _latest(states, "equipment_id", "start_time").select(
        "equipment_id",
        "state",
        F.col("start_time").alias("state_since"),
        "reason_code",
        "product_id",
        "work_order_id",
    )
    latest = latest_value(readings.where(F.col("tag").isin(*KEY_VALUES)))
    values = latest.groupBy("equipment_id").pivot("tag", list(KEY_VALUES)).agg(F.first("value"))
    last_seen = readings.groupBy("equipment_id").agg(F.max("event_time").alias("last_reading_at"))
    shift = _latest(oee_shift, "equipment_id", "shift_start").select(
        "equipment_id", "shift_id", F.col("oee").alias("shift_oee")
    )
    failure = _latest(
        states.where(
            (F.col("state") == "unplanned_stop") & F.col("reason_code").isin(*FAILURE_REASONS)
        ),
        "equipment_id",
        "start_time",
    ).select(
        "equipment_id",
        F.col("start_time").alias("last_failure_at"),
        F.col("reason_code").alias("last_failure_reason"),
    )
    out = (
        machines.join(current, "equipment_id", "left")
        .join(values, "equipment_id", "left")
        .join(last_seen, "equipment_id", "left")
        .join(shift, "equipment_id", "left")
        .join(failure, "equipment_id", "left")
    )
    if predictions is not None:
        pred = _latest(predictions, "equipment_id", "predicted_at").select(
            "equipment_id", "failure_probability", "predicted_at"
        )
        out = out.join(pred, "equipment_id", "left")
    else:
        out = out.select(
            "*",
            F.lit(None).cast("double").alias("failure_probability"),
            F.lit(None).cast("timestamp").alias("predicted_at"),
        )
    return conform(out.withColumn("updated_at", F.lit(now).cast("timestamp")), "gold.asset_state")
