"""Suites run through the wrapper on tiny frames of the catalog schema: clean rows pass, each bad
row fails the expectation written for it and shows up among its failing rows."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from expectations import NoSuiteError, get_suite, tables_with_suites, validate_table
from expectations.suite import SuiteError
from lakehouse.catalog import get_table

CNC = "acme.berlin.machining.line1.cell1.cnc01"
PRESS = "acme.berlin.machining.line1.cell2.press01"
T0 = datetime(2026, 3, 2, 6, 0, 0)


def frame(spark, table: str, rows: list[dict]):
    """A DataFrame with exactly the catalog schema of `table`; missing fields are null."""
    spec = get_table(table)
    return spark.createDataFrame(
        [tuple(r.get(c) for c in spec.column_names) for r in rows], spec.schema
    )


def failed(result) -> dict[tuple[str, tuple[str, ...]], object]:
    """The failed expectations by (GX type, columns)."""
    return {(e.expectation, e.columns): e for e in result.failures}


# silver.readings, ranges from silver.tags ---------------------------------------------------


def reading(tag: str, second: int, value: float | None, **kw) -> dict:
    return {
        "equipment_id": CNC,
        "tag": tag,
        "event_time": datetime(2026, 3, 2, 6, 0, second),
        "value": value,
        "value_str": None if value is None else str(value),
        "quality": "good",
        "source": "opcua",
        "event_date": date(2026, 3, 2),
    } | kw


@pytest.fixture(scope="module")
def tags(spark):
    return frame(
        spark,
        "silver.tags",
        [
            {"equipment_id": CNC, "tag": "spindle_temp_c", "low": 0.0, "high": 120.0},
            {"equipment_id": CNC, "tag": "parts_total", "low": 0.0, "is_counter": True},
            {"equipment_id": CNC, "tag": "state", "datatype": "Enum"},
            {"equipment_id": CNC, "tag": "feed_rate", "datatype": "Double"},
        ],
    )


CLEAN_READINGS = [
    reading("spindle_temp_c", 0, 45.0),
    reading("spindle_temp_c", 10, 120.0, source="uns", quality="uncertain"),  # high is allowed
    reading("parts_total", 0, 100.0),
    reading("parts_total", 10, 101.0),
    reading("parts_total", 20, 3.0),  # a reset: restarts from zero
    reading("state", 0, None, value_str="running", source="sparkplug"),
    reading("feed_rate", 0, -5.0),  # a tag without a range: nothing to check
    reading("spindle_temp_c", 50, -9999.0, quality="bad"),  # the source says it is bad
]


def test_clean_readings_pass(spark, tags):
    result = validate_table(
        "silver.readings", frame(spark, "silver.readings", CLEAN_READINGS), {"tags": tags}
    )
    assert result.success, result.summary()
    assert result.severity == "error"  # silver blocks when it fails
    assert result.rows_checked == 8
    assert {e.unexpected_count for e in result.expectations if e.columns} == {0}
    assert (
        result.summary()
        == f"OK silver.readings: all {len(result.expectations)} checks passed on 8 rows"
    )


@pytest.fixture(scope="module")
def bad_readings(spark, tags):
    rows = [
        *CLEAN_READINGS,
        reading("spindle_temp_c", 20, 812.0),  # out of the tag's range: a wrong unit?
        reading("spindle_temp_c", 30, 50.0, quality="excellent"),
        reading("spindle_temp_c", 40, 51.0, source="modbus"),
        reading("parts_total", 30, 2.0),  # 3 → 2: not a reset, a glitch
        reading("state", 0, None, value_str="idle", source="uns"),  # same key as the clean one
        reading("coolant_level", 0, 80.0),  # a tag silver.tags does not know
    ]
    return validate_table("silver.readings", frame(spark, "silver.readings", rows), {"tags": tags})


def test_bad_readings_fail_the_expectation_written_for_them(bad_readings):
    fails = failed(bad_readings)
    assert set(fails) == {
        ("expect_column_values_to_be_in_set", ("value_in_range",)),
        ("expect_column_values_to_be_in_set", ("quality",)),
        ("expect_column_values_to_be_in_set", ("source",)),
        ("expect_column_values_to_be_in_set", ("counter_step_ok",)),
        ("expect_column_values_to_be_in_set", ("tag_listed",)),
        ("expect_compound_columns_to_be_unique", ("equipment_id", "tag", "event_time")),
    }
    assert not bad_readings.success and bad_readings.blocking

    in_range = fails["expect_column_values_to_be_in_set", ("value_in_range",)]
    assert in_range.unexpected_count == 1
    assert [(r["value"], r["tag_low"], r["tag_high"]) for r in in_range.failing_rows] == [
        (812.0, 0.0, 120.0)
    ]
    quality = fails["expect_column_values_to_be_in_set", ("quality",)]
    assert [r["quality"] for r in quality.failing_rows] == ["excellent"]
    assert quality.severity == "error"
    key = fails["expect_compound_columns_to_be_unique", ("equipment_id", "tag", "event_time")]
    assert sorted(r["value_str"] for r in key.failing_rows) == ["idle", "running"]
    # all 14 rows have a quality; 1 is wrong
    assert quality.unexpected_percent == pytest.approx(100 / 14)


def test_counter_glitch_is_a_warning_and_shows_the_previous_value(bad_readings):
    step = failed(bad_readings)["expect_column_values_to_be_in_set", ("counter_step_ok",)]
    assert step.severity == "warn"
    assert [(r["value"], r["counter_previous_value"]) for r in step.failing_rows] == [(2.0, 3.0)]


def test_summary_has_one_readable_line_per_failure_blocking_first(bad_readings):
    lines = bad_readings.summary().splitlines()
    assert len(lines) == 6
    assert lines[-1].startswith("WARN silver.readings: a counter tag never decreases")
    assert (
        "ERROR silver.readings: quality is good, uncertain or bad — 1 of 14 rows fail, e.g. "
        f"quality='excellent' at equipment_id='{CNC}', tag='spindle_temp_c', "
        "event_time=2026-03-02 06:00:30"
    ) in lines
    assert any("value=812, unit=null, tag_low=0, tag_high=120" in line for line in lines)
    assert lines[-2] == (
        "WARN silver.readings: the tag is in silver.tags, so its unit and range are known — "
        f"1 of 14 rows fail, e.g. tag='coolant_level' at equipment_id='{CNC}', "
        "event_time=2026-03-02 06:00:00"
    )


def test_readings_without_tags_skip_the_range_check(spark):
    # no context: no derived columns, no range or counter expectation
    suite = get_suite("silver.readings")
    df = frame(spark, "silver.readings", CLEAN_READINGS)
    assert suite.prepare(df, {}).columns == df.columns
    assert [r.columns for r in suite.applied({})] == [("quality",), ("source",)]


# gold.oee_shift -----------------------------------------------------------------------------


def oee_row(equipment_id: str, shift: str = "early", **kw) -> dict:
    # planned 8 h = 28800 s, planned downtime 1800 s → planned busy 27000 s; run 24000 s;
    # 1000 produced = 950 good + 30 scrap + 20 rework; ideal time 20000 s.
    # availability 24000/27000 = 0.889, performance 20000/24000 = 0.833, quality 950/1000 = 0.95
    row = {
        "equipment_id": equipment_id,
        "site": "berlin",
        "area": "machining",
        "line": "line1",
        "shift_id": f"berlin-2026-03-02-{shift}",
        "shift_name": shift,
        "local_date": date(2026, 3, 2),
        "shift_start": datetime(2026, 3, 2, 5),
        "shift_end": datetime(2026, 3, 2, 13),
        "planned_s": 28800.0,
        "planned_downtime_s": 1800.0,
        "planned_busy_s": 27000.0,
        "run_s": 24000.0,
        "unplanned_downtime_s": 2000.0,
        "idle_s": 1000.0,
        "changeover_s": 0.0,
        "produced": 1000,
        "good": 950,
        "scrap": 30,
        "rework": 20,
        "ideal_time_s": 20000.0,
        "good_ideal_time_s": 19000.0,
        "availability": 24000 / 27000,
        "performance": 20000 / 24000,
        "quality": 0.95,
        "oee": 24000 / 27000 * 20000 / 24000 * 0.95,
        "is_complete": True,
        "event_date": date(2026, 3, 2),
    }
    return row | kw


@pytest.fixture(scope="module")
def bad_oee(spark):
    rows = [
        oee_row(CNC, "early"),
        oee_row(CNC, "late", planned_busy_s=27000.5),  # within the 1 s tolerance
        # ideal time 25920 s in 21600 s of running: 1.2, the ideal cycle time is too long;
        # availability 21600/27000 = 0.8, oee 0.8 × 1.2 × 0.95 = 0.912
        oee_row(
            CNC,
            "night",
            run_s=21600.0,
            ideal_time_s=25920.0,
            availability=0.8,
            performance=1.2,
            oee=0.8 * 1.2 * 0.95,
        ),
        oee_row(PRESS, "early", good=900, quality=0.9),  # 900 + 30 + 20 = 950 ≠ 1000
        oee_row(PRESS, "late", planned_downtime_s=600.0),  # 28800 − 600 = 28200 ≠ 27000
        # run 27002 s > planned busy 27000 s + 1: availability 27002/27000 > 1 as well
        oee_row(PRESS, "night", run_s=27002.0, availability=27002 / 27000),
        oee_row(PRESS, "night"),  # the same key twice
    ]
    return validate_table("gold.oee_shift", frame(spark, "gold.oee_shift", rows))


def test_oee_failures_each_point_at_their_row(bad_oee):
    fails = failed(bad_oee)
    between = "expect_column_values_to_be_between"
    assert set(fails) == {
        (between, ("performance",)),
        (between, ("availability",)),
        (between, ("unaccounted_parts",)),
        (between, ("planned_busy_gap_s",)),
        (between, ("run_beyond_planned_busy_s",)),
        ("expect_compound_columns_to_be_unique", ("equipment_id", "shift_id")),
    }
    shifts = {
        name: [(r["equipment_id"], r["shift_name"]) for r in e.failing_rows]
        for (_, (name, *_)), e in fails.items()
    }
    assert shifts == {
        "performance": [(CNC, "night")],
        "availability": [(PRESS, "night")],
        "unaccounted_parts": [(PRESS, "early")],
        "planned_busy_gap_s": [(PRESS, "late")],
        "run_beyond_planned_busy_s": [(PRESS, "night")],
        "equipment_id": [(PRESS, "night"), (PRESS, "night")],
    }
    assert fails[between, ("unaccounted_parts",)].failing_rows[0]["unaccounted_parts"] == 50
    assert fails[between, ("planned_busy_gap_s",)].failing_rows[0]["planned_busy_gap_s"] == -1200.0
    assert bad_oee.severity == "error" and bad_oee.rows_checked == 7


def test_performance_above_one_says_the_ideal_cycle_time_is_wrong(bad_oee):
    line = next(line for line in bad_oee.summary().splitlines() if "performance=" in line)
    assert line.startswith("ERROR gold.oee_shift: performance lies between 0 and 1")
    assert "ideal cycle time" in line and "is wrong" in line
    assert line.endswith(
        f"1 of 7 rows fail, e.g. performance=1.2 at equipment_id='{CNC}', shift_id='berlin-2026-03-02-night'"
    )


def test_result_as_plain_json_for_dagster_metadata(bad_oee):
    plain = json.loads(json.dumps(bad_oee.to_dict()))
    assert plain["table"] == "gold.oee_shift" and plain["success"] is False
    performance = next(e for e in plain["expectations"] if e["columns"] == ["performance"])
    assert performance["failing_rows"][0]["shift_start"] == "2026-03-02T05:00:00"


def test_clean_site_week_passes(spark):
    row = oee_row(CNC) | {"site": "berlin", "week_start": date(2026, 3, 2), "iso_week": "2026-W10"}
    result = validate_table("gold.oee_site_week", frame(spark, "gold.oee_site_week", [row]))
    assert result.success, result.summary()
    assert result.rows_checked == 1


# silver.production_counts, silver.shift_calendar --------------------------------------------


def test_production_counts_must_add_up(spark):
    def minute(m: int, **kw) -> dict:
        row = {
            "equipment_id": CNC,
            "interval_start": datetime(2026, 3, 2, 6, m),
            "product_id": "P-100",
            "work_order_id": "WO-1",
            "produced": 10,
            "good": 8,
            "scrap": 1,
            "rework": 1,
            "ideal_cycle_s": 6.0,
            "ideal_time_s": 60.0,
            "event_date": date(2026, 3, 2),
        }
        return row | kw

    rows = [
        minute(0),
        minute(1, good=9),  # 9 + 1 + 1 = 11 parts for 10 produced
        minute(2, ideal_cycle_s=0.0),
        minute(3, scrap=-1, good=10),  # adds up, but a negative count
        minute(4, product_id=None, work_order_id=None, ideal_cycle_s=None),  # no product yet
    ]
    result = validate_table(
        "silver.production_counts", frame(spark, "silver.production_counts", rows)
    )
    fails = failed(result)
    between = "expect_column_values_to_be_between"
    nonnull = "expect_column_values_to_not_be_null"
    assert set(fails) == {
        (between, ("unaccounted_parts",)),
        (between, ("ideal_cycle_s",)),
        (between, ("scrap",)),
        (nonnull, ("product_id",)),
        (nonnull, ("work_order_id",)),
    }
    assert [
        r["interval_start"].minute for r in fails[between, ("unaccounted_parts",)].failing_rows
    ] == [1]
    assert fails[between, ("unaccounted_parts",)].failing_rows[0]["unaccounted_parts"] == -1
    # the key columns the catalog lets be empty only warn
    assert fails[nonnull, ("product_id",)].severity == "warn"
    assert result.severity == "error"


def test_shift_calendar_allows_daylight_saving_nights(spark):
    def shift(name: str, hours: float, **kw) -> dict:
        start = datetime(2026, 3, 28, 22)
        row = {
            "shift_id": f"berlin-2026-03-28-{name}",
            "site": "berlin",
            "shift_name": name,
            "local_date": date(2026, 3, 28),
            "start_time": start,
            "end_time": start + timedelta(hours=hours),
            "planned_s": hours * 3600.0,
        }
        return row | kw

    rows = [
        shift("early", 8),
        shift("night", 7),  # the clocks go forward
        shift("night2", 9),  # and back
        shift("twelve", 12),  # a 12-hour shift is a plant's choice
        shift("double", 14),  # a 14-hour "shift" is two shifts typed as one
        shift("backwards", 8, end_time=datetime(2026, 3, 28, 21)),
    ]
    result = validate_table("silver.shift_calendar", frame(spark, "silver.shift_calendar", rows))
    fails = failed(result)
    assert set(fails) == {
        ("expect_column_values_to_be_between", ("planned_s",)),
        ("expect_column_pair_values_a_to_be_greater_than_b", ("end_time", "start_time")),
    }
    assert [
        r["shift_name"]
        for r in fails["expect_column_values_to_be_between", ("planned_s",)].failing_rows
    ] == ["double"]
    pair = fails["expect_column_pair_values_a_to_be_greater_than_b", ("end_time", "start_time")]
    assert [r["shift_name"] for r in pair.failing_rows] == ["backwards"]


# bronze: warn only; a frame without a column ------------------------------------------------


def test_bronze_duplicate_record_id_warns_and_a_missing_column_skips_its_checks(spark):
    def message(record_id: str) -> dict:
        return {
            "record_id": record_id,
            "topic": "acme/berlin/machining/line1/cell1/cnc01/spindle_temp_c",
            "payload": bytearray(b'{"value": 45.0}'),
            "qos": 1,
            "source": "uns",
            "received_at": T0,
            "ingested_at": T0,
        }

    df = frame(spark, "bronze.mqtt_messages", [message("a"), message("b"), message("b")]).drop(
        "qos"
    )
    result = validate_table("bronze.mqtt_messages", df)
    fails = failed(result)
    assert set(fails) == {
        ("expect_table_columns_to_match_set", ()),
        ("expect_column_values_to_be_unique", ("record_id",)),
    }
    assert not result.success and not result.blocking and result.severity == "warn"
    assert [
        r["record_id"]
        for r in fails["expect_column_values_to_be_unique", ("record_id",)].failing_rows
    ] == ["b", "b"]
    assert (
        fails["expect_table_columns_to_match_set", ()].detail
        == "missing columns: qos; 1 check on qos not run"
    )
    assert "payload=<15 bytes>" not in result.summary()  # the key and the column, not the payload


# the API around it --------------------------------------------------------------------------


def test_tables_with_suites_cover_the_layers_in_order():
    tables = tables_with_suites()
    for name in (
        "bronze.mqtt_messages",
        "bronze.sparkplug_messages",
        "bronze.opcua_values",
        "bronze.mes_rows",
        "bronze.quarantine",
        "silver.readings",
        "silver.production_counts",
        "silver.equipment_states",
        "silver.shift_calendar",
        "gold.oee_shift",
        "gold.oee_line_day",
        "gold.oee_site_week",
        "gold.reliability",
        "gold.asset_health_features",
        "gold.feature_drift",  # no rules of its own: checked on its catalog declaration
    ):
        assert name in tables
    layers = [t.split(".")[0] for t in tables]
    assert layers == sorted(layers, key=["bronze", "silver", "gold"].index)


def test_a_table_without_suite_is_a_key_error_naming_the_ones_with_one(spark):
    with pytest.raises(
        KeyError, match=r"no expectation suite for table 'ops.watermarks'.*gold.oee_shift"
    ):
        validate_table("ops.watermarks", spark.range(1))
    assert issubclass(NoSuiteError, KeyError)


def test_context_a_suite_does_not_use_is_refused(spark, tags):
    with pytest.raises(SuiteError, match=r"does not use context \['silver.tags'\].*\['tags'\]"):
        validate_table("silver.readings", spark.range(1), {"silver.tags": tags})
