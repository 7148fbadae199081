"""Weeks of plant history for model training: a historian export of the simulated plant loaded
into bronze and built into silver and gold by the Dagster asset graph (job refresh)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import plant
from lakehouse.lake import Lake
from lakehouse.plant_model import install_model


@dataclass(frozen=True)
class History:
    first_day: date
    days: int
    readings: int
    failures: int
    seconds_generate: float
    seconds_load: float
    seconds_build: float
    out_dir: Path


def build_history(
    lake: Lake,
    *,
    first_day: date,
    days: int,
    seed: int = 1,
    sample_s: int = 60,
) -> History:
    """Generate `days` days from `first_day` (analog tags every `sample_s` s, no auxiliary
    tags), load them into bronze, and rebuild silver and gold for those days."""
    from ingestion.backfill import load_mes_backfill, load_uns_backfill
    from orchestration.materialize import materialize
    from plant.backfill import backfill
    from plant.config import load_plant_config

    install_model(lake.root, plant.MODEL_FILE)
    out = lake.root / "_backfill" / f"history-seed={seed}"
    t0 = time.perf_counter()
    summary = backfill(
        load_plant_config(),
        seed,
        days,
        out,
        datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC),
        sample_s=sample_s,
        aux=False,
    )
    t1 = time.perf_counter()
    load_uns_backfill(lake, out / "uns")
    load_mes_backfill(lake, out / "mes")
    t2 = time.perf_counter()
    run = materialize(lake)
    if not run.success:
        raise RuntimeError(f"building silver and gold of the history failed:\n{run.failure}")
    t3 = time.perf_counter()
    return History(
        first_day, days, summary.readings, summary.failures, t1 - t0, t2 - t1, t3 - t2, out
    )
