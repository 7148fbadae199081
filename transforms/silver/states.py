"""State tags to state intervals: one row per stretch of running, idle, planned or unplanned stop.

The machine publishes `state` at the start of every interval and `reason_code`, `product_id`,
`work_order_id` when they change; an interval lasts until the next `state` reading. Stop reasons
the machine left empty are filled from the MES downtime event that starts at the same second.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from transforms.columns import conform

CONTEXT_TAGS = ("reason_code", "product_id", "work_order_id")


def equipment_states(
    readings: DataFrame,
    downtime_events: DataFrame | None = None,
    *,
    day_from: date | None = None,
    day_to: date | None = None,
) -> DataFrame:
    """silver.equipment_states for intervals starting in [day_from, day_to] (UTC dates, inclusive).

    `readings` (silver.readings) should reach a day before day_from, so that the reason, product
    and work order in force are known, and past day_to, so that the last interval has its end;
    an interval with no following state reading stays open (end null).

    >>> equipment_states(readings, downtime, day_from=date(2026, 3, 2), day_to=date(2026, 3, 2))
    """
    tags = ("state", *CONTEXT_TAGS)
    # a state with no name (a Sparkplug birth sent before the first value) is not a change
    nameless = (F.col("tag") == "state") & (F.coalesce(F.trim("value_str"), F.lit("")) == "")
    good = readings.where(F.col("tag").isin(*tags) & (F.col("quality") != "bad") & ~nameless)
    wide = (
        good.groupBy("equipment_id", "event_time")
        .pivot("tag", list(tags))
        .agg(F.first("value_str"))
    )
    history = Window.partitionBy("equipment_id").orderBy("event_time")
    upto = history.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    filled = wide.select(
        "equipment_id",
        "event_time",
        "state",
        *[F.last(c, ignorenulls=True).over(upto).alias(c) for c in CONTEXT_TAGS],
    )
    changes = filled.where(F.col("state").isNotNull())
    intervals = changes.select(
        "equipment_id",
        F.col("event_time").alias("start_time"),
        F.lead("event_time").over(history).alias("end_time"),
        "state",
        F.when(F.col("state") == "running", F.lit(""))
        .otherwise(F.coalesce(F.col("reason_code"), F.lit("")))
        .alias("reason_code"),
        "product_id",
        "work_order_id",
    )
    if day_from is not None:
        intervals = intervals.where(F.col("start_time") >= F.lit(day_from).cast("timestamp"))
    if day_to is not None:
        intervals = intervals.where(F.to_date("start_time") <= F.lit(day_to))
    tag_reason = F.col("reason_code") != ""
    if downtime_events is not None:
        mes = downtime_events.select(
            "equipment_id",
            F.col("start_time"),
            F.col("reason_code").alias("mes_reason"),
        )
        intervals = intervals.join(mes, ["equipment_id", "start_time"], "left")
        reason = F.when(tag_reason | (F.col("state") == "running"), F.col("reason_code")).otherwise(
            F.coalesce(F.col("mes_reason"), F.col("reason_code"))
        )
        source = (
            F.when(tag_reason, "tag")
            .when((F.col("state") != "running") & F.col("mes_reason").isNotNull(), "mes")
            .otherwise(F.lit(None))
        )
    else:
        reason, source = F.col("reason_code"), F.when(tag_reason, "tag")
    out = intervals.select(
        "equipment_id",
        "start_time",
        "end_time",
        (F.unix_micros("end_time") - F.unix_micros("start_time")).cast("double").alias("_us"),
        "state",
        reason.alias("reason_code"),
        "product_id",
        "work_order_id",
        source.alias("reason_source"),
        F.to_date("start_time").alias("event_date"),
    ).withColumn("duration_s", F.col("_us") / 1e6)
    return conform(out, "silver.equipment_states")
