"""Load a plant backfill (unified-namespace Parquet files) into bronze, idempotently.

A backfill is history the plant (or `plantlake plant backfill`) wrote without servers, in the
exact payloads its MQTT publisher sends; loading it twice adds nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.lake import Lake

TABLE = "bronze.mqtt_messages"
MES_TABLE = "bronze.mes_rows"


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


def mes_backfill_to_bronze(
    rows: DataFrame, *, source_table: str, key: list[str], source: str, batch_id: str
) -> DataFrame:
    """Row versions of one MES/ERP table (its own columns) as `bronze.mes_rows` rows.

    The row is kept whole as JSON, its key as sorted JSON, as the database extractor lands them.
    """
    row_json = F.to_json(F.struct(*[F.col(c) for c in rows.columns]))
    key_json = F.to_json(F.struct(*[F.col(k) for k in sorted(key)]))
    updated = F.col("updated_at").cast("timestamp")
    return rows.select(
        F.sha2(F.concat_ws("\u0000", F.lit(source), F.lit(source_table), row_json), 256).alias(
            "record_id"
        ),
        F.lit(source_table).alias("source_table"),
        key_json.alias("primary_key"),
        row_json.alias("row_json"),
        updated.alias("updated_at"),
        F.lit("full").alias("extract_mode"),
        F.lit(source).alias("source"),
        updated.alias("received_at"),
        F.current_timestamp().alias("ingested_at"),
        F.input_file_name().alias("landing_file"),
        F.lit(batch_id).alias("batch_id"),
        F.to_date(updated).alias("event_date"),
    )


def load_mes_backfill(
    lake: Lake, mes_dir: Path | str, *, source: str = "plant-backfill"
) -> BackfillLoad:
    """Insert the backfill's MES/ERP row versions (`mes/<schema.table>/*.parquet`) bronze lacks."""
    lake.create(MES_TABLE)
    batch_id = f"backfill-{uuid.uuid4().hex[:12]}"
    frames, read = [], 0
    for folder in sorted(p for p in Path(mes_dir).iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.parquet"))
        if not files:
            continue
        metadata = pq.read_schema(files[0]).metadata or {}
        key = metadata.get(b"primary_key", b"").decode().split(",")
        if key == [""]:
            raise ValueError(f"{files[0]}: no primary_key in the file metadata")
        rows = lake.spark.read.parquet(str(folder))
        read += rows.count()
        frames.append(
            mes_backfill_to_bronze(
                rows, source_table=folder.name, key=key, source=source, batch_id=batch_id
            )
        )
    if not frames:
        return BackfillLoad(0, 0, lake.version(MES_TABLE))
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    before = lake.read(MES_TABLE).count()
    version = lake.insert_new(MES_TABLE, union)
    return BackfillLoad(
        rows_read=read, rows_added=lake.read(MES_TABLE).count() - before, version=version
    )
