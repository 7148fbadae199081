"""Landed batches are whole Parquet files with the landing schema, or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from ingestion.landing import (
    LANDING_SCHEMA,
    LandingError,
    LandingRecord,
    LandingZone,
    spark_schema,
)

T0 = datetime(2026, 3, 1, 23, 59, 59, 500000, tzinfo=UTC)


def record(i: int, **kw) -> LandingRecord:
    return LandingRecord(
        kind=kw.get("kind", "mqtt"),
        source="uns",
        address=f"acme/berlin/machining/line1/cell1/cnc01/t{i}",
        payload=b'{"value": %d}' % i,
        received_at=kw.get("received_at", T0),
        source_timestamp=T0,
        attributes={"qos": "1"},
    )


def test_batch_lands_atomically_under_source_and_date(tmp_path):
    zone = LandingZone(tmp_path)
    path = zone.write_batch("uns", [record(i) for i in range(3)], batch_id="b-1")
    assert path == tmp_path / "uns" / "date=2026-03-01" / "b-1.parquet"
    assert [p.name for p in path.parent.iterdir()] == ["b-1.parquet"]  # no temporary left
    table = pq.read_table(path)
    assert table.schema.equals(LANDING_SCHEMA)
    assert table.column("batch_id").to_pylist() == ["b-1"] * 3
    assert table.column("attributes").to_pylist()[0] == [("qos", "1")]
    assert zone.files() == [path]


def test_spark_reads_a_landed_file_with_the_schema_derived_from_the_same_declaration(
    spark, tmp_path
):
    path = LandingZone(tmp_path).write_batch("uns", [record(7)], batch_id="b-7")
    schema = spark_schema()
    assert [(f.name, f.nullable) for f in schema] == [(f.name, f.nullable) for f in LANDING_SCHEMA]
    row = spark.read.schema(schema).parquet(str(path)).collect()[0]
    assert (row.kind, row.source, row.payload, row.attributes, row.batch_id) == (
        "mqtt",
        "uns",
        bytearray(b'{"value": 7}'),
        {"qos": "1"},
        "b-7",
    )


def test_record_id_is_deterministic_and_content_based():
    assert record(1).resolved_id() == record(1).resolved_id()
    assert record(1).resolved_id() != record(2).resolved_id()
    assert LandingRecord("mqtt", "s", "a", b"x", T0, record_id="given").resolved_id() == "given"


def test_empty_batch_writes_nothing(tmp_path):
    assert LandingZone(tmp_path).write_batch("uns", []) is None
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"kind": "modbus"}, "kind 'modbus'"),
        ({"received_at": datetime(2026, 3, 1)}, "no time zone"),
    ],
)
def test_bad_records_are_refused_before_anything_is_written(tmp_path, kw, message):
    with pytest.raises(LandingError, match=message):
        LandingZone(tmp_path).write_batch("uns", [record(0), record(1, **kw)])
    assert not list(tmp_path.rglob("*"))


def test_a_name_with_surrogate_escapes_lands_with_its_bad_bytes_shown(tmp_path):
    """asyncua decodes a browse name that is not UTF-8 with surrogate escapes; Arrow wants
    UTF-8: the record lands (bytes as \\xff), the batch is not lost."""
    from datetime import UTC, datetime

    from ingestion.landing import LandingRecord, LandingZone

    bad = b"Halle\xff".decode("utf-8", "surrogateescape")
    rec = LandingRecord(
        "opcua",
        "werk",
        f"ns=2;s={bad}",
        b"1.0",
        datetime(2026, 3, 1, tzinfo=UTC),
        attributes={"browse_path": bad},
    )
    path = LandingZone(tmp_path).write_batch("werk", [rec])
    import pyarrow.parquet as pq

    (row,) = pq.read_table(path).to_pylist()
    assert (
        row["address"] == "ns=2;s=Halle\\xff"
        and dict(row["attributes"])["browse_path"] == "Halle\\xff"
    )
    assert row["record_id"] == rec.resolved_id()
