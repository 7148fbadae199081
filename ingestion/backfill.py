"""Load a plant backfill (unified-namespace Parquet files) into bronze, idempotently.

A backfill is history the plant (or `plantlake plant backfill`) wrote without servers, in the
exact payloads its MQTT publisher sends; loading it twice adds nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.lake import Lake

TABLE = "bronze.mqtt_messages"


def uns_backfill_to_bronze(uns: DataFrame, *, source: str, batch_id: str) -> DataFrame:
    """Rows of a UNS backfill (`topic`, `payload`, `timestamp`, …) as `bronze.mqtt_messages` rows.

    The record id hashes source, topic and payload; the payload holds the source timestamp, so
    every reading has its own id and a replayed file maps onto the same ids.

    >>> uns_backfill_to_bronze(spark.read.parquet("backfill/uns"), source="plant", batch_id="b1")
    """
    return uns.select(
        F.sha2(
            F.concat_ws("\u0000", F.lit(source), F.col("topic"), F.col("payload").cast("string")),
            256,
        ).alias("record_id"),
        F.col("topic"),
        F.col("payload").cast("binary").alias("payload"),
        F.lit(1).cast("int").alias("qos"),
        F.col("timestamp").cast("timestamp").alias("source_timestamp"),
        F.lit(source).alias("source"),
        # No connector received a backfill: it counts as received when the plant sent it.
        F.col("timestamp").cast("timestamp").alias("received_at"),
        F.current_timestamp().alias("ingested_at"),
        F.input_file_name().alias("landing_file"),
        F.lit(batch_id).alias("batch_id"),
        F.to_date(F.col("timestamp").cast("timestamp")).alias("event_date"),
    )


@dataclass(frozen=True)
class BackfillLoad:
    """What one load did: rows read from the files, rows new to bronze, the table version."""

    rows_read: int
    rows_added: int
    version: int


def load_uns_backfill(
    lake: Lake, uns_dir: Path | str, *, source: str = "plant-backfill"
) -> BackfillLoad:
    """Insert the backfill's readings that bronze does not hold yet."""
    lake.create(TABLE)
    files = lake.spark.read.parquet(str(uns_dir))
    rows = uns_backfill_to_bronze(
        files, source=source, batch_id=f"backfill-{uuid.uuid4().hex[:12]}"
    )
    before = lake.read(TABLE).count()
    version = lake.insert_new(TABLE, rows)
    after = lake.read(TABLE).count()
    return BackfillLoad(rows_read=files.count(), rows_added=after - before, version=version)
