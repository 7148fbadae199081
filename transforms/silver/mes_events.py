"""MES events to silver: work orders, downtime events and quality inspections (latest versions)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.contracts.mes import mes_table
from transforms.columns import conform
from transforms.silver.mes_rows import current_rows


def work_orders(mes_rows: DataFrame) -> DataFrame:
    """silver.work_orders: each work order as the MES last reported it, with its ideal cycle."""
    orders = current_rows(mes_rows, mes_table("mes.work_orders"))
    ops = (
        current_rows(mes_rows, mes_table("mes.operations"))
        .groupBy("work_order_id")
        .agg(F.min_by("ideal_cycle_s", "operation_no").alias("ideal_cycle_s"))
    )
    return conform(orders.join(ops, "work_order_id", "left"), "silver.work_orders")


def downtime_events(mes_rows: DataFrame) -> DataFrame:
    """silver.downtime_events: MES downtime events, open ones with a null end and duration."""
    events = current_rows(mes_rows, mes_table("mes.downtime_events"))
    out = events.select(
        "*",
        (F.unix_timestamp("end_time") - F.unix_timestamp("start_time"))
        .cast("double")
        .alias("duration_s"),
        F.to_date("start_time").alias("event_date"),
    )
    return conform(out.where(F.col("equipment_id").isNotNull()), "silver.downtime_events")


def quality_inspections(mes_rows: DataFrame, work_orders: DataFrame) -> DataFrame:
    """silver.quality_inspections: inspections with the product of their work order."""
    rows = current_rows(mes_rows, mes_table("mes.quality_inspections"))
    out = rows.join(
        work_orders.select("work_order_id", "product_id"), "work_order_id", "left"
    ).withColumn("event_date", F.to_date("inspected_at"))
    return conform(
        out.where(F.col("equipment_id").isNotNull() & F.col("measured").isNotNull()),
        "silver.quality_inspections",
    )
