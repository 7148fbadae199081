"""Gold: KPIs, features and asset state, built from silver by `transforms/gold`."""

from __future__ import annotations

from lakehouse.catalog.silver import EQUIPMENT_ID, SITE_PATH
from lakehouse.catalog.spec import Column, TableSpec

# The times and counts every OEE table carries, so that any roll-up sums them (ISO 22400-2).
OEE_TIMES_AND_COUNTS = (
    Column("planned_s", "double", "planned operation time (s)", nullable=False),
    Column(
        "planned_downtime_s",
        "double",
        "planned downtime: breaks, planned maintenance (s)",
        nullable=False,
    ),
    Column(
        "planned_busy_s",
        "double",
        "PBT = planned operation time − planned downtime (s)",
        nullable=False,
    ),
    Column(
        "run_s", "double", "APT, actual production time: time in state running (s)", nullable=False
    ),
    Column("unplanned_downtime_s", "double", "time in unplanned_stop (s)", nullable=False),
    Column("idle_s", "double", "time idle: starved or blocked (s)", nullable=False),
    Column("changeover_s", "double", "time in changeover (s)", nullable=False),
    Column("produced", "bigint", "produced quantity (count)", nullable=False),
    Column("good", "bigint", "good quantity at first pass (count)", nullable=False),
    Column("scrap", "bigint", "scrap quantity (count)", nullable=False),
    Column("rework", "bigint", "rework quantity (count)", nullable=False),
    Column("ideal_time_s", "double", "Σ planned run time per unit × produced (s)", nullable=False),
)
OEE_RATIOS = (
    Column("availability", "double", "APT / PBT"),
    Column("performance", "double", "ideal time / APT; above 1 flags a wrong ideal cycle time"),
    Column("quality", "double", "good / produced"),
    Column("oee", "double", "availability × performance × quality"),
    Column("availability_loss_min", "double", "(PBT − APT) in minutes"),
    Column("performance_loss_min", "double", "(APT − ideal time) in minutes"),
    Column("quality_loss_min", "double", "ideal time of parts not good at first pass, in minutes"),
)

