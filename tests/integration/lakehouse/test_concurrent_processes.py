"""Three processes open the same lake at once and each reads a table by name."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import pytest

from lakehouse.settings import REPO_ROOT

pytestmark = pytest.mark.integration

READER = textwrap.dedent(
    """
    import sys
    from lakehouse.lake import open_lake
    lake = open_lake()
    n = lake.spark.sql("SELECT count(*) AS n FROM ops.watermarks").first()["n"]
    keys = sorted(r.source_table for r in lake.spark.table("ops.watermarks").collect())
    print(f"process {sys.argv[1]} read {n} rows: {keys}")
    """
)


def test_three_processes_open_the_lake_at_once(lake, spark):
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    lake.create_all()
    lake.append(
        "ops.watermarks",
        spark.createDataFrame(
            [("mes", f"mes.t{i}", t0, str(i), i, t0) for i in range(3)],
            "source string, source_table string, watermark_ts timestamp, watermark_key string, "
            "rows_extracted bigint, updated_at timestamp",
        ),
    )
    env = {
        **os.environ,
        "PLANTLAKE_LAKE_ROOT": str(lake.root),
        "PLANTLAKE_SPARK_MASTER": "local[1]",
        "PLANTLAKE_SPARK_DRIVER_MEMORY": "1g",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(i)],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for i, (p, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert p.returncode == 0, err[-3000:]
        assert f"process {i} read 3 rows: ['mes.t0', 'mes.t1', 'mes.t2']" in out
