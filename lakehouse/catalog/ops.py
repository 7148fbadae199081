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
    TableSpec(
        layer="ops",
        name="transform_progress",
        description="Which Delta version of each upstream table an incremental transform has "
        "processed, so the next refresh reads only what came after it.",
        grain="one consumer × upstream table",
        columns=(
            Column(
                "consumer", "string", "the table being built, e.g. silver.readings", nullable=False
            ),
            Column("source_table", "string", "the upstream table read", nullable=False),
            Column(
                "last_version", "bigint", "highest upstream Delta version processed", nullable=False
            ),
            Column("updated_at", "timestamp", "when this was written (UTC)", nullable=False),
        ),
        primary_key=("consumer", "source_table"),
    ),
)
