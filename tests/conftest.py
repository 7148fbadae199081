"""Fixtures every test may use: one SparkSession for the whole run, a fresh lake per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


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
