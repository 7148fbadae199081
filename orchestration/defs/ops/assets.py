"""Ops tables: written by the extractors and the incremental transforms as they run, so they are
observed, not materialized, by Dagster."""

from orchestration.defs import tables

ASSETS = [tables.spec("ops.watermarks"), tables.spec("ops.transform_progress")]
