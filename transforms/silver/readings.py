"""Readings of every source (UNS JSON, Sparkplug B, OPC UA) as one narrow, typed, deduplicated series.

`transforms.silver.signals` maps each bronze value to an equipment and a tag by the plant
model (the long format: equipment_id, tag, event_time, value_text, quality, source, unit_in,
unit, is_text, ingested_at); `conform_readings` types the values, converts units and keeps one
row per (equipment, tag, event time).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.contracts.sources import source_rank
from lakehouse.plant_model.units import UNIT_CONVERSIONS
from transforms.columns import conform

TEXT_TYPES = ("String", "Enum")
_LONG = (
    "equipment_id",
    "tag",
    "event_time",
    "value_text",
    "quality",
    "source",
    "unit_in",
    "ingested_at",
)


def _convert(value: Column, conversion: Column) -> Column:
    """`value` converted by the conversion named "<from unit>><to unit>", else unchanged."""
    expr = value
    for (a, b), fn in UNIT_CONVERSIONS.items():
        expr = F.when(conversion == f"{a}>{b}", fn(value)).otherwise(expr)
    return expr


def conform_readings(long: DataFrame, tags: DataFrame) -> DataFrame:
    """Long readings of any sources → silver.readings rows: typed, units normalised, deduplicated.

    Text tags (String/Enum) keep `value_str` only; numbers get `value` (booleans 1/0) and their
    text. A unit the source states is converted to the tag's unit when the conversion is known;
    otherwise the source's unit is kept, never silently relabelled. One row per (equipment, tag,
    event time): the most precise source, a good value before a bad one.

    The role of a signal (`is_text`, `unit` of the long rows) decides before the MES tag list;
    a good value outside the role's `low`…`high` (in the stored unit) becomes uncertain.

    >>> conform_readings(mapped_readings(map_signals(rules, equipment, mqtt=bronze)), tags)
    """
    meta = tags.select(
        "equipment_id", "tag", "datatype", F.col("unit").alias("_mes_unit"), "enum_values"
    )
    # Each column is computed once per row and named before it is used (the optimizer keeps
    # a named expression that is used twice apart instead of copying it into every use).
    typed = (
        long.join(meta, ["equipment_id", "tag"], "left")
        .withColumn("_unit_tag", F.coalesce(F.col("unit"), F.col("_mes_unit")))
        .withColumn("_unit_in", F.coalesce("unit_in", "_unit_tag"))
        .withColumn("_conversion", F.concat("_unit_in", F.lit(">"), "_unit_tag"))  # null: none
        .withColumn("_lower", F.lower("value_text"))
        # asked of Enum values only: a failed try_cast costs an exception (5 µs a row)
        .withColumn(
            "_code",
            F.when(F.col("datatype") == "Enum", F.expr("try_cast(value_text AS int)")),
        )
    )
    conversions = [f"{a}>{b}" for a, b in UNIT_CONVERSIONS]
    is_text = F.coalesce(F.col("is_text"), F.col("datatype").isin(*TEXT_TYPES), F.lit(False))
    number = (
        F.when(F.col("_lower") == "true", F.lit(1.0))
        .when(F.col("_lower") == "false", F.lit(0.0))
        .otherwise(F.expr("try_cast(value_text AS double)"))
    )
    typed = typed.withColumn("_number", F.when(~is_text, number))
    typed = typed.select(
        "equipment_id",
        "tag",
        "event_time",
        _convert(F.col("_number"), F.col("_conversion")).alias("value"),
        F.when(
            F.col("_code").isNotNull() & (F.size("enum_values") > F.col("_code")),
            # an OPC UA Enum arrives as its code: named as the UNS and Sparkplug sources name it
            F.element_at("enum_values", F.col("_code") + 1),
        )
        .when(
            F.col("value_text").startswith('"') & F.col("value_text").endswith('"'),
            F.expr("substr(value_text, 2, length(value_text) - 2)"),
        )
        .otherwise(F.col("value_text"))
        .alias("value_str"),
        F.when(F.col("_conversion").isin(*conversions), F.col("_unit_tag"))
        .otherwise(F.col("_unit_in"))
        .alias("unit"),
        F.when(F.col("quality").isin("good", "uncertain", "bad"), F.col("quality"))
        .otherwise("uncertain")
        .alias("_quality"),
        *[F.col(c) for c in ("low", "high") if c in long.columns],
        "source",
        "ingested_at",
        F.to_date("event_time").alias("event_date"),
    )
    if "low" in long.columns:
        # a value outside the range the plant model declares is kept, but not trusted as good
        outside = (F.col("value") < F.col("low")) | (F.col("value") > F.col("high"))
        typed = typed.withColumn(
            "_quality",
            F.when(
                (F.col("_quality") == "good") & F.coalesce(outside, F.lit(False)), "uncertain"
            ).otherwise(F.col("_quality")),
        )
    typed = typed.withColumnRenamed("_quality", "quality")
    # event_date (a function of event_time) leads the keys, so the rows come out of the
    # window sorted as the writer of the event_date partitions needs them: no second sort
    best = Window.partitionBy("event_date", "equipment_id", "tag", "event_time").orderBy(
        F.when(F.col("quality") == "good", 0).when(F.col("quality") == "uncertain", 1).otherwise(2),
        source_rank(),  # several sources deliver the same reading: keep the most precise
        F.col("ingested_at").asc(),
    )
    deduped = typed.withColumn("_rank", F.row_number().over(best)).where("_rank = 1")
    return conform(deduped, "silver.readings")
