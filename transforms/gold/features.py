"""Asset-health features per equipment and hour: the input of the predictive-maintenance models.

Spark reduces the readings, states and counts to one row per equipment and hour; that small
table goes to the driver, where `transforms.sequences` adds the 24-hour features."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.catalog import get_table
from transforms.columns import conform, utc_date
from transforms.sequences import sequence_features

TABLE = "gold.asset_health_features"
ANALOG = {"vibration_mm_s": "vibration", "temperature_c": "temperature", "power_kw": "power"}
# the rolling window; silver.readings is read from the day before the days built (before=1),
# so every hour built has its whole window
WINDOW = "24h"


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


def _analog_hours(readings: DataFrame) -> DataFrame:
    """Per equipment and hour: mean, std, max, sum and count of the 1-minute means of each
    analog tag (`vibration_mean`, …, `power_n`), and the last tool wear of the hour."""
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
    return minutes.groupBy("equipment_id", hour).agg(
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


def _with_24h(hours: pd.DataFrame, maintenance_ends: pd.DataFrame) -> pd.DataFrame:
    """`hours` (one row per equipment and hour) with the 24-hour features and the hours since
    maintenance, as the catalog names them."""
    window = dict(id_col="equipment_id", time_col="hour_start", spans=(WINDOW,))
    sums = ["vibration_sum", "vibration_n", "temperature_sum", "temperature_n"]
    hours = sequence_features(hours, columns=sums, stats=("sum",), **window)
    hours = sequence_features(hours, columns=["vibration_max"], stats=("max",), **window)
    hours = sequence_features(
        hours,
        columns=["vibration_mean", "temperature_mean", "tool_wear_pct"],
        stats=("slope",),
        events=maintenance_ends,
        event_time_col="end_time",
        event_name="maintenance",
        **window,
    )
    # the mean of the 1-minute means in 24 h (Σ values / Σ minutes), as each hour's own mean
    vibration_24h = hours["vibration_sum_sum_24h"] / hours["vibration_n_sum_24h"]
    return hours.assign(
        vibration_mean_mm_s=hours["vibration_mean"],
        vibration_std_mm_s=hours["vibration_std"],
        vibration_max_mm_s=hours["vibration_max"],
        vibration_mean_24h_mm_s=vibration_24h,
        vibration_trend_24h_mm_s=hours["vibration_mean"] - vibration_24h,
        vibration_max_24h_mm_s=hours["vibration_max_max_24h"],
        vibration_slope_24h_mm_s_per_h=hours["vibration_mean_slope_24h"],
        temperature_mean_c=hours["temperature_mean"],
        temperature_max_c=hours["temperature_max"],
        temperature_mean_24h_c=hours["temperature_sum_sum_24h"] / hours["temperature_n_sum_24h"],
        temperature_slope_24h_c_per_h=hours["temperature_mean_slope_24h"],
        power_mean_kw=hours["power_mean"],
        tool_wear_rate_24h_pct_per_h=hours["tool_wear_pct_slope_24h"],
    )


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

    Inputs should reach 24 hours before day_from (the rolling windows) and, for the states,
    back to the last planned maintenance (hours_since_maintenance is null when none is seen).
    The hours from day_from − 1 day to day_to are collected to the driver (one row per
    equipment and hour), where `sequence_features` computes the 24-hour columns: Spark's
    Python workers cannot run a pandas UDF here (their interpreter has no pyarrow).

    >>> asset_health_features(readings, states, counts, equipment, day_from=d, day_to=d)
    """
    stats = _analog_hours(readings)
    if day_from is not None:
        stats = stats.where(utc_date(F.col("hour_start")) >= F.lit(day_from - timedelta(days=1)))
    if day_to is not None:
        stats = stats.where(utc_date(F.col("hour_start")) <= F.lit(day_to))
    run = (
        _hours_overlapping(states)
        .groupBy("equipment_id", "hour_start")
        .agg(
            F.sum(F.when(F.col("state") == "running", F.col("seconds")).otherwise(0.0)).alias(
                "run_s"
            )
        )
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
    hourly = (
        stats.join(machines, "equipment_id")
        .join(run, ["equipment_id", "hour_start"], "left")
        .join(stops, ["equipment_id", "hour_start"], "left")
        .join(parts, ["equipment_id", "hour_start"], "left")
        .fillna({"run_s": 0.0, "unplanned_stops": 0, "parts_produced": 0})
    )
    maintenance_ends = states.where(
        (F.col("state") == "planned_stop")
        & (F.col("reason_code") == "planned_maintenance")
        & F.col("end_time").isNotNull()
    ).select("equipment_id", "end_time")
    features = _with_24h(_to_pandas(hourly, "hour_start"), _to_pandas(maintenance_ends, "end_time"))
    out = _to_spark(features, hourly.sparkSession)
    if day_from is not None:
        out = out.where(F.col("event_date") >= F.lit(day_from))
    return conform(out, TABLE)


# -- the round trip through the driver -------------------------------------------------------
# Times travel as epoch microseconds (bigint): no session or driver time zone enters them.
def _to_pandas(df: DataFrame, time_col: str) -> pd.DataFrame:
    """`df` collected, `time_col` as naive UTC datetime64."""
    others = [c for c in df.columns if c != time_col]
    out = df.select(*others, F.unix_micros(time_col).alias("_us")).toPandas()
    out[time_col] = pd.to_datetime(out.pop("_us").astype("int64"), unit="us")
    return out


def _to_spark(features: pd.DataFrame, spark) -> DataFrame:
    """The catalog's columns of `features` as a Spark DataFrame; NaN (no value) as null."""
    fields = [
        f for f in get_table(TABLE).schema.fields if f.name not in ("hour_start", "event_date")
    ]
    schema = T.StructType(
        [
            T.StructField("hour_us", T.LongType()),
            *[T.StructField(f.name, f.dataType) for f in fields],
        ]
    )
    frame = features.assign(
        hour_us=features["hour_start"].to_numpy("datetime64[us]").astype("int64")
    )
    df = spark.createDataFrame(frame[schema.fieldNames()], schema)
    hour_start = F.timestamp_micros("hour_us")
    return df.select(
        *[
            F.nanvl(f.name, F.lit(None).cast("double")).alias(f.name)
            if isinstance(f.dataType, T.DoubleType)
            else F.col(f.name)
            for f in fields
        ],
        hour_start.alias("hour_start"),
        utc_date(hour_start).alias("event_date"),
    )
