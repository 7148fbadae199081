"""Silver assets: master data and MES events (whole), readings, states and counts (daily)."""

from datetime import date, timedelta

import dagster as dg

from orchestration import build
from orchestration.defs import tables
from orchestration.defs.partitions import DAILY
from orchestration.defs.resources import LakeResource

MASTER = (
    "silver.equipment",
    "silver.tags",
    "silver.products",
    "silver.routings",
    "silver.ideal_cycle_times",
    "silver.work_orders",
    "silver.downtime_events",
    "silver.quality_inspections",
)


def partition_day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def with_day_before(context: dg.AssetExecutionContext) -> list[date]:
    """The run's day and the one before: intervals and shifts that cross midnight end in it."""
    day = partition_day(context)
    return [day - timedelta(days=1), day]


def is_backfill(context: dg.AssetExecutionContext) -> bool:
    """Runs launched by a backfill (UI or CLI) rebuild their day from bronze."""
    return "dagster/backfill" in context.run.tags


def table_asset(table: str, deps: list[str], *, daily: bool, name: str):
    """A one-table asset: key, group, description, schema and check from the catalog."""
    return dg.multi_asset(
        specs=[tables.spec(table, deps=deps, partitions_def=DAILY if daily else None)],
        check_specs=tables.check_spec(table),
        name=name,
    )


@dg.multi_asset(
    specs=[tables.spec(t, deps=["bronze.mes_rows"]) for t in MASTER],
    check_specs=[c for t in MASTER for c in tables.check_spec(t)],
    name="silver_master_data",
    description="MES/ERP master data and events, latest versions, with the plant model's equipment "
    "and cycle times (rebuilt when bronze.mes_rows or the model changed).",
)
def silver_master_data(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(lk, build.build_master_data(lk), MASTER)


READING_DEPS = [
    "bronze.mqtt_messages",
    "bronze.sparkplug_messages",
    "bronze.opcua_values",
    "silver.equipment",
    "silver.tags",
]


@dg.multi_asset(
    specs=[
        tables.spec(t, deps=READING_DEPS, partitions_def=DAILY)
        for t in ("silver.readings", "silver.unmapped_addresses")
    ],
    check_specs=tables.check_spec("silver.readings")
    + tables.check_spec("silver.unmapped_addresses"),
    name="silver_readings",
    description="Every bronze value mapped by the lake's plant model: readings, and what maps to "
    "nothing counted by address and reason.",
)
def silver_readings(context: dg.AssetExecutionContext, lake: LakeResource):
    """Merge the bronze rows added since the last run (any day: late data lands in its own
    partition); a backfill run rebuilds its day from bronze instead."""
    lk = lake.lake()
    day = partition_day(context)
    if is_backfill(context):
        built = build.build_readings(lk, [day], rebuild=True)
    else:
        built = build.build_readings(lk)
    context.log.info("silver.readings: %s rows, days touched %s", built.rows, built.days)
    checked_days = built.days or [day]
    meta = tables.metadata(lk, built)
    meta["days_touched"] = dg.MetadataValue.text(", ".join(map(str, built.days)) or "none")
    yield dg.MaterializeResult(
        asset_key=tables.key("silver.readings"),
        metadata=meta,
        check_results=[tables.check_result(lk, "silver.readings", checked_days)],
    )
    yield from tables.outputs(lk, built.also, ["silver.unmapped_addresses"])
    if not built.also:
        yield dg.MaterializeResult(
            asset_key=tables.key("silver.unmapped_addresses"),
            metadata={"note": dg.MetadataValue.text("no unmapped values in this run")},
            check_results=[tables.check_result(lk, "silver.unmapped_addresses", checked_days)],
        )


@dg.multi_asset(
    specs=[
        tables.spec(t, deps=["bronze.mes_rows", "silver.equipment", "silver.readings"])
        for t in build.CALENDAR_TABLES
    ],
    check_specs=[c for t in build.CALENDAR_TABLES for c in tables.check_spec(t)],
    name="silver_calendar",
    description="Shifts and planned downtime of the MES and the plant model's site calendars, "
    "over the days of silver.readings (rebuilt when one of them changed).",
)
def silver_calendar(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(lk, build.build_calendar(lk), build.CALENDAR_TABLES)


@table_asset(
    "silver.equipment_states",
    ["silver.readings", "silver.downtime_events"],
    daily=True,
    name="silver_equipment_states",
)
def silver_equipment_states(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(
        lk, [build.build_states(lk, with_day_before(context))], ["silver.equipment_states"]
    )


@table_asset(
    "silver.production_counts",
    [
        "silver.readings",
        "silver.equipment",
        "silver.routings",
        "silver.ideal_cycle_times",
        "silver.work_orders",
    ],
    daily=True,
    name="silver_production_counts",
)
def silver_production_counts(context: dg.AssetExecutionContext, lake: LakeResource):
    lk = lake.lake()
    yield from tables.outputs(
        lk, [build.build_counts(lk, [partition_day(context)])], ["silver.production_counts"]
    )


ASSETS = [
    silver_master_data,
    silver_readings,
    silver_calendar,
    silver_equipment_states,
    silver_production_counts,
]
