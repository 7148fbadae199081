"""Ops: the lake's own bookkeeping (watermarks, checkpoints of extraction, run records)."""

from __future__ import annotations

from lakehouse.catalog.spec import Column, TableSpec

TABLES = (
    TableSpec(
        layer="ops",
        name="watermarks",
        description="How far each incremental extraction has read, so a restart resumes there.",
        grain="one source table of one source",
        columns=(
            Column(
                "source", "string", "name of the source in the ingestion config", nullable=False
            ),
            Column("source_table", "string", "schema.table in the source", nullable=False),
            Column("watermark_ts", "timestamp", "highest updated_at extracted (UTC)"),
            Column("watermark_key", "string", "key of the last row at watermark_ts, as JSON"),
            Column("rows_extracted", "bigint", "rows extracted by the last run"),
            Column(
                "updated_at", "timestamp", "when this watermark was written (UTC)", nullable=False
            ),
        ),
        primary_key=("source", "source_table"),
    ),
)
