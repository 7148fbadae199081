"""Benchmark: incremental refresh of silver and gold against a rebuild of 7 days, same run.

The plant's history (7 days) is put in bronze and silver and gold are rebuilt from it (the
baseline), through the Dagster asset graph like every other run (job `refresh`, checks
included). Then one new hour of readings and MES rows arrives and one incremental run brings
every table up to date; then readings two days late arrive and only their days are rebuilt.
Goal: one new hour costs at most 10 % of the 7-day rebuild.
"""

import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pyspark.sql import functions as F

import plant
from ingestion.backfill import mes_backfill_to_bronze, uns_backfill_to_bronze
from lakehouse.lake import open_lake
from lakehouse.plant_model import install_model
from lakehouse.settings import load_settings
from orchestration.materialize import Run, materialize
from plant.backfill import backfill
from plant.config import load_plant_config

DAYS = 7
START = datetime(2026, 3, 2, tzinfo=UTC)


def bronze_from_files(
    lake, out: Path, start: datetime, end: datetime, *, late_from=None, late_to=None, late=False
):
    """Put the readings and MES rows of [start, end) in bronze (plain appends: this is set-up).

    `late=False` leaves out [late_from, late_to); `late=True` puts in only that window."""
    uns = lake.spark.read.parquet(str(out / "uns")).where(
        (F.col("timestamp") >= F.lit(start)) & (F.col("timestamp") < F.lit(end))
    )
    if late_from is not None:
        window = (F.col("timestamp") >= F.lit(late_from)) & (F.col("timestamp") < F.lit(late_to))
        uns = uns.where(window if late else ~window)
    lake.append(
        "bronze.mqtt_messages",
        uns_backfill_to_bronze(uns, source="bench", batch_id=f"b-{start:%d%H}-{late}"),
    )
    if late:
        return
    import pyarrow.parquet as pq

    for folder in sorted((out / "mes").iterdir()):
        key = (
            pq.read_schema(next(folder.glob("*.parquet")))
            .metadata[b"primary_key"]
            .decode()
            .split(",")
        )
        rows = lake.spark.read.parquet(str(folder)).where(
            (F.col("updated_at") >= F.lit(start)) & (F.col("updated_at") < F.lit(end))
        )
        lake.append(
            "bronze.mes_rows",
            mes_backfill_to_bronze(
                rows, source_table=folder.name, key=key, source="bench", batch_id=f"m-{start:%d%H}"
            ),
        )


def _run(run: Run) -> Run:
    if not run.success:
        raise SystemExit(f"the refresh run failed:\n{run.failure}")
    return run


def main() -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    root = Path(tempfile.mkdtemp(prefix="plantlake-bench-refresh-"))
    try:
        settings = load_settings(
            lake_root=root / "lake", spark_master="local[2]", spark_shuffle_partitions=4
        )
        lake = open_lake(settings)
        lake.create_all()
        install_model(lake.root, plant.MODEL_FILE)
        out = root / "backfill"
        t0 = time.perf_counter()
        summary = backfill(load_plant_config(), seed=1, days=DAYS + 1, out_dir=out, start=START)
        print(f"plant history: {summary} ({time.perf_counter() - t0:.0f} s)")
        end7 = START + timedelta(days=DAYS)
        late_from, late_to = (
            START + timedelta(days=DAYS - 2, hours=8),
            START + timedelta(days=DAYS - 2, hours=9),
        )
        t0 = time.perf_counter()
        bronze_from_files(lake, out, START, end7, late_from=late_from, late_to=late_to)
        print(
            f"bronze set-up: {lake.read('bronze.mqtt_messages').count():,} readings in {time.perf_counter() - t0:.0f} s"
        )

        full = _run(materialize(lake, rebuild=True))
        silver_rows = lake.read("silver.readings").count()
        print(
            f"\nrebuild of {len(full.days())} days from bronze: {full.seconds:.1f} s ({silver_rows:,} silver readings)"
        )

        bronze_from_files(lake, out, end7, end7 + timedelta(hours=1))
        hour = _run(materialize(lake))
        new_rows = hour.metadata["silver/readings"]["rows_written"]
        print(
            f"refresh after one new hour ({new_rows:,} new readings, days {[str(d) for d in hour.days()]}): {hour.seconds:.1f} s"
        )

        bronze_from_files(lake, out, START, end7, late_from=late_from, late_to=late_to, late=True)
        late = _run(materialize(lake))
        late_rows = late.metadata["silver/readings"]["rows_written"]
        print(
            f"refresh after readings 2 days late ({late_rows:,} readings of {late_from:%Y-%m-%d %H:%M}–{late_to:%H:%M}, days {[str(d) for d in late.days()]}): {late.seconds:.1f} s"
        )

        print("\n| step | seconds | share of the 7-day rebuild |")
        print("| --- | --- | --- |")
        print(f"| rebuild 7 days | {full.seconds:.1f} | 100 % |")
        print(f"| refresh one new hour | {hour.seconds:.1f} | {hour.seconds / full.seconds:.1%} |")
        print(
            f"| refresh late data (1 hour, 2 days late) | {late.seconds:.1f} | {late.seconds / full.seconds:.1%} |"
        )
        print(
            f"goal: one new hour <= 10 % of the rebuild: {'met' if hour.seconds <= 0.1 * full.seconds else 'NOT met'}"
        )
        for title, run in (("one new hour", hour), ("late data", late)):
            print(f"\nper table written, refresh of {title} (seconds of its step, days):")
            for asset, meta in run.metadata.items():
                print(f"  {asset:32s} {meta.get('seconds', 0):6.1f} s  {meta.get('days', '')}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
