"""Every suite names catalog tables and columns (or columns its rules derive), describes each
expectation, and sets the severity the layer calls for; every bronze, silver and gold table of the
catalog has one. Only the last test validates rows."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import pytest

from expectations import get_suite, tables_with_suites, validate_table
from expectations.rules import LAYER_SEVERITY, RULES
from expectations.suite import ERROR, WARN, Rule, SuiteError, severity_of
from lakehouse.catalog import CATALOG, Column, TableSpec, all_tables, get_table

OEE_TABLES = ("gold.oee_shift", "gold.oee_line_day", "gold.oee_site_week")


def columns_of(expectation) -> set[str]:
    kwargs = expectation.configuration.kwargs
    names = [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")]
    return {n for n in [*names, *kwargs.get("column_list", [])] if n}


@pytest.fixture(scope="module")
def empty_tags(spark):
    return spark.createDataFrame([], get_table("silver.tags").schema)


@pytest.mark.parametrize("table", tables_with_suites())
def test_suite_reads_only_columns_the_frame_has(spark, empty_tags, table):
    spec = get_table(table)
    suite = get_suite(table)
    context = {"tags": empty_tags} if "tags" in suite.context else {}
    # derive on an empty frame: Spark resolves the columns without running a job
    derived = suite.prepare(spark.createDataFrame([], spec.schema), context)
    expectations = suite.build(spec, context)
    for e in expectations:
        assert columns_of(e) <= set(derived.columns), (table, e.expectation_type, columns_of(e))
        assert e.description, (table, e.expectation_type)
    assert derived.columns[: len(spec.columns)] == spec.column_names  # derive only adds


def test_every_table_of_the_data_layers_has_a_suite_and_every_rule_a_table():
    layers = ("bronze", "silver", "gold")
    assert tables_with_suites() == [t.full_name for t in all_tables() if t.layer in layers]
    assert set(RULES) <= set(tables_with_suites())  # a misspelt table would never be checked
    assert "ops.watermarks" not in tables_with_suites()


def test_severity_by_layer():
    def levels(table: str) -> set[str]:
        suite = get_suite(table)
        return {severity_of(e) for e in suite.build(get_table(table), {})}

    assert all(levels(t) == {WARN} for t in tables_with_suites() if t.startswith("bronze."))
    # silver blocks; warnings only where the catalog lets a key column be empty
    assert levels("silver.shift_calendar") == {ERROR}
    assert levels("silver.production_counts") == {ERROR, WARN}
    # OEE blocks on its ranges and sums; reliability and features only warn
    for table in OEE_TABLES:
        oee = get_suite(table).build(get_table(table), {})
        ranges = [e for e in oee if columns_of(e) & {"availability", "performance", "oee"}]
        assert len(ranges) == 3 and {severity_of(e) for e in ranges} == {ERROR}
    assert levels("gold.reliability") == levels("gold.asset_health_features") == {WARN}


def test_catalog_checks_of_a_compound_key():
    types = [
        (e.expectation_type, tuple(sorted(columns_of(e))))
        for e in get_suite("silver.readings").build(get_table("silver.readings"), {})
    ]
    assert ("expect_compound_columns_to_be_unique", ("equipment_id", "event_time", "tag")) in types
    for column in ("equipment_id", "tag", "event_time", "event_date"):
        assert ("expect_column_values_to_not_be_null", (column,)) in types
    assert ("expect_table_columns_to_match_set", ()) in types


def test_a_rule_with_a_tolerance_is_refused():
    with pytest.raises(SuiteError, match="mostly"):
        Rule("ExpectColumnValuesToNotBeNull", {"column": "tag", "mostly": 0.999}, "tag is set")


def test_listing_the_suites_does_not_import_great_expectations():
    code = (
        "import sys, expectations; expectations.tables_with_suites(); "
        "assert 'great_expectations' not in sys.modules, 'GX imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_table_new_to_the_catalog_is_checked_on_its_declaration(spark, monkeypatch):
    spec = TableSpec(
        layer="silver",
        name="tool_changes",
        description="a table no rule mentions",
        columns=(
            Column("equipment_id", "string", "equipment", nullable=False),
            Column("changed_at", "timestamp", "when", nullable=False),
            Column("tool", "string", "the new tool"),
        ),
        primary_key=("equipment_id", "changed_at"),
    )
    monkeypatch.setitem(CATALOG, spec.full_name, spec)
    assert spec.full_name in tables_with_suites()
    assert get_suite(spec.full_name).severity == LAYER_SEVERITY["silver"] == ERROR

    t0 = datetime(2026, 3, 2, 6)
    rows = [("cnc01", t0, "T1"), ("cnc01", t0, "T2"), (None, t0, "T3")]
    # a schema that lets the required column be empty, as a faulty build would write it
    df = spark.createDataFrame(rows, "equipment_id string, changed_at timestamp, tool string")
    result = validate_table(spec.full_name, df)
    assert {(e.expectation, e.columns) for e in result.failures} == {
        ("expect_column_values_to_not_be_null", ("equipment_id",)),
        ("expect_compound_columns_to_be_unique", ("equipment_id", "changed_at")),
    }
    assert result.blocking and result.rows_checked == 3
