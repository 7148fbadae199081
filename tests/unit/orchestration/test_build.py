"""Incremental refresh: new bronze rows only, late data into its own day, nothing rebuilt twice."""

import json
from datetime import date, datetime

from delta.tables import DeltaTable

import plant
from ingestion.backfill import mes_backfill_to_bronze, uns_backfill_to_bronze
from lakehouse.plant_model import install_model
from orchestration import build
from orchestration.defs.bronze.sensors import touched_days

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
    build.build_master_data(lake)
    first = build.build_readings(lake)
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
    readings = build.build_readings(lake)
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

    # the sensor reads the same days from the Delta log, without Spark
    latest, days = touched_days(lake.path("bronze.mqtt_messages"), mqtt_version - 1)
    assert (latest, days) == (mqtt_version, {"2026-03-02"})

    nothing = build.refresh(lake)
    assert nothing.days == []
    assert (
        next(b for b in nothing.built if b.table == "silver.readings").note == "no new bronze rows"
    )
