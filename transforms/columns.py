"""Column helpers every transform shares: the catalog's output shape, UTC dates, counters."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.catalog import get_table


class TransformSchemaError(TypeError):
    """A transform's output lacks a column its table declares, or computes one with another type."""

    def __init__(self, table: str, missing: list[str], wrong_type: list[tuple[str, str, str]]):
        self.table, self.missing, self.wrong_type = table, missing, wrong_type
        parts = [f"no column {name!r}" for name in missing]
        parts += [
            f"column {name!r} is {got}, the catalog declares {want}"
            for name, got, want in wrong_type
        ]
        super().__init__(
            f"the transform building {table} gives the wrong shape: " + "; ".join(parts)
        )


def conform(df: DataFrame, table: str) -> DataFrame:
    """`df` with exactly the columns of `table`, in catalog order; nothing is cast.

    A declared column missing from `df`, or of another type (nullability aside), raises
    TransformSchemaError: a type mistake is fixed where the column is computed, not hidden here.

    >>> conform(spark.createDataFrame([(1,)], "failures int"), "gold.reliability")
    TransformSchemaError: the transform building gold.reliability gives the wrong shape: …
    """
    spec = get_table(table)
    missing, _, wrong = spec.mismatches(df.schema)
    if missing or wrong:
        raise TransformSchemaError(spec.full_name, missing, wrong)
    return df.select(*spec.column_names)


def utc_date(ts: Column) -> Column:
    """The UTC date of `ts`, whatever the session time zone."""
    return F.date_from_unix_date(F.floor(F.unix_micros(ts) / 86_400_000_000).cast("int"))


def counter_increase(value: Column, previous: Column) -> Column:
    """The increase between two readings of a counter; a decrease means a reset from zero.

    No previous reading: 0 (the baseline is unknown, nothing is invented).
    """
    return (
        F.when(previous.isNull(), F.lit(0.0))
        .when(value >= previous, value - previous)
        .otherwise(value)
    )


def current_lines(equipment: DataFrame) -> DataFrame:
    """equipment_id → site, area, line of the current silver.equipment versions."""
    return equipment.where(F.col("is_current")).select("equipment_id", "site", "area", "line")


def product_or_unknown(product: Column) -> Column:
    """The product id, 'unknown' when a count carried none (null or blank)."""
    return F.when(product.isNull() | (F.trim(product) == ""), F.lit("unknown")).otherwise(product)
