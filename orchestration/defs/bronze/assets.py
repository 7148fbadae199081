"""Bronze: the bronze loader moves every landed file into its bronze table, exactly once."""

from pathlib import Path

import dagster as dg

from orchestration.defs import tables
from orchestration.defs.resources import LakeResource
from orchestration.steps import Built

BRONZE = (
    "bronze.mqtt_messages",
    "bronze.sparkplug_messages",
    "bronze.opcua_values",
    "bronze.mes_rows",
    "bronze.quarantine",
)


def landing_root(lake_root: Path) -> Path:
    """Where the connectors land files by default (the ingestion config may say otherwise)."""
    return lake_root / "_landing"


@dg.multi_asset(
    specs=[tables.spec(t, skippable=True) for t in BRONZE],
    check_specs=[c for t in BRONZE for c in tables.check_spec(t)],
    name="bronze_loader",
    description="Load every landing-zone file not loaded yet into bronze (streaming "
    "availableNow with a checkpoint; insert-only MERGE on record_id).",
)
def bronze_loader(context: dg.AssetExecutionContext, lake: LakeResource):
    from ingestion.bronze_loader import BronzeLoader

    lk = lake.lake()
    run = BronzeLoader(lk, landing_root(lk.root)).run()
    context.log.info(
        "bronze loader: %s batches, rows offered %s", run.batches, run.rows_read_by_table
    )
    for table in BRONZE:
        built = Built(table, lk.read(table).count(), version=lk.version(table), seconds=run.seconds)
        checks = [tables.check_result(lk, table)] if tables.check_spec(table) else []
        meta = tables.metadata(lk, built)
        meta["rows_offered_this_run"] = dg.MetadataValue.int(run.rows_read_by_table.get(table, 0))
        yield dg.MaterializeResult(asset_key=tables.key(table), metadata=meta, check_results=checks)
