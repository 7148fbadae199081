"""Time-series functions on narrow tables (one row per key, time and value), as a historian has them.

Every function takes and returns a Spark DataFrame, uses Spark SQL functions only (no UDF), and
works on irregular series: samples need not be evenly spaced, and a key may have none in a window.

Two ways to read a value between samples:
- **step** (sample-and-hold): a value holds until the next sample, as for states, set points and
  counters reported on change;
- **linear**: the value moves in a straight line between samples, as for a temperature.

>>> latest_value(readings)                                            # one row per equipment × tag
>>> time_weighted_average(readings, "2026-03-02 06:00", "2026-03-02 14:00")
>>> resample(readings, "1 minute", method="linear")                  # one value per key and minute
>>> interpolate(readings, at=grid, method="step")                    # the value at given times
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

Method = Literal["step", "linear"]
DEFAULT_KEYS = ("equipment_id", "tag")


def _seconds(ts: Column) -> Column:
    return F.unix_micros(ts) / F.lit(1_000_000.0)


def _method(method: str) -> Method:
    if method not in ("step", "linear"):
        raise ValueError(f"method must be 'step' or 'linear', not {method!r}")
    return method  # type: ignore[return-value]


def latest_value(
    df: DataFrame,
    keys: Sequence[str] = DEFAULT_KEYS,
    time_col: str = "event_time",
) -> DataFrame:
    """The last sample of each key (ties on time: any one of them), all its columns kept."""
    order = Window.partitionBy(*keys).orderBy(F.col(time_col).desc())
    return df.withColumn("_rank", F.row_number().over(order)).where("_rank = 1").drop("_rank")


def _segments(
    df: DataFrame, keys: Sequence[str], time_col: str, value_col: str, horizon: Column
) -> DataFrame:
    """Each sample with the next one of its key: the segment [t0, t1) with values v0 and v1.

    The last sample's segment runs to `horizon` at a constant value.
    """
    order = Window.partitionBy(*keys).orderBy("t0")
    return (
        df.select(*keys, F.col(time_col).alias("t0"), F.col(value_col).cast("double").alias("v0"))
        .withColumn("t1", F.lead("t0").over(order))
        .withColumn("v1", F.lead("v0").over(order))
        .withColumn("v1", F.coalesce("v1", "v0"))
        .withColumn("t1", F.coalesce("t1", horizon))
    )


def _area(a: Column, b: Column, method: Method) -> tuple[Column, Column]:
    """The integral of a `_segments` row over its overlap with [a, b), and the overlap in seconds."""
    v0, v1 = F.col("v0"), F.col("v1")
    s0, s1, sa, sb = _seconds(F.col("t0")), _seconds(F.col("t1")), _seconds(a), _seconds(b)
    lo, hi = F.greatest(s0, sa), F.least(s1, sb)
    width = F.greatest(hi - lo, F.lit(0.0))
    if method == "step":
        return v0 * width, width
    span = s1 - s0
    slope = F.when(span > 0, (v1 - v0) / span).otherwise(F.lit(0.0))
    at_lo = v0 + slope * (lo - s0)
    at_hi = v0 + slope * (hi - s0)
    return (at_lo + at_hi) / 2 * width, width


def time_weighted_average(
    df: DataFrame,
    start: datetime | str,
    end: datetime | str,
    keys: Sequence[str] = DEFAULT_KEYS,
    time_col: str = "event_time",
    value_col: str = "value",
    method: str = "step",
) -> DataFrame:
    """The time-weighted average of each key over [start, end).

    The last sample before `start` carries into the window (step) or is the left end of the line
    that crosses `start` (linear); after the last sample the value holds until `end`. Keys with no
    sample at or before `end` are absent; the window covered by samples is in `covered_s`.
    Columns: keys, `twa`, `covered_s`.
    """
    m = _method(method)
    a, b = F.lit(start).cast("timestamp"), F.lit(end).cast("timestamp")
    segments = _segments(df, keys, time_col, value_col, b)  # later samples weigh 0
    area, width = _area(a, b, m)
    return (
        segments.select(*keys, area.alias("area"), width.alias("width"))
        .groupBy(*keys)
        .agg(F.sum("area").alias("area"), F.sum("width").alias("covered_s"))
        .where("covered_s > 0")
        .select(*keys, (F.col("area") / F.col("covered_s")).alias("twa"), "covered_s")
    )


def resample(
    df: DataFrame,
    every: str,
    keys: Sequence[str] = DEFAULT_KEYS,
    time_col: str = "event_time",
    value_col: str = "value",
    method: str = "step",
) -> DataFrame:
    """One time-weighted value per key and bucket of length `every` (e.g. '1 minute', '1 hour').

    Buckets are aligned to the epoch (as `window()` aligns them) and run from the bucket of a key's
    first sample to the bucket of its last; a bucket without a sample of its own gets the value
    carried (step) or interpolated (linear) into it. Columns: keys, `bucket_start`, `bucket_end`,
    `value`, `samples` (how many samples fell in the bucket).
    """
    m = _method(method)
    width = df.sparkSession.sql(f"SELECT INTERVAL {every} AS width").first().width
    width_us = int(width.total_seconds() * 1_000_000)
    if width_us <= 0:
        raise ValueError(f"resample: interval {every!r} must be positive")

    def bucket_of(ts: Column) -> Column:
        return F.timestamp_micros(F.floor(F.unix_micros(ts) / width_us) * width_us)

    step = F.expr(f"INTERVAL {every}")
    bounds = df.groupBy(*keys).agg(
        bucket_of(F.min(time_col)).alias("from"), bucket_of(F.max(time_col)).alias("to")
    )
    buckets = bounds.select(
        *keys, F.explode(F.sequence("from", "to", step)).alias("bucket_start")
    ).withColumn("bucket_end", F.col("bucket_start") + step)
    counts = df.groupBy(*keys, bucket_of(F.col(time_col)).alias("bucket_start")).agg(
        F.count("*").alias("samples")
    )
    horizon = F.max("t0").over(Window.partitionBy(*keys)) + step  # the last value holds
    segments = _segments(df, keys, time_col, value_col, horizon)
    joined = buckets.join(segments, list(keys)).where(
        (F.col("t0") < F.col("bucket_end")) & (F.col("t1") > F.col("bucket_start"))
    )
    area, width = _area(F.col("bucket_start"), F.col("bucket_end"), m)
    return (
        joined.groupBy(*keys, "bucket_start", "bucket_end")
        .agg(F.sum(area).alias("area"), F.sum(width).alias("width"))
        .where("width > 0")
        .join(counts, [*keys, "bucket_start"], "left")
        .select(
            *keys,
            "bucket_start",
            "bucket_end",
            (F.col("area") / F.col("width")).alias("value"),
            F.coalesce("samples", F.lit(0)).alias("samples"),
        )
    )


def interpolate(
    df: DataFrame,
    at: DataFrame,
    keys: Sequence[str] = DEFAULT_KEYS,
    time_col: str = "event_time",
    value_col: str = "value",
    method: str = "step",
) -> DataFrame:
    """The value of each key at the times of `at` (columns: keys and `time_col`).

    Step: the last sample at or before the time. Linear: the line between the samples around the
    time; at or after the last sample, the last value. Times before a key's first sample get null.
    Columns: keys, `time_col`, `value`.
    """
    m = _method(method)
    segments = _segments(df, keys, time_col, value_col, F.lit(None).cast("timestamp"))
    t = F.col(f"at.{time_col}")
    cond = [F.col(f"at.{k}") == F.col(f"s.{k}") for k in keys] + [
        F.col("s.t0") <= t,
        F.col("s.t1").isNull() | (t < F.col("s.t1")),
    ]
    joined = at.alias("at").join(segments.alias("s"), cond, "left")
    if m == "step":
        value = F.col("s.v0")
    else:
        s0, s1, st = _seconds(F.col("s.t0")), _seconds(F.col("s.t1")), _seconds(t)
        value = F.when(F.col("s.t1").isNull(), F.col("s.v0")).otherwise(
            F.col("s.v0") + (F.col("s.v1") - F.col("s.v0")) * (st - s0) / (s1 - s0)
        )
    return joined.select(*[F.col(f"at.{k}") for k in keys], t.alias(time_col), value.alias("value"))
