"""gold.spc: individuals control charts per equipment and characteristic, with the Western Electric
and Nelson rule hits of every point, from silver.quality_inspections.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from transforms.columns import conform

# d2 for subgroups of 2: the mean moving range of an in-control series is 1.128 sigma.
D2 = 1.128
KEYS = ("equipment_id", "characteristic")


def _run(flag: Column, order: Window, points: int) -> Column:
    """How many of the last `points` points (this one included) have `flag` true."""
    return F.sum(F.coalesce(flag, F.lit(False)).cast("int")).over(
        order.rowsBetween(-(points - 1), Window.currentRow)
    )


def spc_points(inspections: DataFrame, *, baseline_points: int = 25) -> DataFrame:
    """One row per measured point of silver.quality_inspections with its individuals chart.

    Per equipment and characteristic, points are ordered by `inspected_at` then `inspection_id`.
    The first `baseline_points` points are the baseline: `centre_line` is their mean, `sigma` their
    mean moving range / 1.128, `ucl`/`lcl` = centre ± 3 sigma (a series with one point has no sigma
    and no rule hits). `rules_violated` lists, in this order, the rules whose window ends at this
    point; every point (the baseline too) is checked:

    - WE1: the point is beyond 3 sigma;
    - WE2: 2 of the last 3 points beyond 2 sigma on one side, this point one of them;
    - WE3: 4 of the last 5 points beyond 1 sigma on one side, this point one of them;
    - WE4: the last 8 points on one side of the centre line (a point on it breaks the run);
    - N3: the last 6 points steadily increasing or decreasing (5 rises or 5 falls in a row);
    - N4: the last 14 points alternating up and down (an equal pair breaks it).

    A window needs all its points, so no rule fires before the series is that long.

    >>> spc_points(inspections, baseline_points=5)  # measured 10, 12, 10, 12, 10, 20, 7, …
    ... # centre_line 54 / 5 = 10.8, sigma 2 / 1.128 = 1.773, ucl 16.12: the point 20 gets ["WE1"]
    """
    if baseline_points < 2:
        raise ValueError(
            f"spc_points: baseline_points must be at least 2 to estimate sigma from a moving "
            f"range, not {baseline_points}"
        )
    series = Window.partitionBy(*KEYS)
    order = series.orderBy("inspected_at", "inspection_id")
    x = F.col("measured")
    n = F.col("_n")
    in_baseline = n <= baseline_points

    points = (
        inspections.withColumn("_n", F.row_number().over(order))
        .withColumn("_diff", x - F.lag(x).over(order))
        .withColumn("centre_line", F.avg(F.when(in_baseline, x)).over(series))
        .withColumn("baseline_points", F.count(F.when(in_baseline, x)).over(series))
        .withColumn(
            # moving ranges 2..baseline_points: those between two baseline points
            "sigma",
            F.avg(F.when(in_baseline & (n >= 2), F.abs(F.col("_diff")))).over(series) / D2,
        )
        .withColumn("ucl", F.col("centre_line") + 3 * F.col("sigma"))
        .withColumn("lcl", F.col("centre_line") - 3 * F.col("sigma"))
    )

    cl, sigma = F.col("centre_line"), F.col("sigma")

    def above(k: int) -> Column:
        return x > cl + k * sigma

    def below(k: int) -> Column:
        return x < cl - k * sigma

    def k_of_m(k: int, m: int, zone: int) -> Column:
        high = above(zone) & (_run(above(zone), order, m) >= k)
        low = below(zone) & (_run(below(zone), order, m) >= k)
        return (n >= m) & (high | low)

    diff = F.col("_diff")
    rises, falls = diff > 0, diff < 0
    alternates = diff * F.lag(diff).over(order) < 0
    rules = {
        "WE1": above(3) | below(3),
        "WE2": k_of_m(2, 3, 2),
        "WE3": k_of_m(4, 5, 1),
        "WE4": (_run(above(0), order, 8) == 8) | (_run(below(0), order, 8) == 8),
        "N3": (_run(rises, order, 5) == 5) | (_run(falls, order, 5) == 5),
        "N4": _run(alternates, order, 12) == 12,  # 14 points make 13 diffs, 12 sign changes
    }
    hits = F.array(
        *[F.when(F.coalesce(hit, F.lit(False)), F.lit(rule)) for rule, hit in rules.items()]
    )
    out = points.withColumn("rules_violated", F.array_compact(hits)).withColumn(
        "out_of_control", F.size("rules_violated") > 0
    )
    return conform(out, "gold.spc")