TABLES = (
    TableSpec(
        layer="gold",
        name="oee_shift",
        description="OEE per equipment and shift (ISO 22400-2) with every time and count it comes from.",
        grain="one equipment × shift",
        columns=(
            EQUIPMENT_ID,
            *SITE_PATH,
            Column("shift_id", "string", "silver.shift_calendar.shift_id", nullable=False),
            Column("shift_name", "string", "early, late, …"),
            Column("local_date", "date", "the site's date of the shift"),
            Column("shift_start", "timestamp", "UTC", nullable=False),
            Column("shift_end", "timestamp", "UTC", nullable=False),
            *OEE_TIMES_AND_COUNTS,
            *OEE_RATIOS,
            Column("is_complete", "boolean", "the shift has ended and data covers it to its end"),
            Column(
                "event_date", "date", "UTC date of the shift start (the partition)", nullable=False
            ),
        ),
        primary_key=("equipment_id", "shift_id"),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="gold",
        name="oee_line_day",
        description="OEE per line and local day, from the summed times and counts of its equipment and shifts.",
        grain="one line × local day",
        columns=(
            *SITE_PATH,
            Column("local_date", "date", "the site's calendar date", nullable=False),
            Column("equipment_count", "bigint", "equipment with at least one shift"),
            *OEE_TIMES_AND_COUNTS,
            *OEE_RATIOS,
        ),
        primary_key=("site", "area", "line", "local_date"),
    ),
    TableSpec(
        layer="gold",
        name="oee_site_week",
        description="OEE per site and ISO week, from summed times and counts.",
        grain="one site × ISO week",
        columns=(
            Column("site", "string", "ISA-95 site", nullable=False),
            Column("week_start", "date", "Monday of the ISO week (local)", nullable=False),
            Column("iso_week", "string", "e.g. 2026-W10"),
            *OEE_TIMES_AND_COUNTS,
            *OEE_RATIOS,
        ),
        primary_key=("site", "week_start"),
    ),
    TableSpec(
        layer="gold",
        name="downtime_pareto",
        description="Stops per reason, line and day: how often and how long, for the Pareto chart.",
        grain="one line × UTC day × state × reason",
        columns=(
            *SITE_PATH,
            Column("state", "string", "unplanned_stop, idle or changeover", nullable=False),
            Column("reason_code", "string", "reason code", nullable=False),
            Column("stops", "bigint", "number of stop intervals starting that day", nullable=False),
            Column("downtime_min", "double", "their total duration in minutes", nullable=False),
            Column(
                "event_date", "date", "UTC date the stops started (the partition)", nullable=False
            ),
        ),
        primary_key=("site", "area", "line", "event_date", "state", "reason_code"),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="gold",
        name="reliability",
        description="MTBF and MTTR per equipment and month; a failure is an unplanned stop for "
        "breakdown or electrical_fault.",
        grain="one equipment × calendar month (UTC)",
        columns=(
            EQUIPMENT_ID,
            Column("month", "date", "first day of the month", nullable=False),
            Column("operating_s", "double", "time running (s)", nullable=False),
            Column("failures", "bigint", "failures starting in the month", nullable=False),
            Column("repair_s", "double", "total duration of those failures (s)", nullable=False),
            Column("mtbf_h", "double", "operating time / failures (h); null without failures"),
            Column("mttr_h", "double", "repair time / failures (h); null without failures"),
        ),
        primary_key=("equipment_id", "month"),
    ),
    TableSpec(
        layer="gold",
        name="spc",
        description="Individuals control chart per equipment and characteristic: centre line and "
        "limits from a baseline window, and each point's Western Electric / Nelson rule hits.",
        grain="one measured point",
        columns=(
            Column(
                "inspection_id",
                "string",
                "silver.quality_inspections.inspection_id",
                nullable=False,
            ),
            EQUIPMENT_ID,
            Column("characteristic", "string", "what was measured", nullable=False),
            Column("inspected_at", "timestamp", "UTC", nullable=False),
            Column("measured", "double", "the point", nullable=False),
            Column("centre_line", "double", "mean of the baseline window"),
            Column("sigma", "double", "average moving range / 1.128 over the baseline window"),
            Column("ucl", "double", "centre + 3 sigma"),
            Column("lcl", "double", "centre − 3 sigma"),
            Column("baseline_points", "bigint", "points in the baseline window"),
            Column(
                "rules_violated", "array<string>", "rule ids this point completes, e.g. WE1, N3"
            ),
            Column("out_of_control", "boolean", "any rule violated"),
        ),
        primary_key=("inspection_id",),
    ),
    TableSpec(
        layer="gold",
        name="quality",
        description="First-pass yield, scrap and rework rate per product, line and day.",
        grain="one product × line × UTC day",
        columns=(
            Column("product_id", "string", "product", nullable=False),
            *SITE_PATH,
            Column("produced", "bigint", "parts produced by the line's operations", nullable=False),
            Column("good", "bigint", "good at first pass", nullable=False),
            Column("scrap", "bigint", "scrapped", nullable=False),
            Column("rework", "bigint", "sent to rework", nullable=False),
            Column("first_pass_yield", "double", "good / produced"),
            Column("scrap_rate", "double", "scrap / produced"),
            Column("rework_rate", "double", "rework / produced"),
            Column("event_date", "date", "UTC day (the partition)", nullable=False),
        ),
        primary_key=("product_id", "site", "area", "line", "event_date"),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="gold",
        name="energy",
        description="Energy per line and day from the line meter, and kWh per good unit leaving the line.",
        grain="one line × UTC day",
        columns=(
            *SITE_PATH,
            Column(
                "energy_kwh",
                "double",
                "energy counted by the line meter (kWh), resets handled",
                nullable=False,
            ),
            Column("good_units", "bigint", "good parts of the line's last cell (count)"),
            Column("kwh_per_good_unit", "double", "energy_kwh / good_units"),
            Column("event_date", "date", "UTC day (the partition)", nullable=False),
        ),
        primary_key=("site", "area", "line", "event_date"),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="gold",
        name="asset_health_features",
        description="Per equipment and hour: rolling statistics of vibration, temperature and "
        "power, running time, stops, parts and time since maintenance: the input of the ML models.",
        grain="one equipment × UTC hour",
        columns=(
            EQUIPMENT_ID,
            Column("hour_start", "timestamp", "UTC", nullable=False),
            Column("kind", "string", "equipment kind"),
            Column("vibration_mean_mm_s", "double", "mean bearing vibration in the hour (mm/s)"),
            Column("vibration_std_mm_s", "double", "its standard deviation (mm/s)"),
            Column("vibration_max_mm_s", "double", "its maximum (mm/s)"),
            Column(
                "vibration_mean_24h_mm_s", "double", "mean over the last 24 hours incl. this one"
            ),
            Column("vibration_trend_24h_mm_s", "double", "this hour's mean − the 24-hour mean"),
            Column("temperature_mean_c", "double", "mean temperature in the hour (°C)"),
            Column("temperature_max_c", "double", "maximum temperature in the hour (°C)"),
            Column("temperature_mean_24h_c", "double", "mean over the last 24 hours (°C)"),
            Column("power_mean_kw", "double", "mean power in the hour (kW)"),
            Column("tool_wear_pct", "double", "last tool/bearing wear estimate in the hour (%)"),
            Column("run_s", "double", "time running in the hour (s)"),
            Column("unplanned_stops", "bigint", "unplanned stops starting in the hour"),
            Column("parts_produced", "bigint", "parts produced in the hour"),
            Column(
                "hours_since_maintenance",
                "double",
                "since the last planned maintenance ended (h); null if none seen",
            ),
            Column("event_date", "date", "UTC date of hour_start (the partition)", nullable=False),
        ),
        primary_key=("equipment_id", "hour_start"),
        partition_by=("event_date",),
    ),
    TableSpec(
        layer="gold",
        name="asset_state",
        description="The plant's digital twin: one row per equipment with its state now, latest "
        "key values, OEE of the current shift, last failure and latest predictions.",
        grain="one equipment",
        columns=(
            EQUIPMENT_ID,
            *SITE_PATH,
            Column("kind", "string", "equipment kind"),
            Column("state", "string", "current state"),
            Column("state_since", "timestamp", "when the current state began (UTC)"),
            Column("reason_code", "string", "reason of the current state"),
            Column("product_id", "string", "product in work"),
            Column("work_order_id", "string", "work order in work"),
            Column("vibration_mm_s", "double", "latest vibration (mm/s)"),
            Column("temperature_c", "double", "latest temperature (°C)"),
            Column("power_kw", "double", "latest power (kW)"),
            Column("tool_wear_pct", "double", "latest wear estimate (%)"),
            Column("last_reading_at", "timestamp", "latest reading of any tag (UTC)"),
            Column("shift_id", "string", "the latest shift with data"),
            Column("shift_oee", "double", "OEE of that shift so far"),
            Column("last_failure_at", "timestamp", "start of the latest failure (UTC)"),
            Column("last_failure_reason", "string", "its reason code"),
            Column(
                "failure_probability", "double", "latest predicted failure probability (ML), if any"
            ),
            Column("predicted_at", "timestamp", "when that prediction was made"),
            Column("updated_at", "timestamp", "when this row was computed (UTC)", nullable=False),
        ),
        primary_key=("equipment_id",),
    ),
)
