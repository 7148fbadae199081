"""gold.downtime_pareto: how often and how long lines stop, per state, reason and UTC day, from
silver.equipment_states and the current silver.equipment hierarchy.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.columns import conform, current_lines, utc_date

STOP_STATES = ("unplanned_stop", "idle", "changeover")


def downtime_pareto(states: DataFrame, equipment: DataFrame) -> DataFrame:
    """Stops per site, area, line, UTC day of their start, state and reason.

    Stops are the intervals in unplanned_stop, idle or changeover; a missing or empty reason is
    'unknown'. `stops` counts intervals, `downtime_min` sums their duration_s / 60; an open
    interval counts as a stop of 0 minutes. Equipment not in the current silver.equipment keeps
    its stops under a null site, area and line.

    >>> downtime_pareto(states, equipment)  # line1, 2026-03-02: jam 10 min + jam 5 min
    ... # -> (berlin, machining, line1, unplanned_stop, jam, stops 2, downtime_min 15.0)
    """
    lines = current_lines(equipment)
    reason = F.col("reason_code")
    stops = states.where(F.col("state").isin(*STOP_STATES)).select(
        "equipment_id",
        "state",
        F.when(reason.isNull() | (F.trim(reason) == ""), F.lit("unknown"))
        .otherwise(reason)
        .alias("reason_code"),
        utc_date(F.col("start_time")).alias("event_date"),
        F.coalesce("duration_s", F.lit(0.0)).alias("duration_s"),
    )
    out = (
        stops.join(lines, "equipment_id", "left")
        .groupBy("site", "area", "line", "event_date", "state", "reason_code")
        .agg(
            F.count("*").alias("stops"),
            (F.sum("duration_s") / 60).alias("downtime_min"),
        )
    )
    return conform(out, "gold.downtime_pareto")
