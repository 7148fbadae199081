"""The lake creates declared tables idempotently and refuses writes that do not fit them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import Row

from lakehouse.catalog import all_tables
from lakehouse.lake import DuplicateKeyError, SchemaMismatchError, TableMissingError

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
WATERMARK_DDL = (
    "source string, source_table string, watermark_ts timestamp, watermark_key string, "
    "rows_extracted bigint, updated_at timestamp"
)


def watermarks(spark, rows):
    return spark.createDataFrame(rows, WATERMARK_DDL)


def snapshot(lake, name):
    return sorted(tuple(r) for r in lake.read(name).collect())


def test_create_all_is_idempotent(lake):
    created = lake.create_all()
    assert sorted(created) == sorted(s.full_name for s in all_tables())
    versions = {name: lake.version(name) for name in created}
    assert lake.create_all() == []
    assert {name: lake.version(name) for name in created} == versions
    # registered by name, with the declared schema and partitioning
    detail = lake.spark.sql("DESCRIBE DETAIL bronze.mqtt_messages").first()
    assert detail["partitionColumns"] == ["event_date"]
    assert lake.spark.table("bronze.mqtt_messages").columns == [
        c.name for c in lake.read("bronze.mqtt_messages").schema.fields
    ]


def test_upsert_twice_with_the_same_rows_leaves_the_same_table(lake, spark):
    lake.create("ops.watermarks")
    rows = [
        ("mes", "mes.work_orders", T0, '{"id": 7}', 120, T0),
        ("mes", "erp.products", T0, '{"id": "P-1"}', 12, T0),
    ]
    lake.upsert("ops.watermarks", watermarks(spark, rows))
    first = snapshot(lake, "ops.watermarks")
    lake.upsert("ops.watermarks", watermarks(spark, rows))
    assert snapshot(lake, "ops.watermarks") == first
    assert len(first) == 2


def test_upsert_updates_changed_rows_and_inserts_new_keys(lake, spark):
    lake.create("ops.watermarks")
    lake.upsert("ops.watermarks", watermarks(spark, [("mes", "mes.work_orders", T0, "1", 5, T0)]))
    later = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    lake.upsert(
        "ops.watermarks",
        watermarks(
            spark,
            [
                ("mes", "mes.work_orders", later, "9", 4, later),
                ("mes", "mes.downtime_events", later, "3", 3, later),
            ],
        ),
    )
    rows = {r["source_table"]: r for r in lake.read("ops.watermarks").collect()}
    assert set(rows) == {"mes.work_orders", "mes.downtime_events"}
    assert (
        rows["mes.work_orders"]["watermark_key"],
        rows["mes.work_orders"]["rows_extracted"],
    ) == ("9", 4)


def test_schema_mismatch_is_refused_and_the_table_is_unchanged(lake, spark):
    lake.create("ops.watermarks")
    lake.upsert("ops.watermarks", watermarks(spark, [("mes", "mes.work_orders", T0, "1", 5, T0)]))
    before, version = snapshot(lake, "ops.watermarks"), lake.version("ops.watermarks")
    bad = spark.createDataFrame(
        [("mes", "mes.x", T0, 5, T0, "extra")],
        "source string, source_table string, watermark_ts timestamp, rows_extracted int, "
        "updated_at timestamp, operator string",
    )
    for write in (lake.append, lake.upsert):
        with pytest.raises(SchemaMismatchError) as err:
            write("ops.watermarks", bad)
        message = str(err.value)
        assert "ops.watermarks" in message and "nothing written" in message
        assert "missing columns ['watermark_key']" in message
        assert "columns not in the table ['operator']" in message
        assert "column 'rows_extracted' is int, the table wants bigint" in message
        assert (err.value.missing, err.value.unexpected) == (["watermark_key"], ["operator"])
    assert snapshot(lake, "ops.watermarks") == before
    assert lake.version("ops.watermarks") == version


def test_not_null_violation_writes_nothing(lake, spark):
    lake.create("ops.watermarks")
    with pytest.raises(Exception, match=r"(?i)null"):
        lake.append("ops.watermarks", watermarks(spark, [(None, "mes.x", T0, "1", 1, T0)]))
    assert lake.read("ops.watermarks").count() == 0


def test_upsert_with_duplicate_keys_is_refused(lake, spark):
    lake.create("ops.watermarks")
    rows = [("mes", "mes.x", T0, "1", 1, T0), ("mes", "mes.x", T0, "2", 2, T0)]
    with pytest.raises(DuplicateKeyError, match=r"\('mes', 'mes.x'\)"):
        lake.upsert("ops.watermarks", watermarks(spark, rows))
    assert lake.read("ops.watermarks").count() == 0


def test_append_with_a_transaction_id_is_idempotent(lake, spark):
    lake.create("ops.watermarks")
    batch = watermarks(spark, [("mes", "mes.x", T0, "1", 1, T0)])
    lake.append("ops.watermarks", batch, txn=("loader-1", 0))
    lake.append("ops.watermarks", batch, txn=("loader-1", 0))  # a replay of batch 0
    assert lake.read("ops.watermarks").count() == 1
    lake.append("ops.watermarks", batch, txn=("loader-1", 1))
    assert lake.read("ops.watermarks").count() == 2


def test_reading_a_table_never_created_says_so(lake):
    with pytest.raises(TableMissingError, match=r"bronze\.quarantine does not exist"):
        lake.read("bronze.quarantine")


def test_attach_sees_tables_created_elsewhere_and_keeps_data(lake, spark, tmp_path):
    from lakehouse.lake import Lake

    other = Lake(spark, tmp_path / "other-lake")
    other.create("ops.watermarks")
    other.append("ops.watermarks", watermarks(spark, [("a", "b", T0, "k", 1, T0)]))
    lake.create("ops.watermarks")
    assert spark.table("ops.watermarks").count() == 0  # the name now points at `lake`
    assert other.attach() == ["ops.watermarks"]
    assert spark.table("ops.watermarks").collect() == [
        Row(
            source="a",
            source_table="b",
            watermark_ts=T0.replace(tzinfo=None),
            watermark_key="k",
            rows_extracted=1,
            updated_at=T0.replace(tzinfo=None),
        )
    ]


def test_insert_new_adds_only_unseen_keys(lake, spark):
    lake.create("bronze.quarantine")
    ddl = (
        "record_id string, address string, raw binary, reason_code string, detail string, "
        "source string, received_at timestamp, ingested_at timestamp, landing_file string, "
        "batch_id string, event_date date"
    )

    def rows(*ids):
        return spark.createDataFrame(
            [
                (i, "t/x", b"{", "invalid_json", "d", "mqtt", T0, T0, "f", "b", T0.date())
                for i in ids
            ],
            ddl,
        )

    lake.insert_new("bronze.quarantine", rows("a", "b", "b"))
    lake.insert_new("bronze.quarantine", rows("b", "c"))
    lake.insert_new("bronze.quarantine", rows("a", "b", "c"))  # a full replay adds nothing
    ids = sorted(r.record_id for r in lake.read("bronze.quarantine").collect())
    assert ids == ["a", "b", "c"]


def test_insert_new_with_a_lookback_finds_a_key_landed_on_an_earlier_day(lake, spark):
    lake.create("bronze.quarantine")
    ddl = (
        "record_id string, address string, raw binary, reason_code string, detail string, "
        "source string, received_at timestamp, ingested_at timestamp, landing_file string, "
        "batch_id string, event_date date"
    )

    def received(day_offset, *ids):
        at = T0 + timedelta(days=day_offset)
        return spark.createDataFrame(
            [
                (i, "t/x", b"{", "invalid_json", "d", "mqtt", at, at, "f", "b", at.date())
                for i in ids
            ],
            ddl,
        )

    lake.insert_new("bronze.quarantine", received(0, "retained"))
    # the same retained message, delivered again after a restart two days later
    lake.insert_new("bronze.quarantine", received(2, "retained", "new"), lookback_days=30)
    rows = sorted((r.record_id, r.event_date) for r in lake.read("bronze.quarantine").collect())
    assert rows == [("new", (T0 + timedelta(days=2)).date()), ("retained", T0.date())]
    # without the lookback the key is looked up in its own day only
    lake.insert_new("bronze.quarantine", received(3, "retained"))
    assert lake.read("bronze.quarantine").count() == 3


def test_a_table_of_an_earlier_release_takes_the_catalogs_new_columns(lake, spark):
    """A lake written before a column was declared: create() adds it (null in old rows), so
    writes of the new release go through instead of failing on the schema."""
    path = lake.path("ops.watermarks")
    old = watermarks(spark, [("a", "b", T0, "k", 1, T0)]).drop("watermark_key")
    old.write.format("delta").save(str(path))  # the table as an older catalog made it
    assert lake.create("ops.watermarks") is False
    columns = [f.name for f in lake.read("ops.watermarks").schema.fields]
    assert "watermark_key" in columns
    lake.append("ops.watermarks", watermarks(spark, [("c", "d", T0, "k2", 2, T0)]))
    keys = {r.source: r.watermark_key for r in lake.read("ops.watermarks").collect()}
    assert keys == {"a": None, "c": "k2"}


def test_new_columns_added_by_another_process_at_the_same_moment_are_success(
    lake, spark, monkeypatch
):
    path = lake.path("ops.watermarks")
    old = watermarks(spark, [("a", "b", T0, "k", 1, T0)]).drop("watermark_key")
    old.write.format("delta").save(str(path))
    real_sql = spark.sql

    def racing(query, *args, **kwargs):
        if query.startswith("ALTER TABLE"):
            real_sql(query)  # another process adds the same columns first
        return real_sql(query, *args, **kwargs)

    monkeypatch.setattr(spark, "sql", racing)
    assert lake.create("ops.watermarks") is False
    assert "watermark_key" in [f.name for f in lake.read("ops.watermarks").schema.fields]


def test_a_query_registers_the_tables_it_names_on_demand(lake, spark):
    lake.create("ops.watermarks")
    lake.append("ops.watermarks", watermarks(spark, [("a", "b", T0, "k", 1, T0)]))
    spark.sql("DROP TABLE ops.watermarks")  # as a session that registered nothing yet
    assert lake.sql("SELECT count(*) AS n FROM ops.watermarks").first()["n"] == 1
    with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
        lake.sql("SELECT * FROM ops.no_such_table")
