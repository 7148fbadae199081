"""Real servers for the ingestion tests: Mosquitto and PostgreSQL on free loopback ports."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from lakehouse.services.mosquitto import start_mosquitto
from lakehouse.services.postgres import start_postgres


@pytest.fixture
def broker():
    base = Path(tempfile.mkdtemp(prefix="plantlake-mqtt-"))
    base.chmod(0o755)  # reachable by the broker's user (mosquitto) when we are root
    b = start_mosquitto(base / "mosquitto", username="plantlake", password="s3cret")
    yield b
    b.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres():
    base = Path(
        tempfile.mkdtemp(prefix="plantlake-pg-")
    )  # reachable by the server user when we are root
    base.chmod(0o755)
    pg = start_postgres(base / "pg", user="plantlake", password="s3cret", dbname="postgres")
    yield pg
    pg.stop()
    shutil.rmtree(base, ignore_errors=True)
