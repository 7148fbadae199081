"""MES events to silver: work orders, downtime events and quality inspections (latest versions)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms.columns import conform
from transforms.silver.mes_rows import current_rows

WORK_ORDER_SCHEMA = T.StructType(
    [
        T.StructField("work_order_id", T.StringType()),
        T.StructField("product_id", T.StringType()),
        T.StructField("equipment_id", T.StringType()),
        T.StructField("qty_planned", T.LongType()),
        T.StructField("status", T.StringType()),
        T.StructField("released_at", T.TimestampType()),
        T.StructField("started_at", T.TimestampType()),
        T.StructField("completed_at", T.TimestampType()),
        T.StructField("qty_done", T.LongType()),
        T.StructField("updated_at", T.TimestampType()),
    ]
)
OPERATION_SCHEMA = T.StructType(
    [
        T.StructField("work_order_id", T.StringType()),
        T.StructField("operation_no", T.LongType()),
        T.StructField("ideal_cycle_s", T.DoubleType()),
    ]
)
DOWNTIME_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("equipment_id", T.StringType()),
        T.StructField("start_time", T.TimestampType()),
        T.StructField("end_time", T.TimestampType()),
        T.StructField("state", T.StringType()),
        T.StructField("reason_code", T.StringType()),
        T.StructField("operator_comment", T.StringType()),
        T.StructField("work_order_id", T.StringType()),
        T.StructField("updated_at", T.TimestampType()),
    ]
)
INSPECTION_SCHEMA = T.StructType(
    [
        T.StructField("inspection_id", T.StringType()),
        T.StructField("equipment_id", T.StringType()),
        T.StructField("work_order_id", T.StringType()),
        T.StructField("material_lot", T.StringType()),
        T.StructField("characteristic", T.StringType()),
        T.StructField("nominal", T.DoubleType()),
        T.StructField("lower_limit", T.DoubleType()),
        T.StructField("upper_limit", T.DoubleType()),
        T.StructField("measured", T.DoubleType()),
        T.StructField("passed", T.BooleanType()),
        T.StructField("inspected_at", T.TimestampType()),
    ]
)


def work_orders(mes_rows: DataFrame) -> DataFrame:
    """silver.work_orders: each work order as the MES last reported it, with its ideal cycle."""
    orders = current_rows(mes_rows, "mes.work_orders", WORK_ORDER_SCHEMA, ["work_order_id"])
    ops = (
        current_rows(
            mes_rows, "mes.operations", OPERATION_SCHEMA, ["work_order_id", "operation_no"]
        )
        .groupBy("work_order_id")
        .agg(F.min_by("ideal_cycle_s", "operation_no").alias("ideal_cycle_s"))
    )
    return conform(orders.join(ops, "work_order_id", "left"), "silver.work_orders")


def downtime_events(mes_rows: DataFrame) -> DataFrame:
    """silver.downtime_events: MES downtime events, open ones with a null end and duration."""
    events = current_rows(mes_rows, "mes.downtime_events", DOWNTIME_SCHEMA, ["event_id"])
    out = events.select(
        "*",
        (F.unix_timestamp("end_time") - F.unix_timestamp("start_time")).alias("duration_s"),
        F.to_date("start_time").alias("event_date"),
    )
    return conform(out.where(F.col("equipment_id").isNotNull()), "silver.downtime_events")


def quality_inspections(mes_rows: DataFrame, work_orders: DataFrame) -> DataFrame:
    """silver.quality_inspections: inspections with the product of their work order."""
    rows = current_rows(mes_rows, "mes.quality_inspections", INSPECTION_SCHEMA, ["inspection_id"])
    out = rows.join(
        work_orders.select("work_order_id", "product_id"), "work_order_id", "left"
    ).withColumn("event_date", F.to_date("inspected_at"))
    return conform(
        out.where(F.col("equipment_id").isNotNull() & F.col("measured").isNotNull()),
        "silver.quality_inspections",
    )
