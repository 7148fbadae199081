"""A process starts Spark and writes Delta with every proxy pointing at a closed port: the session
reads its jars locally and needs no network (a JVM of its own: integration)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from lakehouse.settings import REPO_ROOT

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def test_delta_write_with_proxies_pointing_at_a_closed_port(tmp_path):
    port = _closed_port()
    proxy = " ".join(
        f"-D{scheme}.proxyHost=127.0.0.1 -D{scheme}.proxyPort={port}"
        for scheme in ("http", "https", "ftp")
    )
    script = textwrap.dedent(
        """
        from lakehouse.lake import open_lake
        lake = open_lake()
        lake.create_all()
        lake.spark.range(5).write.format("delta").save(str(lake.root / "scratch"))
        print("rows", lake.spark.read.format("delta").load(str(lake.root / "scratch")).count())
        print("tables", len(lake.spark.catalog.listTables("bronze")))
        """
    )
    env = {
        **os.environ,
        "JAVA_TOOL_OPTIONS": proxy + " -DsocksProxyHost=127.0.0.1 -DsocksProxyPort=" + str(port),
        "PLANTLAKE_LAKE_ROOT": str(tmp_path / "lake"),
        "PLANTLAKE_SPARK_MASTER": "local[1]",
        "PLANTLAKE_SPARK_DRIVER_MEMORY": "1g",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rows 5" in done.stdout and "tables 5" in done.stdout
    assert "Picked up JAVA_TOOL_OPTIONS" in done.stderr  # the JVM really ran with the proxies
