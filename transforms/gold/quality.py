"""gold.quality: first-pass yield, scrap and rework rate per product, line and UTC day, from
silver.production_counts and the current silver.equipment hierarchy.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.columns import conform, current_lines, product_or_unknown, utc_date

COUNTS = ("produced", "good", "scrap", "rework")


def quality_by_product(counts: DataFrame, equipment: DataFrame) -> DataFrame:
    """Produced, good, scrap and rework summed per product, site, area, line and UTC day (of the
    count's minute), over every equipment of the line, with their ratios to produced.

    Counts without a product go to product 'unknown'; counts of equipment not in the current
    silver.equipment keep a null site, area and line. The ratios are null when nothing was
    produced; roll-ups sum the counts, never average the ratios.

    >>> quality_by_product(counts, equipment)  # line1, P-100, 2026-03-02: produced 100, good 90,
    ... # scrap 4, rework 6 -> first_pass_yield 0.9, scrap_rate 0.04, rework_rate 0.06
    """
    lines = current_lines(equipment)
    rows = counts.select(
        "equipment_id",
        product_or_unknown(F.col("product_id")).alias("product_id"),
        utc_date(F.col("interval_start")).alias("event_date"),
        *COUNTS,
    )
    produced = F.col("produced")

    def per_produced(count: str) -> Column:
        return F.when(produced > 0, F.col(count) / produced)

    out = (
        rows.join(lines, "equipment_id", "left")
        .groupBy("product_id", "site", "area", "line", "event_date")
        .agg(*[F.sum(c).alias(c) for c in COUNTS])
        .withColumn("first_pass_yield", per_produced("good"))
        .withColumn("scrap_rate", per_produced("scrap"))
        .withColumn("rework_rate", per_produced("rework"))
    )
    return conform(out, "gold.quality")
