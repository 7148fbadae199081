"""The rule table: what each table must hold beyond its catalog declaration, which already gives
every table of bronze, silver and gold its checks (columns present, required filled, key unique).

A table of those layers with no entry here is checked on its catalog declaration alone.
"""

from __future__ import annotations

from expectations.derived import COUNTER_RESET_SHARE, oee_time_gaps, tag_checks, unaccounted_parts
from expectations.suite import (
    ERROR,
    WARN,
    Suite,
    at_least,
    between,
    contract,
    is_true,
    not_negative,
    one_of,
    ratios,
)
from ingestion.mqtt.sparkplug import MESSAGE_TYPES as SPARKPLUG_MESSAGE_TYPES
from lakehouse.contracts.vocabulary import STATES

# Bronze only warns (silver dedupes and quarantines); silver blocks gold and the ML features;
# gold warns, except where a table says (OEE, predictions). Ops, the lake's bookkeeping, has no
# suite.
LAYER_SEVERITY = {"bronze": WARN, "silver": ERROR, "gold": WARN}

QUALITIES = ("good", "uncertain", "bad")
READING_SOURCES = ("uns", "sparkplug", "opcua")
DOWNTIME_STATES = ("unplanned_stop", "changeover")
WORK_ORDER_STATUSES = ("released", "running", "completed")
TAG_DATATYPES = ("Double", "Int64", "Boolean", "String", "Enum")
PLANNED_WINDOW_KINDS = ("break", "planned_maintenance")
PARETO_STATES = ("unplanned_stop", "idle", "changeover")
# Plants work shifts of 4 to 12 hours; the night a clock changes lasts an hour less or more.
SHIFT_MIN_S = 3 * 3600
SHIFT_MAX_S = 13 * 3600
# Times are summed from intervals in seconds: allow 1 s of rounding.
TIME_TOLERANCE_S = 1.0
# ISO 10816-3 calls a machine's vibration unacceptable from about 11 mm/s: 50 is a sensor fault.
MAX_VIBRATION_MM_S = 50.0

# A counter's first reading (the start of its history, or after a gap longer than the transform's
# lookback) has no baseline, so its increase is unknown and counted as 0: the counts of that
# minute then differ by a part. Hence a warning.
COUNTS_ADD_UP = between(
    "unaccounted_parts",
    0,
    0,
    "good + scrap + rework = produced (unaccounted_parts = produced − good − scrap − rework); "
    "a counter baseline at the start of the data leaves one part unaccounted",
    severity=WARN,
    show=("produced", "good", "scrap", "rework"),
    derive=unaccounted_parts,
)
IDEAL_CYCLE_ABOVE_0 = between("ideal_cycle_s", 0, why="ideal_cycle_s is above 0 s", above=True)

# Shift, line-day and site-week carry the same times and counts (ISO 22400-2): one contract.
OEE = contract(
    between(
        "availability", 0, 1, "availability lies between 0 and 1 (run time / planned busy time)"
    ),
    between("quality", 0, 1, "quality lies between 0 and 1 (good / produced)"),
    between("oee", 0, 1, "oee lies between 0 and 1 (availability × performance × quality)"),
    between(
        "performance",
        0,
        1,
        "performance lies between 0 and 1: above 1 the machine made parts faster than its ideal "
        "cycle time, so the ideal cycle time of the product (routing or work order) is wrong",
    ),
    between(
        "planned_busy_gap_s",
        -TIME_TOLERANCE_S,
        TIME_TOLERANCE_S,
        "planned busy time = planned time − planned downtime, within 1 s "
        "(planned_busy_gap_s = planned_busy_s − (planned_s − planned_downtime_s))",
        show=("planned_busy_s", "planned_s", "planned_downtime_s"),
        derive=oee_time_gaps,
    ),
    between(
        "run_beyond_planned_busy_s",
        None,
        TIME_TOLERANCE_S,
        "run time is not longer than planned busy time (1 s tolerance; "
        "run_beyond_planned_busy_s = run_s − planned_busy_s)",
        show=("run_s", "planned_busy_s"),
        derive=oee_time_gaps,
    ),
    COUNTS_ADD_UP,
    severity=ERROR,
)

