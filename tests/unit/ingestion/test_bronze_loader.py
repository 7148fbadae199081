"""The bronze loader moves each landed record into its bronze table exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from ingestion.bronze_loader import BronzeLoader
from ingestion.landing import LandingRecord, LandingZone

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def mqtt(i: int) -> LandingRecord:
    return LandingRecord(
        "mqtt",
        "uns",
        f"acme/berlin/machining/line1/cell1/cnc01/t{i}",
        b'{"value": %d}' % i,
        T0,
        T0,
        {"qos": "1"},
    )


def bad(i: int) -> LandingRecord:
    return LandingRecord(
        "quarantine",
        "uns",
        "acme/x",
        b"\xff\xfe",
        T0,
        None,
        {"reason_code": "invalid_utf8", "detail": "byte 0"},
        record_id=f"q-{i}",
    )


def test_landed_records_reach_bronze_once_across_runs_and_overlapping_batches(lake):
    zone = LandingZone(lake.root / "_landing")
    zone.write_batch("uns", [mqtt(i) for i in range(0, 100)] + [bad(0)])
    zone.write_batch("uns", [mqtt(i) for i in range(50, 150)] + [bad(1)])  # 50 re-sent messages
    loader = BronzeLoader(lake, zone.root)

    first = loader.run()
    assert first.rows_read_by_table == {"bronze.mqtt_messages": 200, "bronze.quarantine": 2}
    assert lake.read("bronze.mqtt_messages").count() == 150
    assert loader.run().batches == 0  # nothing new landed: the checkpoint says so

    zone.write_batch("uns", [mqtt(i) for i in range(150, 160)])
    assert loader.run().rows_read_by_table == {"bronze.mqtt_messages": 10}
    bronze = lake.read("bronze.mqtt_messages")
    assert bronze.count() == 160 == bronze.select("record_id").distinct().count()
    row = bronze.where("topic LIKE '%/t7'").first()
    assert (row.payload, row.qos, row.source, str(row.event_date)) == (
        b'{"value": 7}',
        1,
        "uns",
        "2026-03-01",
    )
    assert row.landing_file.endswith(".parquet")
    quarantined = lake.read("bronze.quarantine").collect()
    assert sorted((q.record_id, q.reason_code, q.raw) for q in quarantined) == [
        ("q-0", "invalid_utf8", b"\xff\xfe"),
        ("q-1", "invalid_utf8", b"\xff\xfe"),
    ]


def test_replay_after_losing_the_checkpoint_adds_nothing(lake):
    import shutil

    zone = LandingZone(lake.root / "_landing")
    zone.write_batch("uns", [mqtt(i) for i in range(20)])
    loader = BronzeLoader(lake, zone.root)
    loader.run()
    shutil.rmtree(loader.checkpoint)  # as if the loader died before committing its checkpoint
    again = loader.run()
    assert again.rows_read_by_table == {"bronze.mqtt_messages": 20}
    assert lake.read("bronze.mqtt_messages").count() == 20


def test_a_retained_message_without_a_time_received_again_days_later_lands_once(lake):
    """Dated by its arrival, the second delivery falls into another day's partition: the
    loader looks its id up in the days before (the issue's retained-message case)."""
    from datetime import timedelta

    from ingestion.quarantine import Reason, quarantined

    zone = LandingZone(lake.root / "_landing")
    loader = BronzeLoader(lake, zone.root)
    topic, retained = "acme/berlin/line1/state", b'{"value": "running"}'
    for day in (0, 2):  # delivered at a start, and again at a restart two days later
        at = T0 + timedelta(days=day)
        good = LandingRecord("mqtt", "uns", topic, retained, at, None, {"qos": "1"})
        junk = quarantined("uns", "acme/x", b"not json", at, Reason.INVALID_JSON, "x")
        zone.write_batch("uns", [good, junk])
        loader.run()
    messages = lake.read("bronze.mqtt_messages").collect()
    assert [(m.payload, str(m.event_date)) for m in messages] == [(retained, "2026-03-01")]
    assert lake.read("bronze.quarantine").count() == 1
