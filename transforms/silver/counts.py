"""Machine counters to production counts per equipment, minute and product.

Counters (`parts_total`, `parts_good`, `parts_scrap`, `parts_rework`) count up since
commissioning; what a minute produced is the sum of the increases of its readings. A decrease is
a counter reset (power cycle, rollover, PLC swap): the count restarts from zero, so the increase
is the new value itself. Each part gets the product and work order in force when it was counted.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from transforms.columns import conform, counter_increase

COUNTERS = {
    "parts_total": "produced",
    "parts_good": "good",
    "parts_scrap": "scrap",
    "parts_rework": "rework",
}


def production_counts(
    readings: DataFrame,
    equipment: DataFrame,
    routings: DataFrame,
    work_orders: DataFrame | None = None,
    cycle_times: DataFrame | None = None,
    *,
    day_from: date | None = None,
    day_to: date | None = None,
) -> DataFrame:
    """silver.production_counts for minutes in [day_from, day_to] (UTC dates, inclusive).

    The ideal cycle time of a part is the work order's, else the plant model's for the
    equipment and product (`cycle_times`: silver.ideal_cycle_times), else the ERP routing's for
    the product and equipment kind, else the model's default for the equipment.

    `readings` should reach back before day_from (the last counter value before the window is
    the baseline of its first increase; a few days cover a weekend).

    >>> production_counts(readings, equipment, routings, work_orders, day_from=d, day_to=d)
    """
    tags = (*COUNTERS, "product_id", "work_order_id")
    rows = readings.where(F.col("tag").isin(*tags) & (F.col("quality") != "bad"))
    by_tag = Window.partitionBy("equipment_id", "tag").orderBy("event_time")
    counters = rows.where(F.col("tag").isin(*COUNTERS)).select(
        "equipment_id",
        "event_time",
        "tag",
        counter_increase(F.col("value"), F.lag("value").over(by_tag)).alias("increase"),
        F.lit(None).cast("string").alias("product_id"),
        F.lit(None).cast("string").alias("work_order_id"),
        F.lit(0).alias("_order"),
    )
    context = (
        rows.where(F.col("tag").isin("product_id", "work_order_id"))
        .groupBy("equipment_id", "event_time")
        .pivot("tag", ["product_id", "work_order_id"])
        .agg(F.first("value_str"))
        .select(
            "equipment_id",
            "event_time",
            F.lit(None).cast("string").alias("tag"),
            F.lit(None).cast("double").alias("increase"),
            "product_id",
            "work_order_id",
            F.lit(1).alias("_order"),  # a change at the same second applies to later parts
        )
    )
    timeline = Window.partitionBy("equipment_id").orderBy("event_time", "_order")
    upto = timeline.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    parts = (
        counters.unionByName(context)
        .select(
            "equipment_id",
            "event_time",
            "tag",
            "increase",
            F.last("product_id", ignorenulls=True).over(upto).alias("product_id"),
            F.last("work_order_id", ignorenulls=True).over(upto).alias("work_order_id"),
        )
        .where(F.col("tag").isNotNull())
    )
    if day_from is not None:
        parts = parts.where(F.col("event_time") >= F.lit(day_from).cast("timestamp"))
    if day_to is not None:
        parts = parts.where(F.to_date("event_time") <= F.lit(day_to))
    minute = F.date_trunc("minute", "event_time").alias("interval_start")
    sums = [
        F.sum(F.when(F.col("tag") == tag, F.col("increase")).otherwise(0.0))
        .cast("bigint")
        .alias(name)
        for tag, name in COUNTERS.items()
    ]
    grouped = parts.groupBy("equipment_id", minute, "product_id", "work_order_id").agg(*sums)
    # A machine without a total counter makes good + scrap + rework; one without a good
    # counter makes good = total − scrap − rework. Which counters it has is what it sends.
    has = rows.groupBy("equipment_id").agg(
        F.max(F.col("tag") == "parts_total").alias("_has_total"),
        F.max(F.col("tag") == "parts_good").alias("_has_good"),
    )
    grouped = grouped.join(has, "equipment_id", "left")
    produced = F.when(F.col("_has_total"), F.col("produced")).otherwise(
        F.col("good") + F.col("scrap") + F.col("rework")
    )
    grouped = grouped.withColumn("produced", produced).withColumn(
        "good",
        F.when(F.col("_has_good"), F.col("good")).otherwise(
            F.greatest(F.lit(0), F.col("produced") - F.col("scrap") - F.col("rework"))
        ),
    )
    kinds = equipment.where("is_current").select("equipment_id", "kind")
    cycle = routings.select(
        "product_id", F.col("equipment_kind").alias("kind"), F.col("ideal_cycle_s").alias("_route")
    )
    out = grouped.join(kinds, "equipment_id", "left").join(cycle, ["product_id", "kind"], "left")
    ideal_from = []
    if work_orders is not None:
        wo = work_orders.select("work_order_id", F.col("ideal_cycle_s").alias("_wo"))
        out = out.join(wo, "work_order_id", "left")
        ideal_from.append(F.col("_wo"))
    if cycle_times is not None:
        ct = cycle_times.select(
            "equipment_id", "product_id", F.col("ideal_cycle_s").alias("_model_product")
        )
        any_product = cycle_times.where(F.col("product_id") == "*").select(
            "equipment_id", F.col("ideal_cycle_s").alias("_model_any")
        )
        out = out.join(ct, ["equipment_id", "product_id"], "left").join(
            any_product, "equipment_id", "left"
        )
        ideal_from += [F.col("_model_product"), F.col("_route"), F.col("_model_any")]
    else:
        ideal_from.append(F.col("_route"))
    ideal = F.coalesce(*ideal_from)
    out = out.select(
        "*",
        ideal.alias("ideal_cycle_s"),
        (ideal * F.col("produced")).alias("ideal_time_s"),
        (ideal * F.col("good")).alias("good_ideal_time_s"),
        F.to_date("interval_start").alias("event_date"),
    )
    return conform(out, "silver.production_counts")
