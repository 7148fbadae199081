"""Incremental refresh: new bronze rows only, late data into its own day, each table rebuilt for
the days its inputs changed on, nothing rebuilt twice."""

import json
from datetime import date, datetime

from delta.tables import DeltaTable

import plant
from ingestion.backfill import mes_backfill_to_bronze, uns_backfill_to_bronze
from lakehouse.plant_model import install_model
from orchestration import builders
from orchestration.materialize import materialize
from orchestration.steps import runs_of_days

EQ = "acme.berlin.machining.line1.cell1.cnc01"
TOPIC = "acme/berlin/machining/line1/cell1/cnc01"
D = date(2026, 3, 4)


def bronze_readings(spark, rows, batch):
    df = spark.createDataFrame(
        [
            (
                f"{TOPIC}/{tag}",
                json.dumps({"value": v, "timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode(),
                t,
            )
            for tag, t, v in rows
        ],
        "topic string, payload binary, timestamp timestamp",
    )
    return uns_backfill_to_bronze(df, source="test", batch_id=batch)


def master_rows(spark):
    equipment = spark.createDataFrame(
        [
            (
                EQ,
                "acme",
                "berlin",
                "machining",
                "line1",
                "cell1",
                "cnc01",
                "cnc_mill",
                "Europe/Berlin",
                datetime(2026, 3, 1),
            )
        ],
        "equipment_id string, enterprise string, site string, area string, line string, cell string, "
        "name string, kind string, timezone string, updated_at timestamp",
    )
    tags = spark.createDataFrame(
        [
            (EQ, "temperature_c", "Double", "degC", -20.0, 200.0, "t", datetime(2026, 3, 1)),
            (EQ, "state", "Enum", "", None, None, "s", datetime(2026, 3, 1)),
        ],
        "equipment_id string, tag string, datatype string, unit string, low double, high double, "
        "description string, updated_at timestamp",
    )
    return mes_backfill_to_bronze(
        equipment, source_table="mes.equipment", key=["equipment_id"], source="t", batch_id="m"
    ).unionByName(
        mes_backfill_to_bronze(
            tags,
            source_table="mes.equipment_tags",
            key=["equipment_id", "tag"],
            source="t",
            batch_id="m",
        )
    )


def test_late_data_lands_in_its_own_day_and_only_new_rows_are_read(lake, spark):
    lake.create_all()
    install_model(lake.root, plant.MODEL_FILE)
    lake.insert_new("bronze.mes_rows", master_rows(spark))
    on_time = [
        ("temperature_c", datetime(2026, 3, 4, 10, 0), 40.0),
        ("temperature_c", datetime(2026, 3, 4, 10, 10), 41.0),
        ("temperature_c", datetime(2026, 3, 4, 10, 20), 42.0),
        ("state", datetime(2026, 3, 4, 10, 0), "running"),
    ]
    lake.insert_new("bronze.mqtt_messages", bronze_readings(spark, on_time, "b1"))
    builders.master_data(lake)
    first, _ = builders.readings(lake)
    assert first.days == [D] and first.note == "rebuilt from bronze"
    assert lake.read("silver.readings").count() == 4
    assert lake.read("silver.equipment").count() == 1

    # two readings of 2 March arrive two days late, with a replay of one 4 March reading
    late = [
        ("temperature_c", datetime(2026, 3, 2, 8, 0), 30.0),
        ("temperature_c", datetime(2026, 3, 2, 8, 5), 31.0),
    ]
    lake.insert_new("bronze.mqtt_messages", bronze_readings(spark, late + on_time[:1], "b2"))
    mqtt_version = lake.version("bronze.mqtt_messages")
    readings, _ = builders.readings(lake)
    assert readings.days == [date(2026, 3, 2)]  # the replayed reading adds nothing, touches nothing
    assert readings.rows == 2
    last = DeltaTable.forPath(spark, str(lake.path("silver.readings"))).history(1).first()
    assert last["operation"] == "MERGE"
    assert last["operationMetrics"]["numTargetRowsInserted"] == "2"
    assert last["operationMetrics"]["numTargetFilesRemoved"] == "0"  # 4 March untouched
    by_day = {
        r.event_date: r["count"]
        for r in lake.read("silver.readings").groupBy("event_date").count().collect()
    }
    assert by_day == {date(2026, 3, 2): 2, D: 4}

    # the log says which days each commit touched, without Spark
    assert lake.changed_days("bronze.mqtt_messages", mqtt_version - 1) == {date(2026, 3, 2)}
    assert lake.changed_days("silver.readings", lake.version("silver.readings") - 1) == {
        date(2026, 3, 2)
    }

    nothing, _ = builders.readings(lake)
    assert nothing.note == "no new bronze rows" and not nothing.wrote


def test_consecutive_days_are_built_together_a_late_day_alone():
    days = {date(2026, 3, 2), date(2026, 3, 5), date(2026, 3, 6), date(2026, 3, 7)}
    assert runs_of_days(days) == [
        (date(2026, 3, 2), date(2026, 3, 2)),
        (date(2026, 3, 5), date(2026, 3, 7)),
    ]


def test_the_asset_graph_rebuilds_only_the_days_whose_inputs_changed(lake, spark):
    """Through Dagster: a first run builds every table; a second with nothing new writes
    nothing; late readings of 2 March rebuild the days they change (and the day before, for
    what crosses midnight) in the daily tables, and the whole tables once."""
    lake.create_all()
    install_model(lake.root, plant.MODEL_FILE)
    lake.insert_new("bronze.mes_rows", master_rows(spark))
    rows = [
        ("state", datetime(2026, 3, 4, 6, 0), "running"),
        ("parts_total", datetime(2026, 3, 4, 6, 0), 10.0),
        ("parts_total", datetime(2026, 3, 4, 7, 0), 70.0),
        ("state", datetime(2026, 3, 5, 6, 0), "running"),
    ]
    lake.insert_new("bronze.mqtt_messages", bronze_readings(spark, rows, "b1"))
    first = materialize(lake)
    assert first.success, first.failure
    assert {"silver/readings", "silver/equipment_states", "gold/oee_shift"} <= set(first.written)
    versions = {t: lake.version(t) for t in ("silver.equipment_states", "gold.oee_shift")}

    again = materialize(lake)
    assert again.success, again.failure
    assert again.written == []  # no input moved: no table written, no check run again
    # nothing written, nothing checked again: each table's last result is carried forward
    first_results = {c.asset: c.passed for c in first.checks}
    assert again.checks and all(c.carried for c in again.checks)
    assert {c.asset: c.passed for c in again.checks} == first_results
    assert {t: lake.version(t) for t in versions} == versions

    late = [("state", datetime(2026, 3, 2, 8, 0), "running")]
    lake.insert_new("bronze.mqtt_messages", bronze_readings(spark, late, "b2"))
    run = materialize(lake)
    assert run.success, run.failure
    assert run.days("silver/readings") == [date(2026, 3, 2)]
    # states of 2 March, of 3 March (which reads 2 March for the state at midnight) and of
    # 1 March (an interval may cross into 2 March)
    assert run.days("silver/equipment_states") == [
        date(2026, 3, 1),
        date(2026, 3, 2),
        date(2026, 3, 3),
    ]
    # shifts of 2 March, the night shift started on 1 March, and the days that read 2 March's
    # states and counts (up to the last day of data)
    oee_days = run.days("gold/oee_shift")
    assert oee_days[:2] == [date(2026, 3, 1), date(2026, 3, 2)] and oee_days[-1] <= date(2026, 3, 5)
    # counts of 2 March and of the 3 days after it, whose counters start from its last value
    assert run.days("silver/production_counts") == [date(2026, 3, d) for d in (2, 3, 4, 5)]
