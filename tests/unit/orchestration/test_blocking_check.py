"""A failing check on a silver table stops the gold assets that read it, and names the bad row."""

from datetime import date, datetime

from ingestion.backfill import mes_backfill_to_bronze
from orchestration.materialize import materialize


def test_a_bad_shift_blocks_gold_and_the_check_shows_the_row(lake, spark, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    lake.create_all()
    shift = spark.createDataFrame(
        [
            # a 16-hour "shift": someone typed 22:00 for 14:00 in the MES
            (
                "berlin-2026-03-02-early",
                "berlin",
                "early",
                date(2026, 3, 2),
                datetime(2026, 3, 2, 5),
                datetime(2026, 3, 2, 21),
                datetime(2026, 3, 2, 8, 45),
                datetime(2026, 3, 2, 9, 15),
                datetime(2026, 3, 2, 5),
                datetime(2026, 3, 1),
            )
        ],
        "shift_id string, site string, shift_name string, local_date date, start_time timestamp, "
        "end_time timestamp, break_start timestamp, break_end timestamp, "
        "maintenance_end timestamp, updated_at timestamp",
    )
    lake.insert_new(
        "bronze.mes_rows",
        mes_backfill_to_bronze(
            shift, source_table="mes.shift_calendar", key=["shift_id"], source="t", batch_id="b"
        ),
    )
    run = materialize(lake)
    assert not run.success
    failed = {c.asset: c for c in run.checks if not c.passed}
    assert failed["silver/shift_calendar"].severity == "error"
    assert "berlin-2026-03-02-early" in failed["silver/shift_calendar"].summary
    assert "planned_s" in failed["silver/shift_calendar"].summary
    # the steps that read the calendar wait; those that do not (master data, …) run
    assert {"gold/oee_shift", "gold/oee_line_day", "gold/quality_features"}.isdisjoint(
        run.materialized
    )
    assert "silver/work_orders" in run.written
    assert "silver_calendar" in run.failure  # the step whose blocking check failed

    # nothing new: the failed result is carried forward, and gold still waits
    again = materialize(lake)
    assert not again.success
    carried = {c.asset: c for c in again.checks}["silver/shift_calendar"]
    assert carried.carried and not carried.passed
    assert "gold/oee_shift" not in again.materialized
