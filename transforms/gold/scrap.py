"""gold.scrap_pareto: where each line's scrap came from, per UTC day: every machine × product
ranked by its scrap, with its share of the line's scrap and the cumulative share (the vital few).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from transforms.columns import conform, current_lines, product_or_unknown, utc_date

LINE_DAY = ("site", "area", "line", "event_date")


def scrap_pareto(counts: DataFrame, equipment: DataFrame) -> DataFrame:
    """Scrap and rework per line, UTC day, machine and product, ranked within the line and day
    by scrap (most first; ties by machine, then product), with `share_of_line_scrap` and
    `cumulative_share` of the line's scrap that day. Only machine × product pairs that
    scrapped something are listed; counts of equipment not in the current silver.equipment are
    left out (they have no line); a count without a product is product 'unknown'.

    >>> scrap_pareto(counts, equipment)  # line1 on 2 March: press01 P-100 scrap 6 (rank 1,
    ... # share 0.6, cumulative 0.6), cnc01 P-100 scrap 4 (rank 2, 0.4, 1.0)
    """
    lines = current_lines(equipment)
    per_pair = (
        counts.select(
            "equipment_id",
            product_or_unknown(F.col("product_id")).alias("product_id"),
            utc_date(F.col("interval_start")).alias("event_date"),
            "produced",
            "scrap",
            "rework",
        )
        .join(lines, "equipment_id")
        .groupBy(*LINE_DAY, "equipment_id", "product_id")
        .agg(*[F.sum(c).alias(c) for c in ("produced", "scrap", "rework")])
        .where(F.col("scrap") > 0)
    )
    ranked = Window.partitionBy(*LINE_DAY).orderBy(
        F.col("scrap").desc(), "equipment_id", "product_id"
    )
    line_day = Window.partitionBy(*LINE_DAY)
    out = (
        per_pair.withColumn("rank", F.row_number().over(ranked))
        .withColumn("line_scrap", F.sum("scrap").over(line_day))
        .withColumn("share_of_line_scrap", F.col("scrap") / F.col("line_scrap"))
        .withColumn(
            "cumulative_share",
            F.sum("scrap").over(ranked.rowsBetween(Window.unboundedPreceding, Window.currentRow))
            / F.col("line_scrap"),
        )
        .withColumn("scrap_rate", F.when(F.col("produced") > 0, F.col("scrap") / F.col("produced")))
    )
    return conform(out, "gold.scrap_pareto")
