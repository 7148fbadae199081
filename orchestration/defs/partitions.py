"""Daily partitions (UTC) of every time-series table, today included so the hourly refresh has it."""

from __future__ import annotations

import dagster as dg

DAILY = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC", end_offset=1)
