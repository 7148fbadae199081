"""`plantlake demo` end to end on a small lake: plant history into bronze, idempotently."""

from __future__ import annotations

from typer.testing import CliRunner

from lakehouse.settings import load_settings
from orchestration import demo


def test_demo_goes_from_plant_to_gold_through_dagster_and_matches_ground_truth(lake, monkeypatch):
    monkeypatch.setattr(
        "lakehouse.settings.get_settings", lambda: load_settings(lake_root=lake.root)
    )
    monkeypatch.setattr(demo.console, "width", 200)
    result = CliRunner().invoke(
        demo.app,
        [
            "--days",
            "1",
            "--seed",
            "2",
            "--live-minutes",
            "0",
            "--history-days",
            "0",
            "--sample-s",
            "60",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "added 0 rows" in result.output  # the replay
    bronze = lake.read("bronze.mqtt_messages")
    first_load = next(
        ln for ln in result.output.splitlines() if "added" in ln and "added 0" not in ln
    )
    added = int(first_load.split("added ")[1].split(" rows")[0].replace(",", ""))
    assert bronze.count() == added > 200_000
    assert bronze.select("record_id").distinct().count() == added
    lines = {
        r.line
        for r in lake.spark.sql(
            "SELECT DISTINCT split(topic, '/')[3] AS line FROM bronze.mqtt_messages"
        ).collect()
    }
    assert lines == {"line1", "line2", "line3"}

    # silver and gold through Dagster, with the checks run on them
    assert "job refresh" in result.output and "  success in" in result.output, result.output
    assert "gold.oee_line_day on 2026-03-02" in result.output
    line_days = lake.read("gold.oee_line_day").where("local_date = DATE'2026-03-02'").collect()
    assert len(line_days) == 5 and all(0 < r.oee < 1 for r in line_days)
    from orchestration.truth import compare_with_truth

    truth = compare_with_truth(
        lake, lake.root / "_backfill" / "seed=2" / "truth" / "shifts.parquet"
    )
    assert truth.shifts >= 20
    assert truth.max_availability_pp <= 0.5
    assert truth.max_performance_pp <= 0.5
    assert truth.max_quality_pp <= 0.5


def test_live_plant_reaches_bronze_through_every_connector_and_reconciles(lake):
    from orchestration.live import run_live_demo

    lake.create_all()
    summary, counts = run_live_demo(lake, plant_seconds=600, speed=60, seed=3)
    by_source = {c.source.split()[0]: c for c in counts}
    uns, spb, opc, mes = (
        by_source[k] for k in ("live-uns", "live-sparkplug", "live-opcua", "live-mes")
    )
    assert uns.sent == summary.uns_messages > 1000
    assert (
        uns.sent == uns.accepted + uns.quarantined
        and uns.in_bronze == uns.accepted
        and uns.quarantined == 0
    )
    assert (
        spb.sent == spb.accepted + spb.quarantined
        and spb.in_bronze == spb.accepted
        and spb.quarantined == 0
    )
    assert spb.accepted >= summary.sparkplug_messages
    assert opc.in_bronze == opc.accepted > 1000
    assert opc.quarantined == 0  # no gap: ingestion stopped before the plant's server
    assert (
        mes.in_bronze == mes.sent > 0
    )  # every row of the database, at least in its latest version
