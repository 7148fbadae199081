"""Gold assets: one per build step of the catalog's gold tables, with OEE plots on the OEE ones."""

from datetime import timedelta

import dagster as dg
from pyspark.sql import functions as F

from lakehouse.lake import Lake
from orchestration.defs import tables
from orchestration.steps import Built


def _oee_by_line(lake: Lake, built: Built) -> dict:
    """OEE per line over the latest day written, from the summed times and counts."""
    shifts = tables.frame(lake, "gold.oee_shift", built.days[-1:])
    by_line = (
        shifts.groupBy(F.concat_ws("/", "site", "line").alias("line"))
        .agg(
            *[
                F.sum(c).alias(c)
                for c in ("run_s", "planned_busy_s", "ideal_time_s", "good", "produced")
            ]
        )
        .select(
            "line",
            # a line whose shifts so far lie in planned windows has no ratio yet
            F.try_divide("run_s", "planned_busy_s").alias("availability"),
            F.try_divide("ideal_time_s", "run_s").alias("performance"),
            F.try_divide("good", "produced").alias("quality"),
        )
        .withColumn("oee", F.col("availability") * F.col("performance") * F.col("quality"))
    )
    return {"oee_by_line": tables.oee_plot(by_line, "line")} if by_line.limit(1).count() else {}


def _oee_recent_days(lake: Lake, built: Built) -> dict:
    recent = lake.read("gold.oee_line_day").orderBy(F.col("local_date").desc()).limit(12)
    labelled = recent.withColumn(
        "label", F.concat_ws(" ", "site", "line", F.col("local_date").cast("string"))
    )
    return {"oee_recent_days": tables.oee_plot(labelled, "label")}


# The bronze sensor starts a refresh within minutes of new data: KPIs not refreshed for an
# hour mean that the pipeline stopped or that bronze (every source at once) stopped moving.
FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2), warn_window=timedelta(hours=1)
)

ASSETS = tables.layer_assets(
    "gold",
    {"gold.oee_shift": _oee_by_line, "gold.oee_line_day": _oee_recent_days},
    freshness=FRESHNESS,
)
