"""Every suite names catalog tables and columns (or columns its derive step adds), describes
each expectation, and sets the severity the layer calls for. Nothing is validated here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from expectations import bronze, get_suite, gold, silver, tables_with_suites
from expectations.suite import ERROR, WARN, Suite, SuiteError, severity_of
from lakehouse.catalog import get_table

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


def test_each_layer_module_holds_its_own_tables():
    for module, layer in ((bronze, "bronze"), (silver, "silver"), (gold, "gold")):
        assert {t.split(".")[0] for t in module.SUITES} == {layer}


def test_severity_by_layer():
    def levels(table: str) -> set[str]:
        suite = get_suite(table)
        return {severity_of(e) for e in suite.build(get_table(table), {})}

    assert all(levels(t) == {WARN} for t in bronze.SUITES)
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


def test_a_suite_with_a_tolerance_is_refused():
    import great_expectations.expectations as gxe

    loose = Suite(lambda context: [gxe.ExpectColumnValuesToNotBeNull(column="tag", mostly=0.999)])
    with pytest.raises(SuiteError, match="mostly"):
        loose.build(get_table("silver.readings"), {})


def test_listing_the_suites_does_not_import_great_expectations():
    code = (
        "import sys, expectations; expectations.tables_with_suites(); "
        "assert 'great_expectations' not in sys.modules, 'GX imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
