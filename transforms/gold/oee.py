"""OEE (ISO 22400-2) per equipment × shift, and its roll-ups per line × day and site × week.

Every row carries the times and counts its ratios come from; a roll-up sums those and computes
the ratios again, never averages ratios:

    PBT = planned operation time − planned downtime          availability = APT / PBT
    APT = time running                                       performance  = ideal time / APT
    ideal time = Σ planned run time per unit × produced      quality      = good / produced
    OEE = availability × performance × quality
"""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.columns import conform

# A planned stop outside the schedule is not planned downtime: the time is not planned at all.
NOT_SCHEDULED = "not_scheduled"
SUMS = (
    "planned_s",
    "planned_downtime_s",
    "planned_busy_s",
    "run_s",
    "unplanned_downtime_s",
    "idle_s",
    "changeover_s",
    "produced",
    "good",
    "scrap",
    "rework",
    "ideal_time_s",
)


def _ratio(num: Column, den: Column) -> Column:
    return F.when(den > 0, num / den)


def with_ratios(df: DataFrame) -> DataFrame:
    """Availability, performance, quality, OEE and the three losses from the summed columns.

    A ratio whose denominator is 0 is null (a shift with no production has no quality rate),
    and OEE is then 0 when there was planned busy time, null when there was none.
    """
    availability = _ratio(F.col("run_s"), F.col("planned_busy_s"))
    performance = _ratio(F.col("ideal_time_s"), F.col("run_s"))
    quality = _ratio(F.col("good"), F.col("produced"))
    oee = F.when(
        F.col("planned_busy_s") > 0,
        F.coalesce(availability, F.lit(0.0))
        * F.coalesce(performance, F.lit(0.0))
        * F.coalesce(quality, F.lit(0.0)),
    )
    bad_share = _ratio(F.col("produced") - F.col("good"), F.col("produced"))
    return df.select(
        "*",
        availability.alias("availability"),
        performance.alias("performance"),
        quality.alias("quality"),
        oee.alias("oee"),
        ((F.col("planned_busy_s") - F.col("run_s")) / 60).alias("availability_loss_min"),
        ((F.col("run_s") - F.col("ideal_time_s")) / 60).alias("performance_loss_min"),
        (F.col("ideal_time_s") * F.coalesce(bad_share, F.lit(0.0)) / 60).alias("quality_loss_min"),
    )


