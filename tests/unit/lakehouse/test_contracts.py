"""The contracts several packages read: one declaration each, and the copies that must agree."""

from lakehouse.contracts.mes import MES_TABLES, mes_table
from lakehouse.contracts.sources import SOURCE_PRIORITY, source_rank, source_rank_sql
from lakehouse.contracts.vocabulary import FAILURE_REASONS, STATES, UNPLANNED_REASONS


def test_the_source_rank_in_sql_for_a_merge_alias():
    assert source_rank_sql("s") == (
        "CASE s.source WHEN 'opcua' THEN 1 WHEN 'sparkplug' THEN 2 WHEN 'uns' THEN 3 ELSE 4 END"
    )


def test_the_source_rank_orders_the_most_precise_first_and_unknown_sources_last(spark):
    df = spark.createDataFrame(
        [("uns",), ("mystery",), ("opcua",), ("sparkplug",)], "source string"
    )
    ranked = df.orderBy(source_rank()).collect()
    assert [r.source for r in ranked] == [*SOURCE_PRIORITY, "mystery"]
    assert SOURCE_PRIORITY == ("opcua", "sparkplug", "uns")


def test_failures_are_unplanned_stop_reasons():
    assert set(FAILURE_REASONS) <= set(UNPLANNED_REASONS)
    assert "unplanned_stop" in STATES


def test_the_simulated_database_keys_its_tables_as_the_contract_says():
    from plant.servers.mes import PRIMARY_KEYS

    assert {name: t.key for name, t in MES_TABLES.items()} == {
        name: PRIMARY_KEYS[name] for name in MES_TABLES
    }


def test_a_source_table_parses_with_the_catalog_type_names():
    schema = mes_table("mes.work_orders").schema
    assert schema.simpleString() == (
        "struct<work_order_id:string,product_id:string,equipment_id:string,qty_planned:bigint,"
        "status:string,released_at:timestamp,started_at:timestamp,completed_at:timestamp,"
        "qty_done:bigint,updated_at:timestamp>"
    )
