"""Columns a rule across columns or tables is checked on: a sum, a gap, a range joined from
silver.tags. Each adds columns to the frame and never drops a row."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

Context = Mapping[str, DataFrame]

# A counter that drops to at most this share of its previous value was reset (restarts from 0);
# a smaller drop is a glitch: a reading out of order, a wrong scale, a second counter mixed in.
COUNTER_RESET_SHARE = 0.5


def unaccounted_parts(df: DataFrame, context: Context) -> DataFrame:
    """`df` with `unaccounted_parts` = produced − (good + scrap + rework): 0 when they add up."""
    counted = F.col("good") + F.col("scrap") + F.col("rework")
    return df.withColumn("unaccounted_parts", F.col("produced") - counted)


def oee_time_gaps(df: DataFrame, context: Context) -> DataFrame:
    """An OEE table with the gaps its times must close: `planned_busy_gap_s` = planned busy −
    (planned − planned downtime), `run_beyond_planned_busy_s` = run − planned busy."""
    planned_busy = F.col("planned_s") - F.col("planned_downtime_s")
    return df.select(
        "*",
        (F.col("planned_busy_s") - planned_busy).alias("planned_busy_gap_s"),
        (F.col("run_s") - F.col("planned_busy_s")).alias("run_beyond_planned_busy_s"),
    )


def tag_checks(readings: DataFrame, context: Context) -> DataFrame:
    """Readings with their tag's range and `tag_listed`, `value_in_range`, `counter_step_ok`.

    The last two are null where there is nothing to check (no number, no range, not a counter,
    the first reading of a counter, a reading the source marked bad), so GX skips those rows.
    Unchanged without a `tags` context.
    """
    tags = context.get("tags")
    if tags is None:
        return readings
    ranges = tags.select(
        "equipment_id",
        "tag",
        F.col("low").alias("tag_low"),
        F.col("high").alias("tag_high"),
        F.col("is_counter").alias("tag_is_counter"),
    ).dropDuplicates(["equipment_id", "tag"])  # the tags suite reports duplicates itself
    r = readings.alias("r")
    joined = r.join(
        F.broadcast(ranges.alias("t")),
        (F.col("r.equipment_id") == F.col("t.equipment_id")) & (F.col("r.tag") == F.col("t.tag")),
        "left",
    ).select(
        "r.*",
        "t.tag_low",
        "t.tag_high",
        "t.tag_is_counter",
        F.col("t.tag").isNotNull().alias("tag_listed"),
    )
    value, low, high = F.col("value"), F.col("tag_low"), F.col("tag_high")
    # a bad reading says itself that its value is not to be trusted: no range to hold it to
    checkable = (
        value.isNotNull() & (F.col("quality") != "bad") & (low.isNotNull() | high.isNotNull())
    )
    in_range = F.when(
        checkable, (low.isNull() | (value >= low)) & (high.isNull() | (value <= high))
    )
    # the previous usable value of the same counter: bad readings do not count
    before = (
        Window.partitionBy("equipment_id", "tag")
        .orderBy("event_time")
        .rowsBetween(Window.unboundedPreceding, -1)
    )
    usable = F.when(F.col("quality") != "bad", value)
    previous = F.last(usable, ignorenulls=True).over(before)
    step_ok = F.when(
        F.coalesce(F.col("tag_is_counter"), F.lit(False))
        & (F.col("quality") != "bad")
        & value.isNotNull()
        & previous.isNotNull(),
        (value >= previous) | (value <= previous * COUNTER_RESET_SHARE),
    )
    return joined.select(
        "*",
        in_range.alias("value_in_range"),
        F.when(F.col("tag_is_counter"), previous).alias("counter_previous_value"),
        step_ok.alias("counter_step_ok"),
    )
