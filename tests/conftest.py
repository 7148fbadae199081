"""Fixtures every test may use: one SparkSession for the whole run, a fresh lake per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

# Fuzzing: a bounded run in `make test`, a long one with `make fuzz` (HYPOTHESIS_PROFILE=fuzz).
# No deadline: a busy CI machine must not turn a slow example into a failure.
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "50000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory: pytest.TempPathFactory):
    from lakehouse.settings import load_settings

    return load_settings(
        lake_root=tmp_path_factory.mktemp("session-lake"),
        spark_master="local[2]",
        spark_driver_memory="3g",
        spark_shuffle_partitions=2,
    )


@pytest.fixture(scope="session")
def spark(test_settings):
    """The one SparkSession of the test run (Delta from the local jars)."""
    from lakehouse.spark import get_spark

    session = get_spark(test_settings)
    yield session
    session.stop()


@pytest.fixture
def lake(spark, tmp_path: Path):
    """An empty lake of the test's own, its tables registered by name in the shared session."""
    from lakehouse.lake import Lake

    lake = Lake(spark, tmp_path / "lake")
    lake.attach()
    return lake


HISTORY_FIRST_DAY = "2026-02-16"
HISTORY_DAYS = 14


@pytest.fixture(scope="session")
def _history_lake(spark, tmp_path_factory: pytest.TempPathFactory):
    """14 days of the simulated plant (analog tags every 5 min, seed 1) in bronze, silver and
    gold: built once per test run (about two minutes), shared read-only by the ML, notebook
    and workbench tests. Take it through `small_lake`, which registers its tables by name."""
    from datetime import date

    from lakehouse.lake import Lake
    from orchestration.history import build_history

    lake = Lake(spark, tmp_path_factory.mktemp("history") / "lake")
    lake.create_all()
    build_history(
        lake, first_day=date.fromisoformat(HISTORY_FIRST_DAY), days=HISTORY_DAYS, sample_s=300
    )
    return lake


@pytest.fixture
def small_lake(_history_lake):
    """The shared 14-day lake, its tables registered by name in the test's SparkSession.

    Tests must not change its tables (train models, score into gold only in a copy or with
    tables no other test reads); its MLflow store is `<lake>/_mlflow/`.
    """
    _history_lake.attach()
    return _history_lake
