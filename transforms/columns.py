"""Column helpers every transform shares: the catalog's output shape, UTC dates, counters."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.catalog import get_table


def conform(df: DataFrame, table: str) -> DataFrame:
    """`df` with exactly the columns of `table`, in catalog order, cast to the declared types."""
    return df.select(
        *[F.col(c.name).cast(c.data_type).alias(c.name) for c in get_table(table).columns]
    )


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
