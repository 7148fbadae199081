"""Gold suites: OEE within 0–1, its times and counts adding up (error); the other KPIs warn.
Shift, line-day and site-week carry the same times and counts (ISO 22400-2): one suite for all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from expectations.suite import ERROR, WARN, Context, Suite, counts_add_up, unaccounted_parts

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

# GX is imported inside the suite functions: it takes ~10 s to import, and listing the suites
# (Dagster loading its definitions) should not pay for it.

# Times are summed from intervals in seconds: allow 1 s of rounding.
TIME_TOLERANCE_S = 1.0
# ISO 10816-3 calls a machine's vibration unacceptable from about 11 mm/s: 50 is a sensor fault.
MAX_VIBRATION_MM_S = 50.0


# OEE (shift, line-day, site-week) -----------------------------------------------------------


def oee(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    ratios = [
        gxe.ExpectColumnValuesToBeBetween(
            column=name,
            min_value=0,
            max_value=1,
            description=f"{name} lies between 0 and 1 ({meaning})",
        )
        for name, meaning in (
            ("availability", "run time / planned busy time"),
            ("quality", "good / produced"),
            ("oee", "availability × performance × quality"),
        )
    ]
    return [
        *ratios,
        gxe.ExpectColumnValuesToBeBetween(
            column="performance",
            min_value=0,
            max_value=1,
            description="performance lies between 0 and 1: above 1 the machine made parts "
            "faster than its ideal cycle time, so the ideal cycle time of the product "
            "(routing or work order) is wrong",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="planned_busy_gap_s",
            min_value=-TIME_TOLERANCE_S,
            max_value=TIME_TOLERANCE_S,
            description="planned busy time = planned time − planned downtime, within 1 s "
            "(planned_busy_gap_s = planned_busy_s − (planned_s − planned_downtime_s))",
            meta={"show": ["planned_busy_s", "planned_s", "planned_downtime_s"]},
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="run_beyond_planned_busy_s",
            max_value=TIME_TOLERANCE_S,
            description="run time is not longer than planned busy time (1 s tolerance; "
            "run_beyond_planned_busy_s = run_s − planned_busy_s)",
            meta={"show": ["run_s", "planned_busy_s"]},
        ),
        counts_add_up(),
    ]


def with_oee_gaps(df: DataFrame, context: Context) -> DataFrame:
    """The OEE table with the gaps its times and counts must close."""
    planned_busy = F.col("planned_s") - F.col("planned_downtime_s")
    gaps = df.select(
        "*",
        (F.col("planned_busy_s") - planned_busy).alias("planned_busy_gap_s"),
        (F.col("run_s") - F.col("planned_busy_s")).alias("run_beyond_planned_busy_s"),
    )
    return unaccounted_parts(gaps)


# reliability and features -------------------------------------------------------------------


def reliability(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="failures", min_value=0, description="failures is not negative"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="mtbf_h",
            min_value=0,
            strict_min=True,
            description="MTBF is above 0 h where there were failures",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="mttr_h", min_value=0, description="MTTR is not negative"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="operating_s", min_value=0, description="operating_s is not negative"
        ),
    ]


def asset_health_features(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="vibration_mean_mm_s",
            min_value=0,
            max_value=MAX_VIBRATION_MM_S,
            description=f"mean vibration lies between 0 and {MAX_VIBRATION_MM_S:g} mm/s "
            "(more is a sensor fault or a wrong unit)",
        )
    ]


# other KPIs ---------------------------------------------------------------------------------


def downtime_pareto(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="state",
            value_set=["unplanned_stop", "idle", "changeover"],
            description="state is unplanned_stop, idle or changeover",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="stops", min_value=1, description="a reason listed has at least one stop"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="downtime_min", min_value=0, description="downtime_min is not negative"
        ),
    ]


def quality(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    rates = [
        gxe.ExpectColumnValuesToBeBetween(
            column=name, min_value=0, max_value=1, description=f"{name} lies between 0 and 1"
        )
        for name in ("first_pass_yield", "scrap_rate", "rework_rate")
    ]
    return [
        *rates,
        counts_add_up(),
    ]


def energy(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="energy_kwh", min_value=0, description="energy_kwh is not negative"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="kwh_per_good_unit",
            min_value=0,
            description="kwh_per_good_unit is not negative",
        ),
    ]


def spc(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="ucl",
            column_B="lcl",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            description="the upper control limit is not below the lower one (ucl >= lcl)",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="sigma", min_value=0, description="sigma is not negative"
        ),
    ]


def asset_state(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(
            column=name, min_value=0, max_value=1, description=f"{name} lies between 0 and 1"
        )
        for name in ("shift_oee", "failure_probability")
    ]


# ML inputs and predictions ----------------------------------------------------------------


def quality_features(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="produced",
            column_B="defects",
            or_equal=True,
            description="defects (scrap + rework) never exceed the parts produced",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="lot_defect_rate_before",
            min_value=0,
            max_value=1,
            description="a lot's defect rate so far lies between 0 and 1",
        ),
    ]


def maintenance_predictions(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="failure_probability",
            min_value=0,
            max_value=1,
            description="a probability lies between 0 and 1",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="rul_h", min_value=0, description="remaining useful life is not negative"
        ),
    ]


def quality_predictions(context: Context) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="defect_probability",
            min_value=0,
            max_value=1,
            description="a probability lies between 0 and 1",
        ),
    ]


SUITES: dict[str, Suite] = {
    "gold.oee_shift": Suite(oee, severity=ERROR, derive=with_oee_gaps),
    "gold.oee_line_day": Suite(oee, severity=ERROR, derive=with_oee_gaps),
    "gold.oee_site_week": Suite(oee, severity=ERROR, derive=with_oee_gaps),
    "gold.reliability": Suite(reliability, severity=WARN),
    "gold.asset_health_features": Suite(asset_health_features, severity=WARN),
    "gold.downtime_pareto": Suite(downtime_pareto, severity=WARN),
    "gold.quality": Suite(quality, severity=WARN, derive=unaccounted_parts),
    "gold.energy": Suite(energy, severity=WARN),
    "gold.spc": Suite(spc, severity=WARN),
    "gold.asset_state": Suite(asset_state, severity=WARN),
    "gold.quality_features": Suite(quality_features, severity=WARN),
    "gold.maintenance_predictions": Suite(maintenance_predictions, severity=ERROR),
    "gold.quality_predictions": Suite(quality_predictions, severity=ERROR),
}
