"""Silver suites, blocking (error): gold and the ML features are built on these tables. A rule
across columns or tables is checked on a derived column (a sum, a range joined from silver.tags).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from expectations.suite import ERROR, Context, Suite, counts_add_up, unaccounted_parts
from lakehouse.plant_model.roles import STATES

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

# GX is imported inside the suite functions: it takes ~10 s to import, and listing the suites
# (Dagster loading its definitions) should not pay for it.

QUALITIES = ("good", "uncertain", "bad")
READING_SOURCES = ("uns", "sparkplug", "opcua")
DOWNTIME_STATES = ("unplanned_stop", "changeover")
WORK_ORDER_STATUSES = ("released", "running", "completed")
TAG_DATATYPES = ("Double", "Int64", "Boolean", "String", "Enum")
# Plants work shifts of 4 to 12 hours; the night a clock changes lasts an hour less or more.
SHIFT_MIN_S = 3 * 3600
SHIFT_MAX_S = 13 * 3600
# A counter that drops to at most this share of its previous value was reset (restarts from 0);
# a smaller drop is a glitch: a reading out of order, a wrong scale, a second counter mixed in.
COUNTER_RESET_SHARE = 0.5


# silver.readings ----------------------------------------------------------------------------


def readings(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    out = [
        gxe.ExpectColumnValuesToBeInSet(
            column="quality",
            value_set=list(QUALITIES),
            description="quality is good, uncertain or bad",
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="source",
            value_set=list(READING_SOURCES),
            description="source is uns, sparkplug or opcua",
        ),
    ]
    if "tags" in context:
        out += [
            gxe.ExpectColumnValuesToBeInSet(
                column="value_in_range",
                value_set=[True],
                description="value lies between the tag's low and high in silver.tags "
                "(a sensor fault, a wrong unit or a wrong range in the tag list)",
                meta={"show": ["value", "unit", "tag_low", "tag_high"]},
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="tag_listed",
                value_set=[True],
                description="the tag is in silver.tags, so its unit and range are known",
                severity="warning",
                meta={"show": ["tag"]},
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="counter_step_ok",
                value_set=[True],
                description="a counter tag never decreases, except when it is reset to "
                f"zero (drops to at most {COUNTER_RESET_SHARE:.0%} of its previous value)",
                severity="warning",
                meta={"show": ["value", "counter_previous_value"]},
            ),
        ]
    return out


def with_tag_checks(readings: DataFrame, context: Context) -> DataFrame:
    """Readings with their tag's range and `tag_listed`, `value_in_range`, `counter_step_ok`.

    The last two are null where there is nothing to check (no number, no range, not a counter,
    the first reading of a counter, a reading the source marked bad), so GX skips those rows.
    Unchanged without a `tags` context.
    """
    tags = context.get("tags")
    if tags is None:
        return readings
    ranges = tags.select(
        "equipment_id",
        "tag",
        F.col("low").alias("tag_low"),
        F.col("high").alias("tag_high"),
        F.col("is_counter").alias("tag_is_counter"),
    ).dropDuplicates(["equipment_id", "tag"])  # the tags suite reports duplicates itself
    r = readings.alias("r")
    joined = r.join(
        F.broadcast(ranges.alias("t")),
        (F.col("r.equipment_id") == F.col("t.equipment_id")) & (F.col("r.tag") == F.col("t.tag")),
        "left",
    ).select(
        "r.*",
        "t.tag_low",
        "t.tag_high",
        "t.tag_is_counter",
        F.col("t.tag").isNotNull().alias("tag_listed"),
    )
    value, low, high = F.col("value"), F.col("tag_low"), F.col("tag_high")
    # a bad reading says itself that its value is not to be trusted: no range to hold it to
    checkable = (
        value.isNotNull() & (F.col("quality") != "bad") & (low.isNotNull() | high.isNotNull())
    )
    in_range = F.when(
        checkable, (low.isNull() | (value >= low)) & (high.isNull() | (value <= high))
    )
    # the previous usable value of the same counter: bad readings do not count
    before = (
        Window.partitionBy("equipment_id", "tag")
        .orderBy("event_time")
        .rowsBetween(Window.unboundedPreceding, -1)
    )
    usable = F.when(F.col("quality") != "bad", value)
    previous = F.last(usable, ignorenulls=True).over(before)
    step_ok = F.when(
        F.coalesce(F.col("tag_is_counter"), F.lit(False))
        & (F.col("quality") != "bad")
        & value.isNotNull()
        & previous.isNotNull(),
        (value >= previous) | (value <= previous * COUNTER_RESET_SHARE),
    )
    return joined.select(
        "*",
        in_range.alias("value_in_range"),
        F.when(F.col("tag_is_counter"), previous).alias("counter_previous_value"),
        step_ok.alias("counter_step_ok"),
    )


# silver.production_counts -------------------------------------------------------------------


def production_counts(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    counts = [
        gxe.ExpectColumnValuesToBeBetween(
            column=name, min_value=0, description=f"{name} is not negative"
        )
        for name in ("produced", "good", "scrap", "rework")
    ]
    return [
        *counts,
        counts_add_up(),
        gxe.ExpectColumnValuesToBeBetween(
            column="ideal_cycle_s",
            min_value=0,
            strict_min=True,
            description="ideal_cycle_s (routing or work order) is above 0 s",
        ),
    ]


# silver.equipment_states --------------------------------------------------------------------


def equipment_states(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="state",
            value_set=list(STATES),
            description="state is running, idle, planned_stop, unplanned_stop or changeover",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="duration_s", min_value=0, description="duration_s is not negative"
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="end_time",
            column_B="start_time",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            description="an interval does not end before it starts (end_time >= start_time)",
        ),
    ]


# silver.shift_calendar ----------------------------------------------------------------------


def shift_calendar(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="end_time",
            column_B="start_time",
            or_equal=False,
            description="a shift ends after it starts (end_time > start_time)",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="planned_s",
            min_value=SHIFT_MIN_S,
            max_value=SHIFT_MAX_S,
            description="a shift lasts 6 to 10 hours (8 h; 7 or 9 h the night clocks change)",
        ),
    ]


# master data and MES tables -----------------------------------------------------------------


def tags(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="high",
            column_B="low",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            description="a tag's range is not upside down (high >= low)",
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="datatype",
            value_set=list(TAG_DATATYPES),
            description="datatype is Double, Int64, Boolean, String or Enum",
            severity="warning",
        ),
    ]


def equipment(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="valid_to",
            column_B="valid_from",
            or_equal=False,
            ignore_row_if="either_value_is_missing",
            description="a version of an equipment ends after it begins (valid_to > valid_from)",
        )
    ]


def work_orders(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="status",
            value_set=list(WORK_ORDER_STATUSES),
            description="status is released, running or completed",
            severity="warning",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="qty_planned", min_value=0, description="qty_planned is not negative"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="ideal_cycle_s",
            min_value=0,
            strict_min=True,
            description="ideal_cycle_s is above 0 s",
        ),
    ]


def downtime_events(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="state",
            value_set=list(DOWNTIME_STATES),
            description="state is unplanned_stop or changeover",
            severity="warning",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="end_time",
            column_B="start_time",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            description="an event does not end before it starts (end_time >= start_time)",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="duration_s", min_value=0, description="duration_s is not negative"
        ),
    ]


def quality_inspections(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="upper_limit",
            column_B="lower_limit",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            description="the specification limits are not upside down (upper >= lower)",
        )
    ]


def routings(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="ideal_cycle_s",
            min_value=0,
            strict_min=True,
            description="ideal_cycle_s is above 0 s",
        )
    ]


def products(context: Context) -> list[Expectation]:
    return []


def planned_downtime(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="kind",
            value_set=["break", "planned_maintenance"],
            description="a planned window is a break or planned maintenance",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="duration_s",
            min_value=0,
            strict_min=True,
            description="a planned window lasts more than 0 s (it is clipped to its shift)",
        ),
    ]


def unmapped_addresses(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="value_count", min_value=1, description="a counted address has values"
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="source",
            value_set=list(READING_SOURCES),
            description="source is uns, sparkplug or opcua",
        ),
    ]


SUITES: dict[str, Suite] = {
    "silver.readings": Suite(readings, severity=ERROR, derive=with_tag_checks, context=("tags",)),
    "silver.production_counts": Suite(production_counts, severity=ERROR, derive=unaccounted_parts),
    "silver.equipment_states": Suite(equipment_states, severity=ERROR),
    "silver.shift_calendar": Suite(shift_calendar, severity=ERROR),
    "silver.tags": Suite(tags, severity=ERROR),
    "silver.equipment": Suite(equipment, severity=ERROR),
    "silver.work_orders": Suite(work_orders, severity=ERROR),
    "silver.downtime_events": Suite(downtime_events, severity=ERROR),
    "silver.quality_inspections": Suite(quality_inspections, severity=ERROR),
    "silver.routings": Suite(routings, severity=ERROR),
    "silver.ideal_cycle_times": Suite(routings, severity=ERROR),
    "silver.planned_downtime": Suite(planned_downtime, severity=ERROR),
    "silver.unmapped_addresses": Suite(unmapped_addresses, severity=ERROR),
    "silver.products": Suite(products, severity=ERROR),
}
