"""Table declarations are checked when they are made; names resolve or say what exists."""

from __future__ import annotations

import pytest
from pyspark.sql import types as T

from lakehouse.catalog import CATALOG, CatalogError, Column, TableSpec, all_tables, get_table


def test_every_table_is_declared_once_with_comments():
    assert CATALOG, "the catalog declares tables"
    for spec in all_tables():
        assert spec.description, spec.full_name
        assert all(c.comment for c in spec.columns), spec.full_name
        assert spec.primary_key, f"{spec.full_name} declares a primary key"


def test_schema_carries_comments():
    schema = get_table("ops.watermarks").schema
    assert schema["source"].dataType == T.StringType()
    assert schema["source"].nullable is False
    assert schema["watermark_ts"].metadata["comment"] == "highest updated_at extracted (UTC)"


def test_unknown_table_lists_known_ones():
    with pytest.raises(CatalogError, match=r"no table 'gold.nope'.*ops.watermarks"):
        get_table("gold.nope")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layer": "platinum"}, "layer 'platinum'"),
        ({"primary_key": ("nope",)}, r"primary key column\(s\) \['nope'\]"),
        ({"partition_by": ("nope",)}, r"partition column\(s\) \['nope'\]"),
        ({"columns": (Column("a", "string", "x"), Column("a", "bigint", "y"))}, "duplicate"),
        ({"columns": (Column("a", "varchar(3)", "x"),)}, "unknown type 'varchar"),
    ],
)
def test_bad_declarations_are_refused(kwargs, message):
    base = {
        "layer": "silver",
        "name": "t",
        "description": "d",
        "columns": (Column("a", "string", "x"),),
    }
    with pytest.raises(CatalogError, match=message):
        TableSpec(**{**base, **kwargs})


def test_a_build_that_reads_an_unknown_table_or_names_no_function_is_refused():
    from types import SimpleNamespace

    from lakehouse.catalog import Build, Read, _collect

    with pytest.raises(CatalogError, match=r"'package\.module:function'"):
        Build("transforms.gold.scrap.scrap_pareto")
    typo = TableSpec(
        layer="gold",
        name="typo",
        description="d",
        columns=(Column("x", "int", "x"),),
        build=Build("transforms.gold.scrap:scrap_pareto", reads=(Read("silver.reading"),)),
    )
    with pytest.raises(CatalogError, match=r"gold.typo: its build reads \['silver.reading'\]"):
        _collect(SimpleNamespace(TABLES=(typo,)))
