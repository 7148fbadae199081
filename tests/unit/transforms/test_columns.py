"""transforms.columns.conform: the catalog's columns in order, and a wrong type refused, not cast."""

from datetime import date

import pytest

from transforms.columns import TransformSchemaError, conform

RELIABILITY = (
    "mttr_h double, equipment_id string, month date, operating_s double, failures bigint, "
    "repair_s double, mtbf_h double, extra string"
)
CNC = "acme.berlin.machining.line1.cell1.cnc01"


def test_conform_selects_the_catalog_columns_in_order_and_drops_the_rest(spark):
    df = spark.createDataFrame(
        [(1.0, CNC, date(2026, 3, 1), 57600.0, 2, 7200.0, 8.0, "dropped")], RELIABILITY
    )

    out = conform(df, "gold.reliability")

    assert out.columns == [
        "equipment_id",
        "month",
        "operating_s",
        "failures",
        "repair_s",
        "mtbf_h",
        "mttr_h",
    ]
    assert [tuple(r) for r in out.collect()] == [
        (CNC, date(2026, 3, 1), 57600.0, 2, 7200.0, 8.0, 1.0)
    ]


def test_conform_refuses_an_int_where_the_catalog_declares_double(spark):
    # operating_s summed from whole seconds is an int; the catalog declares double
    df = spark.createDataFrame(
        [(CNC, date(2026, 3, 1), 57600, 2, 7200.0, 8.0, 1.0)],
        "equipment_id string, month date, operating_s int, failures bigint, repair_s double, "
        "mtbf_h double, mttr_h double",
    )

    with pytest.raises(TransformSchemaError) as err:
        conform(df, "gold.reliability")

    assert str(err.value) == (
        "the transform building gold.reliability gives the wrong shape: "
        "column 'operating_s' is int, the catalog declares double"
    )
    assert err.value.wrong_type == [("operating_s", "int", "double")]


def test_conform_names_a_missing_column(spark):
    df = spark.createDataFrame(
        [(CNC, date(2026, 3, 1), 57600.0, 2, 7200.0, 8.0)],
        "equipment_id string, month date, operating_s double, failures bigint, "
        "repair_s double, mtbf_h double",
    )

    with pytest.raises(TransformSchemaError, match=r"gold\.reliability .*no column 'mttr_h'"):
        conform(df, "gold.reliability")


def test_conform_lets_nullability_differ(spark):
    # the catalog declares equipment_id NOT NULL; a nullable column of the right type passes
    df = spark.createDataFrame(
        [(CNC, date(2026, 3, 1), 0.0, 0, 0.0, None, None)],
        "equipment_id string, month date, operating_s double, failures bigint, repair_s double, "
        "mtbf_h double, mttr_h double",
    )

    assert conform(df, "gold.reliability").count() == 1
