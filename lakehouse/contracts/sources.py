"""Which reading source wins when several deliver the same reading (silver.readings' dedup and its
incremental merge both rank by this one declaration)."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# The most precise first: OPC UA sends the server's double, Sparkplug B a typed metric, the UNS
# JSON (MQTT) a rounded text. Values are silver.readings' `source`.
SOURCE_PRIORITY = ("opcua", "sparkplug", "uns")


def source_rank_sql(alias: str | None = None) -> str:
    """A SQL expression ranking the `source` column (of table `alias`): 1 is the most precise.

    A source not in SOURCE_PRIORITY ranks after all of them.

    >>> source_rank_sql("s")
    "CASE s.source WHEN 'opcua' THEN 1 WHEN 'sparkplug' THEN 2 WHEN 'uns' THEN 3 ELSE 4 END"
    """
    column = f"{alias}.source" if alias else "source"
    whens = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SOURCE_PRIORITY, start=1))
    return f"CASE {column} {whens} ELSE {len(SOURCE_PRIORITY) + 1} END"


def source_rank(alias: str | None = None) -> Column:
    """The rank of `source_rank_sql` as a Column, for an orderBy: lower is more precise.

    >>> Window.partitionBy("equipment_id", "tag", "event_time").orderBy(source_rank())
    """
    return F.expr(source_rank_sql(alias))