def oee_shift(
    states: DataFrame,
    counts: DataFrame,
    shifts: DataFrame,
    equipment: DataFrame,
    *,
    as_of: datetime | DataFrame,
    day_from: date | None = None,
    day_to: date | None = None,
) -> DataFrame:
    """gold.oee_shift for shifts starting in [day_from, day_to] (UTC dates, inclusive).

    Times are the overlap of each state interval with the shift; an interval still open counts
    until `as_of` (the latest data), and so does a shift not over yet (is_complete false).
    `as_of` is one time for all, or a DataFrame (equipment_id, as_of) of how far each
    equipment's data reaches: a machine whose data stops early is not counted past it.
    Planned downtime is time in planned_stop with a reason other than not_scheduled (breaks,
    planned maintenance). Quantities are the counts of the minutes inside the shift.

    >>> oee_shift(states, counts, shifts, equipment, as_of=datetime(2026, 3, 3))
    """
    machines = equipment.where("is_current AND (kind IS NULL OR kind != 'energy_meter')").select(
        "equipment_id", "site", "area", "line"
    )
    cal = shifts.select(
        "site",
        "shift_id",
        "shift_name",
        "local_date",
        F.col("start_time").alias("shift_start"),
        F.col("end_time").alias("shift_end"),
    )
    if day_from is not None:
        cal = cal.where(F.col("shift_start") >= F.lit(day_from).cast("timestamp"))
    if day_to is not None:
        cal = cal.where(F.to_date("shift_start") <= F.lit(day_to))
    if isinstance(as_of, DataFrame):
        reach = as_of.select("equipment_id", F.col("as_of").alias("_as_of"))
        machines = machines.join(reach, "equipment_id", "inner")
    else:
        machines = machines.withColumn("_as_of", F.lit(as_of).cast("timestamp"))
    as_of_ts = F.col("_as_of")
    frame = machines.join(cal, "site").where(F.col("shift_start") < as_of_ts)
    frame = frame.withColumn("_end", F.least("shift_end", as_of_ts))

    st = states.select(
        "equipment_id",
        F.col("start_time").alias("_s"),
        "end_time",
        "state",
        "reason_code",
    )
    overlap_s = F.greatest(
        F.lit(0.0),
        F.unix_micros(F.least("_e", "_end")).cast("double") / 1e6
        - F.unix_micros(F.greatest("_s", "shift_start")).cast("double") / 1e6,
    )
    st = st.withColumnRenamed("equipment_id", "_st_eq")
    # an interval still open lasts until the equipment's data ends
    ends = F.coalesce(F.col("end_time"), F.col("_as_of"))
    joined = frame.join(
        st,
        (F.col("equipment_id") == F.col("_st_eq"))
        & (F.col("_s") < F.col("_end"))
        & (ends > F.col("shift_start")),
        "left",
    ).withColumn("_e", ends)

    def time_in(cond: Column) -> Column:
        return F.coalesce(F.sum(F.when(cond, overlap_s)), F.lit(0.0))

    keys = ["equipment_id", "site", "area", "line", "shift_id", "shift_name", "local_date"]
    times = joined.groupBy(*keys, "shift_start", "shift_end", "_end", "_as_of").agg(
        time_in((F.col("state") == "planned_stop") & (F.col("reason_code") != NOT_SCHEDULED)).alias(
            "planned_downtime_s"
        ),
        time_in(F.col("state") == "running").alias("run_s"),
        time_in(F.col("state") == "unplanned_stop").alias("unplanned_downtime_s"),
        time_in(F.col("state") == "idle").alias("idle_s"),
        time_in(F.col("state") == "changeover").alias("changeover_s"),
    )
    c = counts.select(
        F.col("equipment_id").alias("_eq"),
        "interval_start",
        "produced",
        "good",
        "scrap",
        "rework",
        F.coalesce("ideal_time_s", F.lit(0.0)).alias("ideal_time_s"),
    )
    in_shift = (
        (F.col("_eq") == F.col("equipment_id"))
        & (F.col("interval_start") >= F.col("shift_start"))
        & (F.col("interval_start") < F.col("_end"))
    )
    quantities = (
        frame.select("equipment_id", "shift_id", "shift_start", "_end")
        .join(c, in_shift, "inner")
        .groupBy("equipment_id", "shift_id")
        .agg(
            *[F.sum(q).alias(q) for q in ("produced", "good", "scrap", "rework")],
            F.sum("ideal_time_s").alias("ideal_time_s"),
        )
    )
    out = times.join(quantities, ["equipment_id", "shift_id"], "left").select(
        *keys,
        "shift_start",
        "shift_end",
        (F.unix_timestamp("_end") - F.unix_timestamp("shift_start"))
        .cast("double")
        .alias("planned_s"),
        "planned_downtime_s",
        "run_s",
        "unplanned_downtime_s",
        "idle_s",
        "changeover_s",
        *[
            F.coalesce(q, F.lit(0)).cast("bigint").alias(q)
            for q in ("produced", "good", "scrap", "rework")
        ],
        F.coalesce("ideal_time_s", F.lit(0.0)).alias("ideal_time_s"),
        (F.col("shift_end") <= as_of_ts).alias("is_complete"),
        F.to_date("shift_start").alias("event_date"),
    )
    out = out.withColumn("planned_busy_s", F.col("planned_s") - F.col("planned_downtime_s"))
    return conform(with_ratios(out), "gold.oee_shift")


def oee_line_day(oee_shift: DataFrame) -> DataFrame:
    """gold.oee_line_day: the shifts of each line and local day, times and counts summed."""
    grouped = oee_shift.groupBy("site", "area", "line", "local_date").agg(
        F.countDistinct("equipment_id").alias("equipment_count"),
        *[F.sum(c).alias(c) for c in SUMS],
    )
    return conform(with_ratios(grouped), "gold.oee_line_day")


def oee_site_week(oee_shift: DataFrame) -> DataFrame:
    """gold.oee_site_week: every shift of a site in an ISO week (local dates), summed."""
    week_start = F.date_sub("local_date", F.dayofweek("local_date") - 2)
    monday = F.when(F.dayofweek("local_date") == 1, F.date_sub("local_date", 6)).otherwise(
        week_start
    )
    grouped = (
        oee_shift.withColumn("week_start", monday)
        .groupBy("site", "week_start")
        .agg(*[F.sum(c).alias(c) for c in SUMS])
        .withColumn(
            "iso_week",
            F.format_string(
                "%d-W%02d",
                F.year(F.date_add("week_start", 3)),
                F.weekofyear("week_start"),
            ),
        )
    )
    return conform(with_ratios(grouped), "gold.oee_site_week")
