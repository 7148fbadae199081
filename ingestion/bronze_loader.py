"""The bronze loader: landing-zone files into bronze Delta tables, exactly once.

A Structured Streaming file source with a checkpoint and the `availableNow` trigger reads each
landed file once; every micro-batch is inserted with an insert-only MERGE on `record_id`, so a
batch replayed after a crash (its checkpoint entry not yet written) adds nothing twice.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ingestion.landing import spark_schema
from lakehouse.lake import Lake


def _attr(name: str) -> Column:
    return F.col("attributes").getItem(name)


def _lineage() -> list[Column]:
    return [
        F.col("source"),
        F.col("received_at"),
        F.current_timestamp().alias("ingested_at"),
        F.col("landing_file"),
        F.col("batch_id"),
        F.to_date(F.coalesce("source_timestamp", "received_at")).alias("event_date"),
    ]


def landing_to_mqtt_messages(landed: DataFrame) -> DataFrame:
    """Landed `mqtt` records as `bronze.mqtt_messages` rows."""
    return landed.where(F.col("kind") == "mqtt").select(
        "record_id",
        F.col("address").alias("topic"),
        F.col("payload"),
        _attr("qos").cast("int").alias("qos"),
        F.col("source_timestamp"),
        *_lineage(),
    )


def landing_to_sparkplug_messages(landed: DataFrame) -> DataFrame:
    """Landed `sparkplug` records as `bronze.sparkplug_messages` rows."""
    return landed.where(F.col("kind") == "sparkplug").select(
        "record_id",
        F.col("address").alias("topic"),
        _attr("message_type").alias("message_type"),
        _attr("group_id").alias("group_id"),
        _attr("edge_node_id").alias("edge_node_id"),
        _attr("device_id").alias("device_id"),
        _attr("seq").cast("bigint").alias("seq"),
        F.col("payload"),
        _attr("decoded_json").alias("decoded_json"),
        F.col("source_timestamp"),
        *_lineage(),
    )


def landing_to_opcua_values(landed: DataFrame) -> DataFrame:
    """Landed `opcua` records as `bronze.opcua_values` rows (the value travels as UTF-8 text)."""
    return landed.where(F.col("kind") == "opcua").select(
        "record_id",
        _attr("endpoint").alias("endpoint"),
        F.col("address").alias("node_id"),
        F.nullif(_attr("namespace_uri"), F.lit("")).alias("namespace_uri"),
        _attr("browse_path").alias("browse_path"),
        F.col("payload").cast("string").alias("value"),
        _attr("variant_type").alias("variant_type"),
        _attr("status_code").cast("bigint").alias("status_code"),
        _attr("status_name").alias("status_name"),
        F.col("source_timestamp"),
        _attr("server_timestamp").cast("timestamp").alias("server_timestamp"),
        *_lineage(),
    )


def landing_to_mes_rows(landed: DataFrame) -> DataFrame:
    """Landed `mes` records (a row version as JSON) as `bronze.mes_rows` rows."""
    return landed.where(F.col("kind") == "mes").select(
        "record_id",
        F.col("address").alias("source_table"),
        _attr("primary_key").alias("primary_key"),
        F.col("payload").cast("string").alias("row_json"),
        F.col("source_timestamp").alias("updated_at"),
        _attr("extract_mode").alias("extract_mode"),
        *_lineage(),
    )


def landing_to_quarantine(landed: DataFrame) -> DataFrame:
    """Landed `quarantine` records as `bronze.quarantine` rows."""
    return landed.where(F.col("kind") == "quarantine").select(
        "record_id",
        F.col("address"),
        F.col("payload").alias("raw"),
        F.coalesce(_attr("reason_code"), F.lit("unspecified")).alias("reason_code"),
        _attr("detail").alias("detail"),
        *_lineage(),
    )


LOOKBACK_DAYS = 30
RUN_METADATA = "bronze_loader"  # the key of what a loader batch offered, in its commits' metadata
ROUTES = {
    "mqtt": ("bronze.mqtt_messages", landing_to_mqtt_messages),
    "sparkplug": ("bronze.sparkplug_messages", landing_to_sparkplug_messages),
    "opcua": ("bronze.opcua_values", landing_to_opcua_values),
    "mes": ("bronze.mes_rows", landing_to_mes_rows),
    "quarantine": ("bronze.quarantine", landing_to_quarantine),
}


@dataclass(frozen=True)
class LoaderRun:
    """What one loader run did."""

    batches: int
    rows_read_by_table: dict[
        str, int
    ]  # rows offered to each table; replayed ones are not added twice
    seconds: float


class BronzeLoader:
    """Moves everything landed so far into bronze (`run()`), resuming from its checkpoint."""

    def __init__(self, lake: Lake, landing_root: Path | str, *, max_files_per_batch: int = 500):
        self.lake = lake
        self.landing_root = Path(landing_root)
        self.checkpoint = lake.root / "_checkpoints" / "bronze_loader"
        self.max_files_per_batch = max_files_per_batch

    def _write_batch(self, batch: DataFrame, batch_id: int, run_id: str) -> None:
        landed = batch.withColumn("landing_file", F.col("_metadata.file_path")).persist()
        try:
            offered = {row.kind: row["count"] for row in landed.groupBy("kind").count().collect()}
            for kind in sorted(offered):
                table, transform = ROUTES[kind]
                rows = transform(landed)
                # What the batch offered is recorded in its commits, where the run reads it
                # back: this function may run in a Spark Connect engine's Python worker.
                done = {RUN_METADATA: {"run": run_id, "batch": batch_id, "rows": offered[kind]}}
                # A row without a source time is dated by when it arrived: a retained message
                # received again on a later day must still land once, so its id is looked up in
                # the days before too. Rows with a source time keep the one-partition lookup.
                undated = F.col("source_timestamp").isNull()
                before = self.lake.version(table)
                with self.lake.commit_metadata(done, batch.sparkSession):
                    if kind == "quarantine":
                        self.lake.insert_new(table, rows, lookback_days=LOOKBACK_DAYS)
                    elif "source_timestamp" in rows.columns:
                        self.lake.insert_new(
                            table, rows.where(undated), lookback_days=LOOKBACK_DAYS
                        )
                        self.lake.insert_new(table, rows.where(~undated))
                    else:
                        self.lake.insert_new(table, rows)
                if self.lake.version(table) == before:  # all replayed: Delta committed nothing
                    self.lake.note(table, done, batch.sparkSession)
        finally:
            landed.unpersist()

    def _offered(self, before: dict[str, int], run_id: str) -> tuple[int, dict[str, int]]:
        """The batches of run `run_id` and the rows they offered per table, from the commits
        made after the versions `before` (a batch's rows are recorded in each of its commits)."""
        batches, counts = set(), {}
        for table, version in before.items():
            per_batch = {}
            for commit in self.lake.commits_after(table, version):
                recorded = commit.user_metadata.get(RUN_METADATA) or {}
                if recorded.get("run") == run_id:
                    per_batch[recorded["batch"]] = recorded["rows"]
            if per_batch:
                counts[table] = sum(per_batch.values())
                batches |= set(per_batch)
        return len(batches), counts

    def run(self) -> LoaderRun:
        """Load every file landed and not loaded yet, then stop (trigger `availableNow`)."""
        for table, _ in ROUTES.values():
            self.lake.create(table)
        self.landing_root.mkdir(parents=True, exist_ok=True)
        before = {table: self.lake.version(table) for table, _ in ROUTES.values()}
        run_id = uuid.uuid4().hex
        start = time.perf_counter()
        stream = (
            self.lake.spark.readStream.schema(spark_schema())
            .option("recursiveFileLookup", "true")
            .option("pathGlobFilter", "*.parquet")
            .option("maxFilesPerTrigger", self.max_files_per_batch)
            .parquet(str(self.landing_root))
            .select("*", "_metadata")
        )

        def write(batch: DataFrame, batch_id: int) -> None:
            self._write_batch(batch, batch_id, run_id)

        query = (
            stream.writeStream.foreachBatch(write)
            .option("checkpointLocation", str(self.checkpoint))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        batches, counts = self._offered(before, run_id)
        return LoaderRun(batches, counts, time.perf_counter() - start)
