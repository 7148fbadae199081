"""The warm engine: one `plantlake engine` (Spark Connect on 127.0.0.1) serves the lake's catalog
to client processes, whose lake helpers (create, upsert, insert-new, recorded progress, change
feed, history) run through it as SQL; a client without the lake's token is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from lakehouse import engine
from lakehouse.services.ports import free_port, port_open
from lakehouse.services.processes import ProcessRef, spawn, stop_family, wait_ready
from lakehouse.settings import REPO_ROOT

pytestmark = pytest.mark.integration

WRITER = textwrap.dedent(
    """
    import json
    from datetime import UTC, datetime
    from lakehouse.lake import open_lake

    lake = open_lake()
    out = {"connect": type(lake.spark).__module__.startswith("pyspark.sql.connect")}
    lake.create_all()
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    ddl = ("source string, source_table string, watermark_ts timestamp, "
           "watermark_key string, rows_extracted bigint, updated_at timestamp")
    rows = lambda n: lake.spark.createDataFrame(
        [("mes", f"mes.t{i}", t0, str(i), n, t0) for i in range(3)], ddl)
    lake.upsert("ops.watermarks", rows(1))
    lake.upsert("ops.watermarks", rows(1))
    out["after_twice"] = lake.read("ops.watermarks").count()
    with lake.recorded("ops.watermarks", {"bronze.x": 7}):
        lake.upsert("ops.watermarks", rows(2))
    out["progress"] = lake.progress("ops.watermarks")
    q = ("record_id string, address string, raw binary, reason_code string, detail string, "
         "source string, received_at timestamp, ingested_at timestamp, landing_file string, "
         "batch_id string, event_date date")
    bad = lambda *ids: lake.spark.createDataFrame(
        [(i, "t/x", b"{", "invalid_json", "d", "mqtt", t0, t0, "f", "b", t0.date()) for i in ids], q)
    lake.insert_new("bronze.quarantine", bad("a", "b"))
    lake.insert_new("bronze.quarantine", bad("b", "c"))
    out["quarantine"] = lake.read("bronze.quarantine").count()
    out["history"] = lake.spark.sql("DESCRIBE HISTORY ops.watermarks").count()
    out["change_feed"] = (
        lake.spark.read.format("delta").option("readChangeFeed", "true")
        .option("startingVersion", 0).table("ops.watermarks").count()
    )
    out["info_rows"] = lake.info("ops.watermarks").rows
    print(json.dumps(out))
    """
)
LOADER = textwrap.dedent(
    """
    import json
    from datetime import UTC, datetime
    from ingestion.bronze_loader import BronzeLoader
    from ingestion.landing import LandingRecord, LandingZone
    from lakehouse.lake import open_lake

    lake = open_lake()
    t0 = datetime(2026, 3, 1, 6, tzinfo=UTC)
    message = lambda i: LandingRecord(
        "mqtt", "uns", f"acme/berlin/a/l/c/cnc01/t{i}", b'{"value": %d}' % i, t0, t0, {"qos": "1"}
    )
    zone = LandingZone(lake.root / "_landing")
    zone.write_batch("uns", [message(i) for i in range(30)])
    zone.write_batch("uns", [message(i) for i in range(20, 40)])  # 10 sent again
    loader = BronzeLoader(lake, zone.root)
    first, again = loader.run(), loader.run()
    out = {
        "connect": type(lake.spark).__module__.startswith("pyspark.sql.connect"),
        "first": [first.batches, first.rows_read_by_table],
        "again": [again.batches, again.rows_read_by_table],
        "rows": lake.read("bronze.mqtt_messages").count(),
    }
    print(json.dumps(out))
    """
)
REFUSED = textwrap.dedent(
    """
    import sys
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.remote(f"sc://localhost:{sys.argv[1]}/;token=wrong").create()
    try:
        spark.sql("SELECT 1").collect()
    except Exception as exc:
        print("refused:", type(exc).__name__, str(exc)[:300].replace(chr(10), " "))
    else:
        print("answered")
    """
)


@pytest.fixture(scope="module")
def warm_engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine-lake")
    port = free_port()
    env = {
        **os.environ,
        "PLANTLAKE_LAKE_ROOT": str(root),
        "PLANTLAKE_PORTS__ENGINE": str(port),
        "PLANTLAKE_SPARK_DRIVER_MEMORY": "2g",
        "PLANTLAKE_SPARK_SHUFFLE_PARTITIONS": "2",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    log = root.parent / "engine.log"
    process = spawn([sys.executable, "-m", "lakehouse.cli", "engine"], log, env=env, cwd=REPO_ROOT)
    try:
        ready = lambda: engine.running(root) is not None and port_open(port)  # noqa: E731
        wait_ready("engine", ready, process, log, timeout_s=300)
        yield root, port, env
    finally:
        stop_family(ProcessRef.of(process.pid))
    assert not (root / engine.FOLDER / "token").exists()  # removed when it stopped


def run(code_or_argv, env, *args) -> subprocess.CompletedProcess:
    argv = code_or_argv if isinstance(code_or_argv, list) else [sys.executable, "-c", code_or_argv]
    return subprocess.run(
        [*argv, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )


def test_clients_share_the_engines_catalog_and_write_through_it_as_sql(warm_engine):
    root, _, env = warm_engine
    assert (root / engine.FOLDER / "token").stat().st_mode & 0o777 == 0o600
    writer = run(WRITER, env)
    assert writer.returncode == 0, writer.stderr[-3000:]
    out = json.loads(writer.stdout.strip().splitlines()[-1])
    assert out["connect"] and out["after_twice"] == 3
    assert out["progress"] == {"bronze.x": 7}
    assert out["quarantine"] == 3 and out["info_rows"] == 3
    assert out["history"] >= 3 and out["change_feed"] == 3 + 3 + 3  # insert, pre/post images
    # another client process sees the table by name at once, through `plantlake sql`
    started = time.perf_counter()
    cli = run([sys.executable, "-m", "lakehouse.cli", "sql"], env, "SELECT sum(rows_extracted) AS n FROM ops.watermarks", "-f", "json")  # fmt: skip
    print(f"plantlake sql through the engine: {time.perf_counter() - started:.1f} s")
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert json.loads(cli.stdout) == [{"n": 6}]


def test_the_bronze_loader_runs_through_the_engine_and_reports_what_it_loaded(warm_engine):
    """Its micro-batches run in the engine's Python worker: what they offered comes back
    through their commits."""
    _, _, env = warm_engine
    loader = run(LOADER, env)
    assert loader.returncode == 0, loader.stderr[-3000:]
    out = json.loads(loader.stdout.strip().splitlines()[-1])
    assert out["connect"]
    assert out["first"] == [1, {"bronze.mqtt_messages": 50}]  # offered, the 10 again included
    assert out["again"] == [0, {}]  # nothing new landed
    assert out["rows"] == 40


def test_a_client_without_the_lakes_token_is_refused(warm_engine):
    _, port, env = warm_engine
    result = run(REFUSED, env, str(port))
    assert result.stdout.startswith("refused"), result.stdout + result.stderr[-2000:]
    assert "UNAUTHENTICATED" in result.stdout  # refused for its token, not for anything else


def test_a_client_of_another_lake_does_not_use_this_engine(warm_engine, tmp_path):
    from lakehouse.settings import load_settings

    assert engine.connect(load_settings(lake_root=tmp_path)) is None  # no engine of its own
