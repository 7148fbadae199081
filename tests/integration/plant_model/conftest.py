"""Fixtures for the plant-model tests: a real Mosquitto, running MQTT connectors, and a lake
followed from its landing zone through bronze and the refresh to gold."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from ingestion.bronze_loader import BronzeLoader
from ingestion.landing import LandingZone
from ingestion.mqtt.connector import MqttConnector, MqttSourceConfig
from lakehouse.services.mosquitto import start_mosquitto

MODELS = Path(__file__).parent / "models"
PASSWORD_ENV = "PLANTLAKE_TEST_MQTT_PASSWORD"


def poll_until(predicate: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Poll `predicate` until it holds; fail naming `what` when it does not within the timeout."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting until {what}")
        time.sleep(0.02)


class PlantLake:
    """One test's lake: its landing zone, the bronze loader, the refresh with a plant model."""

    def __init__(self, lake):
        self.lake = lake
        # where the Dagster bronze loader reads (orchestration/defs/bronze/assets.py)
        self.landing = LandingZone(lake.root / "_landing")

    def load_bronze(self) -> dict[str, int]:
        """Everything landed so far into bronze; the rows offered to each table."""
        return BronzeLoader(self.lake, self.landing.root).run().rows_read_by_table

    def refresh(self, model: str):
        """Make `models/<model>` the lake's plant model and build silver and gold from bronze."""
        from lakehouse.plant_model import install_model
        from orchestration.materialize import materialize

        install_model(self.lake.root, MODELS / model)
        run = materialize(self.lake)
        assert run.success, run.failure
        return run

    def rows(self, table: str, *where: str) -> list:
        df = self.lake.read(table)
        for condition in where:
            df = df.where(condition)
        return df.collect()

    def silver_rows(self, source: str) -> int:
        return self.lake.read("silver.readings").where(F.col("source") == source).count()

    def unmapped(self, source: str) -> dict[tuple[str, str], int]:
        """(address, reason) -> values, summed over days, of silver.unmapped_addresses."""
        out: dict[tuple[str, str], int] = {}
        for r in self.rows("silver.unmapped_addresses", f"source = '{source}'"):
            out[(r.address, r.reason)] = out.get((r.address, r.reason), 0) + r.value_count
        return out

    def oee(self, local_date: date) -> dict[str, dict]:
        """gold.oee_shift rows of a local date by equipment id."""
        rows = self.rows("gold.oee_shift", f"local_date = DATE'{local_date}'")
        return {r.equipment_id: r.asDict() for r in rows}

    def states(self, equipment_id: str) -> list[tuple]:
        rows = self.rows("silver.equipment_states", f"equipment_id = '{equipment_id}'")
        return sorted((r.start_time, r.state) for r in rows)


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """`wait_until(predicate, what, timeout_s=30)`: poll a condition, never a fixed sleep."""
    return poll_until


@pytest.fixture
def plant_lake(lake) -> PlantLake:
    return PlantLake(lake)


@pytest.fixture
def broker():
    base = Path(tempfile.mkdtemp(prefix="plantlake-mqtt-"))
    base.chmod(0o755)  # reachable by the broker's user (mosquitto) when we are root
    b = start_mosquitto(base / "mosquitto", username="plantlake", password="s3cret")
    yield b
    b.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def mqtt_connector(broker, plant_lake, monkeypatch):
    """`start(name, topics)`: our MQTT connector landing into the test's lake, subscribed when
    it returns; stopped (what it holds landed) when the test ends or by `connector.stop()`."""
    monkeypatch.setenv(PASSWORD_ENV, broker.password)
    running: list[tuple[threading.Event, threading.Thread]] = []

    def start(name: str, topics: list[str]) -> MqttConnector:
        cfg = MqttSourceConfig(
            name=name,
            host=broker.host,
            port=broker.port,
            client_id=f"plantlake-{name}",
            topics=topics,
            username=broker.username,
            password_env=PASSWORD_ENV,
            flush_interval_s=0.1,
        )
        connector = MqttConnector(cfg, plant_lake.landing)
        stop = threading.Event()
        thread = threading.Thread(target=connector.run, args=(stop,), daemon=True)
        thread.start()
        running.append((stop, thread))
        poll_until(connector.subscribed.is_set, f"connector {name} is subscribed to {topics}")

        def stop_connector() -> None:
            stop.set()
            thread.join(15)
            assert not thread.is_alive(), f"connector {name} did not stop"

        connector.stop = stop_connector  # type: ignore[attr-defined]
        return connector

    yield start
    for stop, thread in running:
        stop.set()
        thread.join(15)
