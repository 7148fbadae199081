"""gold.energy: energy per line and UTC day from the line meter's cumulative counter, and kWh per
good unit leaving the line, from silver.readings, silver.production_counts and silver.equipment.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from transforms.columns import conform, counter_increase, utc_date

METER_KIND = "energy_meter"
ENERGY_TAG = "energy_kwh"
LINE = ("site", "area", "line")


def _last_cell_equipment(machines: DataFrame) -> DataFrame:
    """The equipment of each line's last cell: the highest trailing number (cell10 after cell9),
    then the largest name."""
    number = F.regexp_extract("cell", r"(\d+)$", 1)
    rank = F.struct(F.when(number != "", number.cast("int")).alias("n"), F.col("cell"))
    last = machines.groupBy(*LINE).agg(F.max(rank)["cell"].alias("cell"))
    return machines.join(last, [*LINE, "cell"]).select("equipment_id", *LINE)


def energy_by_line(
    readings: DataFrame,
    counts: DataFrame,
    equipment: DataFrame,
    *,
    day_from: date | str | None = None,
    day_to: date | str | None = None,
) -> DataFrame:
    """Energy per line and UTC day, good units of the line's last cell and kWh per good unit.

    The line meter is the current equipment of kind 'energy_meter'; its tag 'energy_kwh' is a
    cumulative counter. Between consecutive good or uncertain readings (by event_time) the energy
    is the increase, or, when the counter went down (a reset), the new value itself, counted from
    0; it belongs to the UTC day of the later reading. Readings of quality 'bad' are skipped: a bad
    0 would look like a reset. A day is in the output when it has at least one such delta.

    `good_units` sums silver.production_counts.good of the equipment in the line's last cell (the
    highest cell number among its non-meter equipment) that day: 0 without counts; then
    `kwh_per_good_unit` is null. `day_from`/`day_to` (inclusive) restrict the output days; give
    readings from before `day_from` so that its first delta is known.

    >>> energy_by_line(readings, counts, equipment, day_from="2026-03-02")
    ... # meter 100 (03-01 23:00), 130, 160, reset, 20 (03-02): 30 + 30 + 20 = 80 kWh on 03-02;
    ... # cell3 good 400 -> kwh_per_good_unit 0.2
    """
    current = equipment.where(F.col("is_current"))
    is_meter = F.col("kind").eqNullSafe(METER_KIND)
    meters = current.where(is_meter).select("equipment_id", *LINE)
    machines = current.where(~is_meter).select("equipment_id", *LINE, "cell")

    order = Window.partitionBy("equipment_id").orderBy("event_time")
    value, previous = F.col("value"), F.lag("value").over(order)
    # the first reading has no baseline: no delta (a day needs one to appear)
    delta = F.when(previous.isNotNull(), counter_increase(value, previous))
    energy = (
        readings.where(
            (F.col("tag") == ENERGY_TAG)
            & F.col("value").isNotNull()
            & ~F.col("quality").eqNullSafe("bad")
        )
        .join(meters, "equipment_id")
        .select(*LINE, utc_date(F.col("event_time")).alias("event_date"), delta.alias("delta"))
        .where(F.col("delta").isNotNull())
        .groupBy(*LINE, "event_date")
        .agg(F.sum("delta").alias("energy_kwh"))
    )
    good = (
        counts.join(_last_cell_equipment(machines), "equipment_id")
        .groupBy(*LINE, utc_date(F.col("interval_start")).alias("event_date"))
        .agg(F.sum("good").alias("good_units"))
    )

    out = energy.join(good, [*LINE, "event_date"], "left").withColumn(
        "good_units", F.coalesce("good_units", F.lit(0))
    )
    if day_from is not None:
        out = out.where(F.col("event_date") >= F.lit(day_from).cast("date"))
    if day_to is not None:
        out = out.where(F.col("event_date") <= F.lit(day_to).cast("date"))
    out = out.withColumn(
        "kwh_per_good_unit",
        F.when(F.col("good_units") > 0, F.col("energy_kwh") / F.col("good_units")),
    )
    return conform(out, "gold.energy")
