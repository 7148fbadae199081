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

from pyspark.sql import Column, DataFrame, Window
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
    "good_ideal_time_s",
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
    return df.select(
        "*",
        availability.alias("availability"),
        performance.alias("performance"),
        quality.alias("quality"),
        oee.alias("oee"),
        ((F.col("planned_busy_s") - F.col("run_s")) / 60).alias("availability_loss_min"),
        ((F.col("run_s") - F.col("ideal_time_s")) / 60).alias("performance_loss_min"),
        # from sums of ideal times: parts of different cycle times weigh what they cost
        ((F.col("ideal_time_s") - F.col("good_ideal_time_s")) / 60).alias("quality_loss_min"),
    )


def _calendar_windows(planned: DataFrame, frame: DataFrame) -> DataFrame:
    """Each equipment × shift's planned windows (site-wide and its own) clipped to the shift's
    reach and merged where they overlap, so that no minute counts twice."""
    p = planned.select(
        "shift_id",
        F.col("equipment_id").alias("_only"),
        F.col("start_time").alias("_ws"),
        F.col("end_time").alias("_we"),
    )
    own = F.col("_only").isNull() | (F.col("_only") == F.col("equipment_id"))
    w = (
        frame.select("equipment_id", "shift_id", "shift_start", "_end")
        .join(p, "shift_id")
        .where(own)
        .select(
            "equipment_id",
            "shift_id",
            F.greatest("_ws", "shift_start").alias("_ws"),
            F.least("_we", "_end").alias("_we"),
        )
        .where(F.col("_ws") < F.col("_we"))
    )
    order = Window.partitionBy("equipment_id", "shift_id").orderBy("_ws", "_we")
    before = order.rowsBetween(Window.unboundedPreceding, -1)
    w = w.withColumn("_reach", F.max("_we").over(before))
    w = w.withColumn(
        "_island",
        F.sum(
            F.when(F.col("_reach").isNull() | (F.col("_ws") > F.col("_reach")), 1).otherwise(0)
        ).over(order.rowsBetween(Window.unboundedPreceding, 0)),
    )
    return w.groupBy("equipment_id", "shift_id", "_island").agg(
        F.min("_ws").alias("_ws"), F.max("_we").alias("_we")
    )


def _seconds(a: Column, b: Column) -> Column:
    return F.unix_micros(b).cast("double") / 1e6 - F.unix_micros(a).cast("double") / 1e6


