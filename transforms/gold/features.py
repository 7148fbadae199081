"""Asset-health features per equipment and hour: the input of the predictive-maintenance models."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from transforms.columns import conform

ANALOG = {"vibration_mm_s": "vibration", "temperature_c": "temperature", "power_kw": "power"}


def _hours_overlapping(states: DataFrame) -> DataFrame:
    """Each state interval split at the hour boundaries: (equipment_id, hour_start, state, seconds)."""
    closed = states.where(F.col("end_time").isNotNull())
    hours = F.explode(
        F.sequence(
            F.date_trunc("hour", "start_time"),
            F.date_trunc("hour", F.col("end_time") - F.expr("INTERVAL 1 MICROSECOND")),
            F.expr("INTERVAL 1 HOUR"),
        )
    )
    split = closed.select(
        "equipment_id", "state", "start_time", "end_time", hours.alias("hour_start")
    )
    hour_end = F.col("hour_start") + F.expr("INTERVAL 1 HOUR")
    seconds = (
        F.unix_micros(F.least("end_time", hour_end))
        - F.unix_micros(F.greatest("start_time", "hour_start"))
    ) / 1e6
    return split.select("equipment_id", "hour_start", "state", seconds.alias("seconds"))


def asset_health_features(
    readings: DataFrame,
    states: DataFrame,
    counts: DataFrame,
    equipment: DataFrame,
    *,
    day_from: date | None = None,
    day_to: date | None = None,
) -> DataFrame:
    """gold.asset_health_features for hours in [day_from, day_to] (UTC dates, inclusive).

    Inputs should reach 24 hours before day_from (the rolling means) and, for the states, back
    to the last planned maintenance (hours_since_maintenance is null when none is seen).

    >>> asset_health_features(readings, states, counts, equipment, day_from=d, day_to=d)
    """
    # Statistics of 1-minute means: the same features from a 10 s live feed and a 1 min
    # historian export (a model trained on one scores the other without a shift in std or max).
    minutes = (
        readings.where(F.col("tag").isin(*ANALOG, "tool_wear_pct") & F.col("value").isNotNull())
        .groupBy("equipment_id", "tag", F.date_trunc("minute", "event_time").alias("minute"))
        .agg(
            F.avg("value").alias("value"),
            F.max_by("value", "event_time").alias("last_value"),
            F.max("event_time").alias("event_time"),
        )
    )
    hour = F.date_trunc("hour", "minute").alias("hour_start")
    analog = minutes
    stats = analog.groupBy("equipment_id", hour).agg(
        *[
            agg
            for tag, name in ANALOG.items()
            for agg in (
                F.avg(F.when(F.col("tag") == tag, F.col("value"))).alias(f"{name}_mean"),
                F.stddev_samp(F.when(F.col("tag") == tag, F.col("value"))).alias(f"{name}_std"),
                F.max(F.when(F.col("tag") == tag, F.col("value"))).alias(f"{name}_max"),
                F.sum(F.when(F.col("tag") == tag, F.col("value"))).alias(f"{name}_sum"),
                F.count(F.when(F.col("tag") == tag, F.col("value"))).alias(f"{name}_n"),
            )
        ],
        F.max_by(
            F.when(F.col("tag") == "tool_wear_pct", F.col("last_value")),
            F.when(F.col("tag") == "tool_wear_pct", F.col("event_time")),
        ).alias("tool_wear_pct"),
    )
    day24 = (
        Window.partitionBy("equipment_id")
        .orderBy(F.unix_timestamp("hour_start"))
        .rangeBetween(-23 * 3600, 0)
    )

    def rolling(name: str) -> F.Column:
        return F.sum(f"{name}_sum").over(day24) / F.sum(f"{name}_n").over(day24)

    stats = stats.select(
        "*",
        rolling("vibration").alias("vibration_mean_24h_mm_s"),
        rolling("temperature").alias("temperature_mean_24h_c"),
    )
    in_hours = _hours_overlapping(states)
    run = in_hours.groupBy("equipment_id", "hour_start").agg(
        F.sum(F.when(F.col("state") == "running", F.col("seconds")).otherwise(0.0)).alias("run_s")
    )
    stops = (
        states.where(F.col("state") == "unplanned_stop")
        .groupBy("equipment_id", F.date_trunc("hour", "start_time").alias("hour_start"))
        .agg(F.count("*").alias("unplanned_stops"))
    )
    parts = counts.groupBy(
        "equipment_id", F.date_trunc("hour", "interval_start").alias("hour_start")
    ).agg(F.sum("produced").alias("parts_produced"))
    machines = equipment.where("is_current AND (kind IS NULL OR kind != 'energy_meter')").select(
        "equipment_id", "kind"
    )
    frame = (
        stats.join(machines, "equipment_id")
        .join(run, ["equipment_id", "hour_start"], "left")
        .join(stops, ["equipment_id", "hour_start"], "left")
        .join(parts, ["equipment_id", "hour_start"], "left")
    )
    if day_from is not None:
        frame = frame.where(F.col("hour_start") >= F.lit(day_from).cast("timestamp"))
    if day_to is not None:
        frame = frame.where(F.to_date("hour_start") <= F.lit(day_to))
    maintenance = states.where(
        (F.col("state") == "planned_stop")
        & (F.col("reason_code") == "planned_maintenance")
        & F.col("end_time").isNotNull()
    ).select(F.col("equipment_id").alias("_eq"), F.col("end_time").alias("_maint_end"))
    last_maint = (
        frame.select("equipment_id", "hour_start")
        .join(
            maintenance,
            (F.col("_eq") == F.col("equipment_id")) & (F.col("_maint_end") <= F.col("hour_start")),
        )
        .groupBy("equipment_id", "hour_start")
        .agg(F.max("_maint_end").alias("_maint_end"))
    )
    out = frame.join(last_maint, ["equipment_id", "hour_start"], "left").select(
        "equipment_id",
        "hour_start",
        "kind",
        F.col("vibration_mean").alias("vibration_mean_mm_s"),
        F.col("vibration_std").alias("vibration_std_mm_s"),
        F.col("vibration_max").alias("vibration_max_mm_s"),
        "vibration_mean_24h_mm_s",
        (F.col("vibration_mean") - F.col("vibration_mean_24h_mm_s")).alias(
            "vibration_trend_24h_mm_s"
        ),
        F.col("temperature_mean").alias("temperature_mean_c"),
        F.col("temperature_max").alias("temperature_max_c"),
        "temperature_mean_24h_c",
        F.col("power_mean").alias("power_mean_kw"),
        "tool_wear_pct",
        F.coalesce("run_s", F.lit(0.0)).alias("run_s"),
        F.coalesce("unplanned_stops", F.lit(0)).alias("unplanned_stops"),
        F.coalesce("parts_produced", F.lit(0)).alias("parts_produced"),
        ((F.unix_timestamp("hour_start") - F.unix_timestamp("_maint_end")) / 3600).alias(
            "hours_since_maintenance"
        ),
        F.to_date("hour_start").alias("event_date"),
    )
    return conform(out, "gold.asset_health_features")
