"""Fixtures every test may use: one SparkSession for the whole run, a fresh lake per test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

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


@pytest.fixture(autouse=True)
def _umask_kept():
    """The `plantlake` command makes its process's umask 077; a test that runs it in-process
    (CliRunner) must not change the modes of what the tests after it create."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


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


@contextlib.contextmanager
def _sql_endpoint(lake_root: Path, log: Path) -> Iterator[SimpleNamespace]:
    """`plantlake sql-endpoint` over `lake_root` in a process of its own, as `make up` runs it:
    `.wait_ready()` once the lake is written (the JVM starts meanwhile), stopped on exit."""
    from lakehouse.services.ports import free_port, stop_process
    from lakehouse.sql_endpoint import jdbc_url

    port = free_port()
    env = dict(
        os.environ,
        SPARK_LOCAL_IP="127.0.0.1",
        PLANTLAKE_LAKE_ROOT=str(lake_root),
        PLANTLAKE_SPARK_MASTER="local[2]",
        PLANTLAKE_SPARK_DRIVER_MEMORY="1g",
        PLANTLAKE_SPARK_SHUFFLE_PARTITIONS="2",
    )
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "lakehouse.cli", "sql-endpoint"),
            "--refresh-s",
            "1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def wait_ready(timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        while "ready" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the endpoint did not start (exit {process.poll()}); log {log}:\n"
                    + log.read_text()[-4000:]
                )
            time.sleep(0.5)

    def beeline(user: str, password: str, *args: str, url: str = "") -> subprocess.CompletedProcess:
        """beeline signed in as `user` (the password from a private file: -p shows in `ps`)."""
        import pyspark

        from lakehouse.private import write_private

        password_file = write_private(log.with_name(f"beeline-{user}.password"), password)
        return subprocess.run(
            [
                *(str(Path(sys.executable).parent / "beeline"), "-u", url or jdbc_url(port)),
                *("-n", user, "-w", str(password_file), *args),
            ],
            env=dict(os.environ, SPARK_HOME=str(Path(pyspark.__file__).parent)),
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        yield SimpleNamespace(
            process=process, port=port, log=log, env=env, wait_ready=wait_ready, beeline=beeline
        )
    finally:
        stop_process(process)
        if process.poll() is None:  # stop_process gave up: the group we started, by its id
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def sql_endpoint_process():
    """A context manager (lake root, log file) → the running endpoint (process, port, log, env)."""
    return _sql_endpoint
