"""Gold assets: OEE and its roll-ups, downtime, reliability, SPC, quality, energy, features,
asset state."""

import dagster as dg
from pyspark.sql import functions as F

from orchestration import build
from orchestration.defs import tables
from orchestration.defs.resources import LakeResource
from orchestration.defs.silver.assets import partition_day, table_asset, with_day_before


@table_asset(
    "gold.oee_shift",
    [
        "silver.equipment_states",
        "silver.production_counts",
        "silver.shift_calendar",
        "silver.planned_downtime",
        "silver.readings",
        "silver.equipment",
    ],
    daily=True,
    name="gold_oee_shift",
)
def gold_oee_shift(context: dg.AssetExecutionContext, lake: LakeResource):
    """Shifts starting on the run's day and the day before (a night shift ends the next day)."""
    lk = lake.lake()
    built = build.build_oee(lk, with_day_before(context))
    meta = tables.metadata(lk, built)
    shifts = tables.frame(lk, "gold.oee_shift", [partition_day(context)])
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
    if by_line.limit(1).count():
        meta["oee_by_line"] = tables.oee_plot(by_line, "line")
    yield dg.MaterializeResult(
        asset_key=tables.key("gold.oee_shift"),
        metadata=meta,
        check_results=[tables.check_result(lk, "gold.oee_shift", built.days)],
    )


@dg.multi_asset(
    specs=[
        tables.spec(t, deps=["gold.oee_shift"]) for t in ("gold.oee_line_day", "gold.oee_site_week")
    ],
    check_specs=tables.check_spec("gold.oee_line_day") + tables.check_spec("gold.oee_site_week"),
    name="gold_oee_rollups",
    description="OEE per line × day and site × week from the summed times and counts of gold.oee_shift.",
)
def gold_oee_rollups(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    built = build.build_oee_rollups(lk)
    for b, result in zip(
        built, tables.outputs(lk, built, ["gold.oee_line_day", "gold.oee_site_week"]), strict=True
    ):
        if b.table == "gold.oee_line_day":
            recent = lk.read(b.table).orderBy(F.col("local_date").desc()).limit(12)
            plot = tables.oee_plot(
                recent.withColumn(
                    "label", F.concat_ws(" ", "site", "line", F.col("local_date").cast("string"))
                ),
                "label",
            )
            result = dg.MaterializeResult(
                asset_key=result.asset_key,
                metadata={**result.metadata, "oee_recent_days": plot},
                check_results=result.check_results,
            )
        yield result


@table_asset(
    "gold.downtime_pareto",
    ["silver.equipment_states", "silver.equipment"],
    daily=True,
    name="gold_downtime_pareto",
)
def gold_downtime_pareto(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(
        lk, [build.build_downtime_pareto(lk, with_day_before(context))], ["gold.downtime_pareto"]
    )


@table_asset(
    "gold.quality",
    ["silver.production_counts", "silver.equipment"],
    daily=True,
    name="gold_quality",
)
def gold_quality(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(
        lk, [build.build_quality(lk, [partition_day(context)])], ["gold.quality"]
    )


@table_asset(
    "gold.energy",
    ["silver.readings", "silver.production_counts", "silver.equipment"],
    daily=True,
    name="gold_energy",
)
def gold_energy(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(
        lk, [build.build_energy(lk, [partition_day(context)])], ["gold.energy"]
    )


@table_asset(
    "gold.asset_health_features",
    ["silver.readings", "silver.equipment_states", "silver.production_counts", "silver.equipment"],
    daily=True,
    name="gold_asset_health_features",
)
def gold_asset_health_features(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(
        lk, [build.build_features(lk, [partition_day(context)])], ["gold.asset_health_features"]
    )


@table_asset(
    "gold.quality_features",
    [
        "silver.production_counts",
        "silver.readings",
        "silver.shift_calendar",
        "silver.equipment",
        "gold.asset_health_features",
    ],
    daily=True,
    name="gold_quality_features",
)
def gold_quality_features(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(
        lk, [build.build_quality_features(lk, [partition_day(context)])], ["gold.quality_features"]
    )


@table_asset("gold.reliability", ["silver.equipment_states"], daily=False, name="gold_reliability")
def gold_reliability(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(lk, [build.build_reliability(lk)], ["gold.reliability"])


@table_asset("gold.spc", ["silver.quality_inspections"], daily=False, name="gold_spc")
def gold_spc(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(lk, [build.build_spc(lk)], ["gold.spc"])


@table_asset(
    "gold.asset_state",
    [
        "silver.equipment",
        "silver.equipment_states",
        "silver.readings",
        "gold.oee_shift",
        "gold.maintenance_predictions",
    ],
    daily=False,
    name="gold_asset_state",
)
def gold_asset_state(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(lk, [build.build_asset_state(lk)], ["gold.asset_state"])


ASSETS = [
    gold_oee_shift,
    gold_oee_rollups,
    gold_downtime_pareto,
    gold_quality,
    gold_energy,
    gold_asset_health_features,
    gold_quality_features,
    gold_reliability,
    gold_spc,
    gold_asset_state,
]
