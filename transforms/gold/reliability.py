"""gold.reliability: MTBF and MTTR per equipment and UTC calendar month, from the state intervals
of silver.equipment_states.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.contracts.vocabulary import FAILURE_REASONS
from transforms.columns import conform, utc_date


def _utc_month(ts: Column) -> Column:
    """First day of the UTC month of `ts`, whatever the session time zone."""
    return F.trunc(utc_date(ts), "month")


def reliability(
    states: DataFrame, *, failure_reasons: Sequence[str] = FAILURE_REASONS
) -> DataFrame:
    """One row per equipment and month in which it has a state interval starting.

    - `operating_s`: time in state running. An interval counts whole in the month it starts in,
      even when it runs into the next one (as failures do).
    - A failure is an unplanned_stop whose reason is in `failure_reasons`. Intervals of one
      failure that silver split at a shift or break boundary (same reason, the next starting
      exactly where the previous ended) are one failure, in the month of its first interval;
      `repair_s` sums all its intervals.
    - Open intervals (no end_time yet) add no time; an open failure still counts as a failure.
    - `mtbf_h` = operating_s / failures / 3600, `mttr_h` = repair_s / failures / 3600; null
      without failures.

    >>> reliability(states)  # March: running 16 h; breakdown 13:00-14:00 + 14:00-14:30 (one
    ... # failure across the shift change) and electrical_fault 20:00-20:30: failures 2,
    ... # repair_s 7200, mtbf_h 16 / 2 = 8.0, mttr_h 2 / 2 = 1.0
    """
    closed_s = F.when(F.col("end_time").isNotNull(), F.coalesce("duration_s", F.lit(0.0)))
    intervals = states.select(
        "equipment_id",
        "start_time",
        "end_time",
        "state",
        "reason_code",
        _utc_month(F.col("start_time")).alias("month"),
        F.coalesce(closed_s, F.lit(0.0)).alias("seconds"),
    )

    operating = intervals.groupBy("equipment_id", "month").agg(
        F.sum(F.when(F.col("state") == "running", F.col("seconds")).otherwise(0.0)).alias(
            "operating_s"
        )
    )

    failures = (
        failure_events(states, failure_reasons=failure_reasons)
        .groupBy("equipment_id", "month")
        .agg(F.count("*").alias("failures"), F.sum("repair_s").alias("repair_s"))
    )

    failures_n = F.col("failures")
    out = (
        operating.join(failures, ["equipment_id", "month"], "left")
        .withColumn("failures", F.coalesce(failures_n, F.lit(0)))
        .withColumn("repair_s", F.coalesce("repair_s", F.lit(0.0)))
        .withColumn("mtbf_h", F.when(failures_n > 0, F.col("operating_s") / failures_n / 3600))
        .withColumn("mttr_h", F.when(failures_n > 0, F.col("repair_s") / failures_n / 3600))
    )
    return conform(out, "gold.reliability")


def failure_events(
    states: DataFrame, *, failure_reasons: Sequence[str] = FAILURE_REASONS
) -> DataFrame:
    """One row per failure: (equipment_id, start_time, end_time, reason_code, repair_s, month).

    A failure is an unplanned_stop whose reason is in `failure_reasons`; its intervals that
    silver split at a shift or break boundary (same reason, the next starting exactly where the
    previous ended) are one failure, in the month of its first interval. So are its intervals
    on either side of planned stops (a repair that runs through a break or the night resumes
    after it): a failure interval continues the last one before it when only planned stops lie
    between them, without a gap. `end_time` is null while the failure is still open.
    """
    seconds = F.when(F.col("end_time").isNotNull(), F.coalesce("duration_s", F.lit(0.0)))
    intervals = states.select(
        "equipment_id",
        "start_time",
        "end_time",
        "state",
        "reason_code",
        F.coalesce(seconds, F.lit(0.0)).alias("seconds"),
    )
    order = Window.partitionBy("equipment_id").orderBy("start_time")
    before = order.rowsBetween(Window.unboundedPreceding, -1)
    planned = F.col("state") == "planned_stop"
    # per interval: the last interval before it that is not a planned stop, and whether every
    # interval since then followed the one before without a gap
    contiguous = F.coalesce(F.lag("end_time").over(order) == F.col("start_time"), F.lit(False))
    active = F.when(~planned, F.concat_ws("|", "state", "reason_code"))
    broken = F.when(~contiguous, F.col("start_time"))
    marked = intervals.select(
        "*",
        F.last(active, ignorenulls=True).over(before).alias("_last_active"),
        F.last(F.when(~planned, F.col("start_time")), ignorenulls=True)
        .over(before)
        .alias("_last_active_start"),
        F.max(broken).over(order.rowsBetween(Window.unboundedPreceding, 0)).alias("_last_gap"),
    )
    continues = (F.col("_last_active") == F.concat_ws("|", "state", "reason_code")) & (
        F.col("_last_gap").isNull() | (F.col("_last_gap") <= F.col("_last_active_start"))
    )
    pieces = (
        marked.where(
            (F.col("state") == "unplanned_stop")
            & F.col("reason_code").isin(*[str(r) for r in failure_reasons])
        )
        .withColumn("_new", F.when(F.coalesce(continues, F.lit(False)), 0).otherwise(1))
        .withColumn("_failure", F.sum("_new").over(order.rowsBetween(Window.unboundedPreceding, 0)))
    )
    return (
        pieces.groupBy("equipment_id", "_failure")
        .agg(
            F.min("start_time").alias("start_time"),
            F.when(F.count("end_time") == F.count("*"), F.max("end_time")).alias("end_time"),
            F.min_by("reason_code", "start_time").alias("reason_code"),
            F.sum("seconds").alias("repair_s"),
            _utc_month(F.min("start_time")).alias("month"),
        )
        .drop("_failure")
    )
