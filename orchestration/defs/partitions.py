"""Daily partitions (UTC) of the ML scoring tables: predictions and drift are scored per day."""

from __future__ import annotations

from datetime import date

import dagster as dg

DAILY = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC", end_offset=1)


def partition_day(context: dg.AssetExecutionContext) -> date:
    """The UTC day of a daily-partitioned run."""
    return date.fromisoformat(context.partition_key)
