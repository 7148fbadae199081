"""The plant model's declarations as silver rows: equipment, ideal cycle times and calendars.

The model is data (lakehouse.plant_model); these functions only lay it out as DataFrames in the
session of a frame they are given, so the MES and the model meet in the same silver tables.
"""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.catalog import get_table
from lakehouse.plant_model.calendar import model_calendar
from lakehouse.plant_model.schema import PlantModel
from transforms.columns import conform

EPOCH = datetime(1970, 1, 1)


def model_equipment(spark: SparkSession, model: PlantModel) -> DataFrame:
    """silver.equipment rows of the equipment the model declares (valid since ever)."""
    rows = [
        (*e.attributes().values(), e.site.timezone, EPOCH, None, True, "plant_model")
        for e in model.equipment()
    ]
    return spark.createDataFrame(rows, get_table("silver.equipment").schema)


def model_cycle_times(spark: SparkSession, model: PlantModel) -> DataFrame:
    """silver.ideal_cycle_times: each equipment's default ('*') and per-product cycle times."""
    rows = []
    for e in model.equipment():
        if e.spec.ideal_cycle_s is not None:
            rows.append((e.equipment_id, "*", float(e.spec.ideal_cycle_s)))
        rows += [(e.equipment_id, p, float(s)) for p, s in e.spec.ideal_cycle_s_by_product.items()]
    return spark.createDataFrame(rows, get_table("silver.ideal_cycle_times").schema)


def model_shifts(
    spark: SparkSession, model: PlantModel, first: date, last: date
) -> tuple[DataFrame, DataFrame]:
    """The model calendars' shifts (silver.shift_calendar's MES columns) and planned windows
    (silver.planned_downtime) for local dates in [first, last]."""
    shifts, windows = model_calendar(model, first, last)
    shift_rows = [
        (s.shift_id, s.site, s.shift_name, s.local_date, s.start_time, s.end_time) for s in shifts
    ]
    shift_df = spark.createDataFrame(
        shift_rows,
        "shift_id string, site string, shift_name string, local_date date, "
        "start_time timestamp, end_time timestamp",
    )
    window_rows = [
        (
            w.shift_id,
            w.site,
            w.equipment_id,
            w.kind,
            w.name,
            w.start_time,
            w.end_time,
            (w.end_time - w.start_time).total_seconds(),
            "plant_model",
        )
        for w in windows
    ]
    window_df = spark.createDataFrame(
        window_rows,
        "shift_id string, site string, equipment_id string, kind string, name string, "
        "start_time timestamp, end_time timestamp, duration_s double, source string",
    )
    window_df = window_df.withColumn("window_id", F.lit(None).cast("string"))
    return shift_df, conform(window_df, "silver.planned_downtime")
