"""Quality features: what each hour of production made, its defects, and the context it ran in."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from transforms.columns import conform, utc_date

NO_LOT = ""  # a part made before any material_lot reading was seen


def quality_features(
    counts: DataFrame,
    features: DataFrame,
    lots: DataFrame,
    shifts: DataFrame,
    equipment: DataFrame,
    *,
    day_from: date,
    day_to: date,
) -> DataFrame:
    """gold.quality_features for hours in [day_from, day_to] (UTC dates, inclusive).

    - `counts` (silver.production_counts) is summed per equipment × hour × product × work order;
      the lot is the last `material_lot` reading (silver.readings) at or before the hour's end.
    - `lot_defect_rate_before` is what a quality engineer knows of the lot when the hour starts:
      its defects / parts in earlier hours of `counts` (give `counts` from before day_from for a
      lot's history; a lot's first hour has null).
    - Process context comes from gold.asset_health_features of the same hour, the shift from
      silver.shift_calendar at the equipment's site.

    >>> quality_features(counts, features, lot_readings, shifts, equipment, day_from=d, day_to=d)
    """
    hour = F.date_trunc("hour", "interval_start").alias("hour_start")
    made = counts.groupBy(
        "equipment_id",
        hour,
        F.coalesce("product_id", F.lit("")).alias("product_id"),
        F.coalesce("work_order_id", F.lit("")).alias("work_order_id"),
    ).agg(
        F.sum("produced").alias("produced"),
        F.sum("scrap").alias("scrap"),
        F.sum("rework").alias("rework"),
    )
    lot_changes = lots.where(F.col("tag") == "material_lot").select(
        "equipment_id", F.col("event_time").alias("_lot_time"), F.col("value_str").alias("_lot")
    )
    # the lot in force at the end of the hour: the latest change before it (as-of join)
    hour_end = F.col("hour_start") + F.expr("INTERVAL 1 HOUR")
    latest = Window.partitionBy("equipment_id", "hour_start", "product_id", "work_order_id")
    with_lot = (
        made.join(lot_changes, "equipment_id", "left")
        .where(F.col("_lot_time").isNull() | (F.col("_lot_time") < hour_end))
        .withColumn(
            "_rank", F.row_number().over(latest.orderBy(F.col("_lot_time").desc_nulls_last()))
        )
        .where("_rank = 1")
        .withColumn("material_lot", F.coalesce("_lot", F.lit(NO_LOT)))
        .drop("_lot", "_lot_time", "_rank")
    )
    earlier = (
        Window.partitionBy("equipment_id", "material_lot")
        .orderBy("hour_start")
        .rowsBetween(Window.unboundedPreceding, -1)
    )
    defects = F.col("scrap") + F.col("rework")
    with_lot = with_lot.withColumn("defects", defects).select(
        "*",
        F.sum("produced").over(earlier).alias("lot_parts_before"),
        # null while the lot's earlier hours made nothing (a first counter reading)
        F.try_divide(F.sum("defects").over(earlier), F.sum("produced").over(earlier)).alias(
            "lot_defect_rate_before"
        ),
    )
    frame = with_lot.where(
        utc_date(F.col("hour_start")).between(F.lit(day_from), F.lit(day_to))
        & (F.col("produced") > 0)
    )
    context = features.select(
        "equipment_id",
        "hour_start",
        "kind",
        "tool_wear_pct",
        F.col("vibration_mean_mm_s"),
        F.col("temperature_mean_c"),
        F.col("power_mean_kw"),
        "hours_since_maintenance",
    )
    sites = equipment.where("is_current").select("equipment_id", "site")
    shift_of = shifts.select(
        F.col("site").alias("_site"),
        "shift_name",
        F.col("start_time").alias("_s"),
        F.col("end_time").alias("_e"),
    )
    frame = (
        frame.join(context, ["equipment_id", "hour_start"], "left")
        .join(sites, "equipment_id", "left")
        .join(
            shift_of,
            (F.col("site") == F.col("_site"))
            & (F.col("hour_start") >= F.col("_s"))
            & (F.col("hour_start") < F.col("_e")),
            "left",
        )
        .withColumn("event_date", utc_date(F.col("hour_start")))
    )
    return conform(frame, "gold.quality_features")