def oee_shift(
    states: DataFrame,
    counts: DataFrame,
    shifts: DataFrame,
    equipment: DataFrame,
    *,
    as_of: datetime | DataFrame,
    planned: DataFrame | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
) -> DataFrame:
    """gold.oee_shift for shifts starting in [day_from, day_to] (UTC dates, inclusive).

    Times are the overlap of each state interval with the shift; an interval still open counts
    until `as_of` (the latest data), and so does a shift not over yet (is_complete false).
    `as_of` is one time for all, or a DataFrame (equipment_id, as_of) of how far each
    equipment's data reaches: a machine whose data stops early is not counted past it.

    Planned downtime (ISO 22400-2) is the calendar's planned windows (`planned`:
    silver.planned_downtime, breaks and planned maintenance) in which the machine does not run,
    plus planned_stop time outside them; a planned_stop inside a break counts once. Idle,
    unplanned and changeover time inside a planned window is planned downtime, not a loss.
    A planned_stop with reason not_scheduled is not planned time at all: it leaves planned_s.
    Quantities are the counts of the minutes inside the shift.

    >>> oee_shift(states, counts, shifts, equipment, as_of=datetime(2026, 3, 3), planned=windows)
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
    if planned is None:
        planned = shifts.sparkSession.createDataFrame(
            [], "shift_id string, equipment_id string, start_time timestamp, end_time timestamp"
        )
    windows = _calendar_windows(planned, frame)
    window_s = windows.groupBy("equipment_id", "shift_id").agg(
        F.sum(_seconds(F.col("_ws"), F.col("_we"))).alias("_window_s")
    )

    # an interval without an end lasts until the next one starts, else until the data ends
    following = Window.partitionBy("equipment_id").orderBy("start_time")
    st = states.select(
        F.col("equipment_id").alias("_st_eq"),
        F.col("start_time").alias("_s"),
        F.coalesce("end_time", F.lead("start_time").over(following)).alias("end_time"),
        "state",
        "reason_code",
    )
    ends = F.coalesce(F.col("end_time"), F.col("_as_of"))
    joined = (
        frame.join(
            st,
            (F.col("equipment_id") == F.col("_st_eq"))
            & (F.col("_s") < F.col("_end"))
            & (ends > F.col("shift_start")),
            "left",
        )
        .withColumn("_e", ends)
        .withColumn("_a", F.greatest("_s", "shift_start"))
        .withColumn("_b", F.least("_e", "_end"))
    )
    # each state interval's time inside the planned windows of its shift (windows are disjoint)
    w = windows.select(
        F.col("equipment_id").alias("_w_eq"), F.col("shift_id").alias("_w_shift"), "_ws", "_we"
    )
    in_window = (
        joined.where(F.col("_s").isNotNull())
        .select("equipment_id", "shift_id", "_s", "_a", "_b")
        .join(
            w,
            (F.col("_w_eq") == F.col("equipment_id"))
            & (F.col("_w_shift") == F.col("shift_id"))
            & (F.col("_ws") < F.col("_b"))
            & (F.col("_we") > F.col("_a")),
        )
        .groupBy("equipment_id", "shift_id", "_s")
        .agg(F.sum(_seconds(F.greatest("_a", "_ws"), F.least("_b", "_we"))).alias("_in_window_s"))
    )
    joined = joined.join(in_window, ["equipment_id", "shift_id", "_s"], "left").withColumn(
        "_in_window_s", F.coalesce("_in_window_s", F.lit(0.0))
    )
    in_shift = F.greatest(F.lit(0.0), _seconds(F.col("_a"), F.col("_b")))
    outside = in_shift - F.col("_in_window_s")

    def total(value: Column, cond: Column) -> Column:
        return F.coalesce(F.sum(F.when(cond, value)), F.lit(0.0))

    not_scheduled = (F.col("state") == "planned_stop") & (
        F.coalesce(F.col("reason_code"), F.lit("")) == NOT_SCHEDULED
    )
    keys = ["equipment_id", "site", "area", "line", "shift_id", "shift_name", "local_date"]
    times = joined.groupBy(*keys, "shift_start", "shift_end", "_end", "_as_of").agg(
        total(outside, (F.col("state") == "planned_stop") & ~not_scheduled).alias("_stop_s"),
        total(outside, not_scheduled).alias("_not_scheduled_s"),
        total(F.col("_in_window_s"), not_scheduled).alias("_not_scheduled_in_window_s"),
        total(F.col("_in_window_s"), F.col("state") == "running").alias("_run_in_window_s"),
        total(in_shift, F.col("state") == "running").alias("run_s"),
        total(outside, F.col("state") == "unplanned_stop").alias("unplanned_downtime_s"),
        total(outside, F.col("state") == "idle").alias("idle_s"),
        total(outside, F.col("state") == "changeover").alias("changeover_s"),
    )
    times = times.join(window_s, ["equipment_id", "shift_id"], "left").withColumn(
        "planned_downtime_s",
        F.coalesce("_window_s", F.lit(0.0))
        - F.col("_run_in_window_s")
        - F.col("_not_scheduled_in_window_s")
        + F.col("_stop_s"),
    )
    c = counts.select(
        F.col("equipment_id").alias("_eq"),
        "interval_start",
        "produced",
        "good",
        "scrap",
        "rework",
        F.coalesce("ideal_time_s", F.lit(0.0)).alias("ideal_time_s"),
        F.coalesce("good_ideal_time_s", F.lit(0.0)).alias("good_ideal_time_s"),
    )
    in_shift_minute = (
        (F.col("_eq") == F.col("equipment_id"))
        & (F.col("interval_start") >= F.col("shift_start"))
        & (F.col("interval_start") < F.col("_end"))
    )
    quantities = (
        frame.select("equipment_id", "shift_id", "shift_start", "_end")
        .join(c, in_shift_minute, "inner")
        .groupBy("equipment_id", "shift_id")
        .agg(
            *[F.sum(q).alias(q) for q in ("produced", "good", "scrap", "rework")],
            F.sum("ideal_time_s").alias("ideal_time_s"),
            F.sum("good_ideal_time_s").alias("good_ideal_time_s"),
        )
    )
    out = times.join(quantities, ["equipment_id", "shift_id"], "left").select(
        *keys,
        "shift_start",
        "shift_end",
        (
            _seconds(F.col("shift_start"), F.col("_end"))
            - F.col("_not_scheduled_s")
            - F.col("_not_scheduled_in_window_s")
        ).alias("planned_s"),
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
        F.coalesce("good_ideal_time_s", F.lit(0.0)).alias("good_ideal_time_s"),
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


def oee_shift_as_far_as_data(
    states: DataFrame,
    counts: DataFrame,
    shifts: DataFrame,
    equipment: DataFrame,
    readings: DataFrame,
    planned: DataFrame,
    *,
    day_from: date,
    day_to: date,
) -> DataFrame:
    """`oee_shift` with each equipment's open intervals and shifts ending where its readings
    end (its latest event_time in `readings`): a shift in progress counts up to now.

    >>> oee_shift_as_far_as_data(states, counts, shifts, equipment, readings, planned,
    ...                          day_from=date(2026, 3, 2), day_to=date(2026, 3, 2))
    """
    reach = readings.groupBy("equipment_id").agg(F.max("event_time").alias("as_of"))
    return oee_shift(
        states,
        counts,
        shifts,
        equipment,
        as_of=reach,
        planned=planned,
        day_from=day_from,
        day_to=day_to,
    )
