"""`plantlake tables` and `plantlake sql` against a small lake, in-process."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from lakehouse import cli
from lakehouse.catalog import all_tables
from lakehouse.settings import load_settings

runner = CliRunner()


@pytest.fixture
def cli_lake(lake, spark, monkeypatch):
    monkeypatch.setattr(cli, "get_settings", lambda: load_settings(lake_root=lake.root))
    monkeypatch.setattr(cli.console, "width", 250)
    t0 = datetime(2026, 3, 1, 6, tzinfo=UTC)
    lake.create_all()
    lake.append(
        "ops.watermarks",
        spark.createDataFrame(
            [
                ("mes", "mes.work_orders", t0, "7", 120, t0),
                ("erp", "erp.products", t0, "P", 12, t0),
            ],
            "source string, source_table string, watermark_ts timestamp, watermark_key string, "
            "rows_extracted bigint, updated_at timestamp",
        ),
    )
    return lake


def test_tables_lists_every_table_with_rows(cli_lake):
    result = runner.invoke(cli.app, ["tables"])
    assert result.exit_code == 0, result.output
    for spec in all_tables():
        assert spec.full_name in result.output
    line = next(ln for ln in result.output.splitlines() if "ops.watermarks" in ln)
    assert "│ ops " in line and "│    2 │" in line


def test_sql_as_csv_and_json(cli_lake):
    query = "SELECT source_table, rows_extracted FROM ops.watermarks ORDER BY source_table"
    result = runner.invoke(cli.app, ["sql", query, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "source_table,rows_extracted",
        "erp.products,12",
        "mes.work_orders,120",
    ]
    result = runner.invoke(cli.app, ["sql", query, "-f", "json"])
    assert json.loads(result.stdout) == [
        {"source_table": "erp.products", "rows_extracted": 12},
        {"source_table": "mes.work_orders", "rows_extracted": 120},
    ]


@pytest.mark.parametrize(
    ("query", "condition"),
    [
        ("SELECT * FROM gold.no_such_table", "TABLE_OR_VIEW_NOT_FOUND"),
        ("SELEC 1", "PARSE_SYNTAX_ERROR"),
        ("SELECT no_such_column FROM ops.watermarks", "UNRESOLVED_COLUMN"),
    ],
)
def test_sql_error_prints_sparks_message_without_java_stack(cli_lake, query, condition):
    result = runner.invoke(cli.app, ["sql", query])
    assert result.exit_code == 1
    assert condition in result.output
    assert "\tat " not in result.output and "org.apache.spark" not in result.output
    assert "Traceback" not in result.output