RULES: dict[str, Suite] = {
    # bronze ---------------------------------------------------------------------------------
    "bronze.mqtt_messages": contract(one_of("qos", (0, 1, 2), "MQTT QoS is 0, 1 or 2")),
    "bronze.sparkplug_messages": contract(
        one_of(
            "message_type",
            SPARKPLUG_MESSAGE_TYPES,
            "message_type is a Sparkplug B message type (NBIRTH, DDATA, …)",
        ),
        between("seq", 0, 255, "Sparkplug sequence number seq lies in 0–255"),
    ),
    "bronze.opcua_values": contract(
        between(
            "status_code", 0, 0xFFFFFFFF, "status_code is an OPC UA status code (unsigned 32-bit)"
        ),
    ),
    "bronze.mes_rows": contract(one_of("extract_mode", ("incremental", "full"))),
    # silver: time series --------------------------------------------------------------------
    "silver.readings": contract(
        one_of("quality", QUALITIES),
        one_of("source", READING_SOURCES),
        # with silver.tags as context: each value against its tag's range and counter flag
        is_true(
            "value_in_range",
            "value lies between the tag's low and high in silver.tags "
            "(a sensor fault, a wrong unit or a wrong range in the tag list)",
            show=("value", "unit", "tag_low", "tag_high"),
            derive=tag_checks,
            needs="tags",
        ),
        is_true(
            "tag_listed",
            "the tag is in silver.tags, so its unit and range are known",
            severity=WARN,
            show=("tag",),
            derive=tag_checks,
            needs="tags",
        ),
        is_true(
            "counter_step_ok",
            "a counter tag never decreases, except when it is reset to zero (drops to at most "
            f"{COUNTER_RESET_SHARE:.0%} of its previous value)",
            severity=WARN,
            show=("value", "counter_previous_value"),
            derive=tag_checks,
            needs="tags",
        ),
    ),
    "silver.production_counts": contract(
        *not_negative("produced", "good", "scrap", "rework"),
        COUNTS_ADD_UP,
        between(
            "ideal_cycle_s",
            0,
            why="ideal_cycle_s (routing or work order) is above 0 s",
            above=True,
        ),
    ),
    "silver.equipment_states": contract(
        one_of("state", STATES),
        between("duration_s", 0),
        at_least(
            "end_time",
            "start_time",
            "an interval does not end before it starts (end_time >= start_time)",
        ),
    ),
    "silver.unmapped_addresses": contract(
        between("value_count", 1, why="a counted address has values"),
        one_of("source", READING_SOURCES),
    ),
    # silver: calendar -----------------------------------------------------------------------
    "silver.shift_calendar": contract(
        at_least(
            "end_time",
            "start_time",
            "a shift ends after it starts (end_time > start_time)",
            strict=True,
            skip_missing=False,
        ),
        between(
            "planned_s",
            SHIFT_MIN_S,
            SHIFT_MAX_S,
            "a shift lasts 6 to 10 hours (8 h; 7 or 9 h the night clocks change)",
        ),
    ),
    "silver.planned_downtime": contract(
        one_of("kind", PLANNED_WINDOW_KINDS, "a planned window is a break or planned maintenance"),
        between(
            "duration_s",
            0,
            why="a planned window lasts more than 0 s (it is clipped to its shift)",
            above=True,
        ),
    ),
    # silver: master data and MES ------------------------------------------------------------
    "silver.tags": contract(
        at_least("high", "low", "a tag's range is not upside down (high >= low)"),
        one_of("datatype", TAG_DATATYPES, severity=WARN),
    ),
    "silver.equipment": contract(
        at_least(
            "valid_to",
            "valid_from",
            "a version of an equipment ends after it begins (valid_to > valid_from)",
            strict=True,
        ),
    ),
    "silver.work_orders": contract(
        one_of("status", WORK_ORDER_STATUSES, severity=WARN),
        between("qty_planned", 0),
        IDEAL_CYCLE_ABOVE_0,
    ),
    "silver.downtime_events": contract(
        one_of("state", DOWNTIME_STATES, severity=WARN),
        at_least(
            "end_time",
            "start_time",
            "an event does not end before it starts (end_time >= start_time)",
        ),
        between("duration_s", 0),
    ),
    "silver.quality_inspections": contract(
        at_least(
            "upper_limit",
            "lower_limit",
            "the specification limits are not upside down (upper >= lower)",
        ),
    ),
    "silver.routings": contract(IDEAL_CYCLE_ABOVE_0),
    "silver.ideal_cycle_times": contract(IDEAL_CYCLE_ABOVE_0),
    # gold: OEE ------------------------------------------------------------------------------
    "gold.oee_shift": OEE,
    "gold.oee_line_day": OEE,
    "gold.oee_site_week": OEE,
    # gold: reliability and other KPIs -------------------------------------------------------
    "gold.reliability": contract(
        between("failures", 0),
        between("mtbf_h", 0, why="MTBF is above 0 h where there were failures", above=True),
        between("mttr_h", 0, why="MTTR is not negative"),
        between("operating_s", 0),
    ),
    "gold.downtime_pareto": contract(
        one_of("state", PARETO_STATES),
        between("stops", 1, why="a reason listed has at least one stop"),
        between("downtime_min", 0),
    ),
    "gold.quality": contract(
        *ratios("first_pass_yield", "scrap_rate", "rework_rate"),
        COUNTS_ADD_UP,
    ),
    "gold.energy": contract(*not_negative("energy_kwh", "kwh_per_good_unit")),
    "gold.spc": contract(
        at_least("ucl", "lcl", "the upper control limit is not below the lower one (ucl >= lcl)"),
        between("sigma", 0),
    ),
    "gold.asset_state": contract(*ratios("shift_oee", "failure_probability")),
    # gold: ML inputs and predictions --------------------------------------------------------
    "gold.asset_health_features": contract(
        between(
            "vibration_mean_mm_s",
            0,
            MAX_VIBRATION_MM_S,
            f"mean vibration lies between 0 and {MAX_VIBRATION_MM_S:g} mm/s "
            "(more is a sensor fault or a wrong unit)",
        ),
    ),
    "gold.quality_features": contract(
        at_least(
            "produced",
            "defects",
            "defects (scrap + rework) never exceed the parts produced",
            skip_missing=False,
        ),
        between("lot_defect_rate_before", 0, 1, "a lot's defect rate so far lies between 0 and 1"),
    ),
    "gold.maintenance_predictions": contract(
        between("failure_probability", 0, 1, "a probability lies between 0 and 1"),
        between("rul_h", 0, why="remaining useful life is not negative"),
        severity=ERROR,
    ),
    "gold.quality_predictions": contract(
        between("defect_probability", 0, 1, "a probability lies between 0 and 1"),
        severity=ERROR,
    ),
}
