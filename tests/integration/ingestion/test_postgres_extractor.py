"""Incremental MES extraction from a real PostgreSQL: new and updated rows, restarts, NULL keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.bronze_loader import BronzeLoader
from ingestion.landing import LandingZone
from ingestion.sql.extractor import PostgresExtractor, PostgresSourceConfig, SqlTable

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def landed(zone):
    files = zone.files()
    return pa.concat_tables([pq.read_table(f) for f in files]).to_pylist() if files else []


@pytest.fixture
def mes(postgres):
    with psycopg.connect(postgres.conninfo(), autocommit=True) as conn:
        conn.execute(
            """
            CREATE SCHEMA mes;
            CREATE TABLE mes.work_orders (
                work_order_id text, line text, status text, qty_planned int,
                updated_at timestamptz NOT NULL);
            CREATE SCHEMA erp;
            CREATE TABLE erp.products (product_id text PRIMARY KEY, name text, updated_at timestamptz);
            INSERT INTO erp.products VALUES ('P-1', 'bracket', now()), ('P-2', 'housing', now());
            """
        )
        rows = [
            (f"WO-{i:04d}", "line1", "released", 100 + i, T0 + timedelta(seconds=i))
            for i in range(25)
        ]
        conn.cursor().executemany("INSERT INTO mes.work_orders VALUES (%s, %s, %s, %s, %s)", rows)
    return postgres


def extractor(pg, zone, monkeypatch, page_rows=10):
    monkeypatch.setenv("TEST_PG_PASSWORD", pg.password)
    cfg = PostgresSourceConfig(
        name="mes",
        host=pg.host,
        port=pg.port,
        dbname=pg.dbname,
        user=pg.user,
        password_env="TEST_PG_PASSWORD",
        page_rows=page_rows,
        overlap_s=5,
        tables=[
            SqlTable(table="mes.work_orders", key=["work_order_id"]),
            SqlTable(table="erp.products", key=["product_id"], mode="full"),
        ],
    )
    return PostgresExtractor(cfg, zone)


def test_incremental_extraction_pages_resumes_and_sees_updates(mes, tmp_path, monkeypatch, lake):
    zone = LandingZone(lake.root / "_landing")
    first = extractor(mes, zone, monkeypatch)
    assert first.poll() == {"mes.work_orders": 25, "erp.products": 2}  # 3 pages of at most 10
    assert first.watermarks["mes.work_orders"].key == ["WO-0024"]

    with psycopg.connect(mes.conninfo(), autocommit=True) as conn:
        conn.execute(
            "UPDATE mes.work_orders SET status = 'completed', updated_at = %s WHERE work_order_id = 'WO-0003'",
            [T0 + timedelta(minutes=5)],
        )
        conn.execute(
            "INSERT INTO mes.work_orders VALUES ('WO-0100', 'line2', 'released', 7, %s)",
            [T0 + timedelta(minutes=5)],
        )
        conn.execute(
            "INSERT INTO mes.work_orders VALUES (NULL, 'line2', 'released', 7, %s)",
            [T0 + timedelta(minutes=6)],
        )

    restarted = extractor(mes, zone, monkeypatch)  # a restart resumes from the saved watermark
    assert restarted.watermarks["mes.work_orders"].updated_at == T0 + timedelta(seconds=24)
    polled = restarted.poll()
    # watermark 06:00:24 minus the 5 s overlap: WO-0019..WO-0024 (6 rows) are re-read, plus the 2 new
    # versions and the row with a NULL key
    assert polled["mes.work_orders"] == 6 + 2 + 1
    assert restarted.stats.quarantined == 1

    BronzeLoader(lake, zone.root).run()
    bronze = lake.read("bronze.mes_rows").where("source_table = 'mes.work_orders'")
    assert bronze.count() == 25 + 2  # re-read versions were not added twice
    versions = sorted(
        json.loads(r.row_json)["status"]
        for r in bronze.where('primary_key = \'{"work_order_id": "WO-0003"}\'').collect()
    )
    assert versions == ["completed", "released"]
    quarantine = lake.read("bronze.quarantine").collect()
    assert [(q.reason_code, q.address) for q in quarantine] == [("null_key", "mes.work_orders")]
    assert lake.read("bronze.mes_rows").where("source_table = 'erp.products'").count() == 2
