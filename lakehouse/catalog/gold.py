"""Gold: KPIs, features and asset state, built from silver by `transforms/gold`."""

from __future__ import annotations

from lakehouse.catalog.silver import COUNTER_LOOKBACK_DAYS, EQUIPMENT_ID, HEALTH_TAGS, SITE_PATH
from lakehouse.catalog.spec import Build, Column, Read, TableSpec

# The times and counts every OEE table carries, so that any roll-up sums them (ISO 22400-2).
OEE_TIMES_AND_COUNTS = (
    Column("planned_s", "double", "planned operation time (s)", nullable=False),
    Column(
        "planned_downtime_s",
        "double",
        "planned downtime: calendar breaks and planned maintenance, and planned_stop states, "
        "each minute once; a calendar break in which the machine runs is not downtime (s)",
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
    Column(
        "good_ideal_time_s",
        "double",
        "Σ planned run time per unit × good (s): the quality loss is ideal_time_s − this",
        nullable=False,
    ),
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
        build=Build(
            "transforms.gold.oee:oee_shift_as_far_as_data",
            reads=(
                Read("silver.equipment_states", before=7, after=1),
                Read("silver.production_counts", after=1),
                Read("silver.shift_calendar", whole=True),
                Read("silver.equipment", whole=True),
                Read("silver.readings", after=1),
                Read("silver.planned_downtime", whole=True),
            ),
            days=True,
            day_before=True,  # a night shift starts the day before it ends
        ),
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
        examples=(
            """-- OEE per equipment and shift on the latest day, worst first
SELECT equipment_id, shift_name, round(oee, 3) AS oee, round(availability, 3) AS availability,
       round(performance, 3) AS performance, round(quality, 3) AS quality, is_complete
FROM gold.oee_shift
WHERE local_date = (SELECT max(local_date) FROM gold.oee_shift)
ORDER BY oee""",
            """-- OEE by line for the latest day, rolled up from the shifts by summing times and counts
SELECT line,
       sum(run_s) / nullif(sum(planned_busy_s), 0) AS availability,
       sum(ideal_time_s) / nullif(sum(run_s), 0) AS performance,
       sum(good) / nullif(sum(produced), 0) AS quality,
       sum(run_s) / nullif(sum(planned_busy_s), 0) * sum(ideal_time_s) / nullif(sum(run_s), 0)
         * sum(good) / nullif(sum(produced), 0) AS oee
FROM gold.oee_shift
WHERE local_date = (SELECT max(local_date) FROM gold.oee_shift)
GROUP BY line
ORDER BY oee""",
            """-- Where the minutes went: OEE losses per shift name over the last 7 days
SELECT shift_name,
       round(sum(availability_loss_min)) AS availability_loss_min,
       round(sum(performance_loss_min)) AS performance_loss_min,
       round(sum(quality_loss_min)) AS quality_loss_min
FROM gold.oee_shift
WHERE event_date > date_sub((SELECT max(event_date) FROM gold.oee_shift), 7)
GROUP BY shift_name
ORDER BY availability_loss_min + performance_loss_min + quality_loss_min DESC""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="oee_line_day",
        build=Build("transforms.gold.oee:oee_line_day", reads=(Read("gold.oee_shift"),)),
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
        examples=(
            """-- OEE by line for the latest day
SELECT site, area, line, round(oee, 3) AS oee, round(availability, 3) AS availability,
       round(performance, 3) AS performance, round(quality, 3) AS quality, produced, good
FROM gold.oee_line_day
WHERE local_date = (SELECT max(local_date) FROM gold.oee_line_day)
ORDER BY oee""",
            """-- Daily OEE trend per line over the last 14 days
SELECT line, local_date, round(oee, 3) AS oee, round(availability_loss_min) AS availability_loss_min
FROM gold.oee_line_day
WHERE local_date > date_sub((SELECT max(local_date) FROM gold.oee_line_day), 14)
ORDER BY line, local_date""",
            """-- The 10 worst line-days and what they lost most to
SELECT line, local_date, round(oee, 3) AS oee,
       CASE greatest(availability_loss_min, performance_loss_min, quality_loss_min)
         WHEN availability_loss_min THEN 'availability'
         WHEN performance_loss_min THEN 'performance'
         ELSE 'quality' END AS biggest_loss
FROM gold.oee_line_day
WHERE oee IS NOT NULL
ORDER BY oee
LIMIT 10""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="oee_site_week",
        build=Build("transforms.gold.oee:oee_site_week", reads=(Read("gold.oee_shift"),)),
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
        examples=(
            """-- Weekly OEE per site, latest week first
SELECT site, iso_week, round(oee, 3) AS oee, round(availability, 3) AS availability,
       round(performance, 3) AS performance, round(quality, 3) AS quality
FROM gold.oee_site_week
ORDER BY week_start DESC, site""",
            """-- Week-over-week change of OEE per site (percentage points)
SELECT site, iso_week, round(100 * oee, 1) AS oee_pct,
       round(100 * (oee - lag(oee) OVER (PARTITION BY site ORDER BY week_start)), 1) AS change_pp
FROM gold.oee_site_week
ORDER BY site, week_start""",
            """-- Output per site and week: produced, good, scrap, rework and the scrap share
SELECT site, iso_week, produced, good, scrap, rework,
       round(100 * scrap / nullif(produced, 0), 2) AS scrap_pct
FROM gold.oee_site_week
ORDER BY week_start DESC, site""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="downtime_pareto",
        build=Build(
            "transforms.gold.downtime:downtime_pareto",
            reads=(Read("silver.equipment_states"), Read("silver.equipment", whole=True)),
            days=True,
        ),
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
        examples=(
            """-- Top 10 downtime reasons over the last 7 days, all lines
SELECT state, reason_code, sum(stops) AS stops, round(sum(downtime_min)) AS downtime_min
FROM gold.downtime_pareto
WHERE event_date > date_sub((SELECT max(event_date) FROM gold.downtime_pareto), 7)
GROUP BY state, reason_code
ORDER BY downtime_min DESC
LIMIT 10""",
            """-- Pareto of unplanned stops per line on the latest day, with the cumulative share
SELECT line, reason_code, round(downtime_min, 1) AS downtime_min,
       round(100 * sum(downtime_min) OVER (PARTITION BY line ORDER BY downtime_min DESC
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
             / sum(downtime_min) OVER (PARTITION BY line), 1) AS cumulative_pct
FROM gold.downtime_pareto
WHERE state = 'unplanned_stop'
  AND event_date = (SELECT max(event_date) FROM gold.downtime_pareto)
ORDER BY line, downtime_min DESC""",
            """-- Mean stop duration per reason (minutes per stop), longest first
SELECT reason_code, sum(stops) AS stops,
       round(sum(downtime_min) / nullif(sum(stops), 0), 1) AS minutes_per_stop
FROM gold.downtime_pareto
GROUP BY reason_code
ORDER BY minutes_per_stop DESC""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="reliability",
        build=Build(
            "transforms.gold.reliability:reliability", reads=(Read("silver.equipment_states"),)
        ),
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
        examples=(
            """-- MTBF and MTTR per equipment for the latest month, least reliable first
SELECT equipment_id, failures, round(mtbf_h, 1) AS mtbf_h, round(mttr_h, 2) AS mttr_h
FROM gold.reliability
WHERE month = (SELECT max(month) FROM gold.reliability)
ORDER BY failures DESC, mtbf_h""",
            """-- Equipment with the most failures over the last 3 months
SELECT equipment_id, sum(failures) AS failures, round(sum(repair_s) / 3600, 1) AS repair_h
FROM gold.reliability
WHERE month > add_months((SELECT max(month) FROM gold.reliability), -3)
GROUP BY equipment_id
ORDER BY failures DESC
LIMIT 10""",
            """-- Plant MTBF and MTTR per month, from summed operating and repair times
SELECT month, sum(failures) AS failures,
       round(sum(operating_s) / 3600 / nullif(sum(failures), 0), 1) AS mtbf_h,
       round(sum(repair_s) / 3600 / nullif(sum(failures), 0), 2) AS mttr_h
FROM gold.reliability
GROUP BY month
ORDER BY month""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="spc",
        build=Build("transforms.gold.spc:spc_points", reads=(Read("silver.quality_inspections"),)),
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
        examples=(
            """-- SPC rule hits by rule over all points
SELECT rule, count(*) AS points
FROM (SELECT explode(rules_violated) AS rule FROM gold.spc)
GROUP BY rule
ORDER BY points DESC""",
            """-- Out-of-control points per equipment and characteristic over the last 7 days
SELECT equipment_id, characteristic, count(*) AS points,
       count_if(out_of_control) AS out_of_control,
       round(100 * count_if(out_of_control) / count(*), 1) AS out_of_control_pct
FROM gold.spc
WHERE inspected_at > (SELECT max(inspected_at) FROM gold.spc) - INTERVAL 7 DAYS
GROUP BY equipment_id, characteristic
ORDER BY out_of_control DESC""",
            """-- Current control limits and latest point per equipment and characteristic
SELECT equipment_id, characteristic,
       round(max_by(centre_line, inspected_at), 4) AS centre_line,
       round(max_by(lcl, inspected_at), 4) AS lcl,
       round(max_by(ucl, inspected_at), 4) AS ucl,
       round(max_by(measured, inspected_at), 4) AS last_measured,
       max(inspected_at) AS last_inspected_at
FROM gold.spc
GROUP BY equipment_id, characteristic
ORDER BY equipment_id, characteristic""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="quality",
        build=Build(
            "transforms.gold.quality:quality_by_product",
            reads=(Read("silver.production_counts"), Read("silver.equipment", whole=True)),
            days=True,
        ),
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
        examples=(
            """-- Worst first-pass yield by product and line over the last 7 days (summed counts)
SELECT product_id, line, sum(produced) AS produced,
       round(sum(good) / nullif(sum(produced), 0), 4) AS first_pass_yield
FROM gold.quality
WHERE event_date > date_sub((SELECT max(event_date) FROM gold.quality), 7)
GROUP BY product_id, line
ORDER BY first_pass_yield
LIMIT 10""",
            """-- Daily scrap and rework rate per line
SELECT line, event_date,
       round(100 * sum(scrap) / nullif(sum(produced), 0), 2) AS scrap_pct,
       round(100 * sum(rework) / nullif(sum(produced), 0), 2) AS rework_pct
FROM gold.quality
GROUP BY line, event_date
ORDER BY line, event_date""",
            """-- Products whose rework rate was above 5 % on any day
SELECT product_id, line, event_date, produced, rework, round(100 * rework_rate, 1) AS rework_pct
FROM gold.quality
WHERE rework_rate > 0.05
ORDER BY rework_rate DESC""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="scrap_pareto",
        build=Build(
            "transforms.gold.scrap:scrap_pareto",
            reads=(Read("silver.production_counts"), Read("silver.equipment", whole=True)),
            days=True,
        ),
        description="Where each line's scrap came from: every machine × product that scrapped "
        "parts, ranked by scrap within its line and UTC day, with its share of the line's scrap "
        "and the cumulative share (a Pareto: the few pairs that make most of the scrap).",
        grain="one line × UTC day × equipment × product with scrap",
        columns=(
            *SITE_PATH,
            EQUIPMENT_ID,
            Column(
                "product_id",
                "string",
                "product ('unknown' when the count had none)",
                nullable=False,
            ),
            Column("produced", "bigint", "parts produced by the machine (count)", nullable=False),
            Column("scrap", "bigint", "parts scrapped (count)", nullable=False),
            Column("rework", "bigint", "parts sent to rework (count)", nullable=False),
            Column("scrap_rate", "double", "scrap / produced"),
            Column("rank", "int", "1 = the most scrap on the line that day", nullable=False),
            Column(
                "share_of_line_scrap", "double", "scrap / the line's scrap that day", nullable=False
            ),
            Column(
                "cumulative_share",
                "double",
                "share of the line's scrap from this pair and those ranked before it",
                nullable=False,
            ),
            Column("event_date", "date", "UTC day (the partition)", nullable=False),
        ),
        primary_key=("site", "area", "line", "equipment_id", "product_id", "event_date"),
        partition_by=("event_date",),
        examples=(
            """-- The vital few: per line, the machine × product pairs behind 80 % of the latest day's scrap
SELECT site, line, rank, equipment_id, product_id, scrap, round(cumulative_share, 3) AS cumulative_share
FROM gold.scrap_pareto
WHERE event_date = (SELECT max(event_date) FROM gold.scrap_pareto)
  AND cumulative_share - share_of_line_scrap < 0.8
ORDER BY site, line, rank""",
            """-- The machines that scrapped most over the last 7 days, with their scrap rate
SELECT site, line, equipment_id, sum(scrap) AS scrap,
       round(100 * sum(scrap) / nullif(sum(produced), 0), 2) AS scrap_pct
FROM gold.scrap_pareto
WHERE event_date > date_sub((SELECT max(event_date) FROM gold.scrap_pareto), 7)
GROUP BY site, line, equipment_id
ORDER BY scrap DESC
LIMIT 10""",
            """-- The latest day's top scrap source of each line
SELECT site, area, line, equipment_id, product_id, scrap, round(100 * share_of_line_scrap, 1) AS pct
FROM gold.scrap_pareto
WHERE rank = 1 AND event_date = (SELECT max(event_date) FROM gold.scrap_pareto)
ORDER BY scrap DESC""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="energy",
        build=Build(
            "transforms.gold.energy:energy_by_line",
            reads=(
                Read("silver.readings", before=COUNTER_LOOKBACK_DAYS, tags=("energy_kwh",)),
                Read("silver.production_counts"),
                Read("silver.equipment", whole=True),
            ),
            days=True,
        ),
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
        examples=(
            """-- kWh per good unit per line and day over the last 14 days
SELECT line, event_date, round(energy_kwh, 1) AS energy_kwh, good_units,
       round(kwh_per_good_unit, 3) AS kwh_per_good_unit
FROM gold.energy
WHERE event_date > date_sub((SELECT max(event_date) FROM gold.energy), 14)
ORDER BY line, event_date""",
            """-- Energy per line and ISO week, and kWh per good unit from the weekly sums
SELECT line, date_trunc('week', event_date) AS week_start,
       round(sum(energy_kwh)) AS energy_kwh, sum(good_units) AS good_units,
       round(sum(energy_kwh) / nullif(sum(good_units), 0), 3) AS kwh_per_good_unit
FROM gold.energy
GROUP BY line, date_trunc('week', event_date)
ORDER BY line, week_start""",
            """-- Days when a line used over 10 % more energy per good unit than its own average
SELECT line, event_date, round(kwh_per_good_unit, 3) AS kwh_per_good_unit,
       round(avg_kwh_per_good_unit, 3) AS line_average
FROM (SELECT line, event_date, kwh_per_good_unit,
             avg(kwh_per_good_unit) OVER (PARTITION BY line) AS avg_kwh_per_good_unit
      FROM gold.energy)
WHERE kwh_per_good_unit > 1.1 * avg_kwh_per_good_unit
ORDER BY kwh_per_good_unit / avg_kwh_per_good_unit DESC""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="asset_health_features",
        build=Build(
            "transforms.gold.features:asset_health_features",
            reads=(
                Read("silver.readings", before=1, tags=HEALTH_TAGS),
                Read("silver.equipment_states", before=14),
                Read("silver.production_counts"),
                Read("silver.equipment", whole=True),
            ),
            days=True,
        ),
        description="Per equipment and hour: statistics of vibration, temperature and power in "
        "the hour and over the last 24 hours (means, maxima, slopes), tool wear and its rate, "
        "running time, stops, parts and time since maintenance: the input of the ML models. "
        "Analog statistics are taken over 1-minute means, so a 10 s feed and a 1-minute historian "
        "export give the same features. The 24-hour columns cover the hour and the 23 before it "
        "(transforms.sequences.sequence_features, causal: no later hour is used).",
        grain="one equipment × UTC hour",
        columns=(
            EQUIPMENT_ID,
            Column("hour_start", "timestamp", "UTC", nullable=False),
            Column("kind", "string", "equipment kind"),
            Column("vibration_mean_mm_s", "double", "mean bearing vibration in the hour (mm/s)"),
            Column(
                "vibration_std_mm_s", "double", "standard deviation of its 1-minute means (mm/s)"
            ),
            Column("vibration_max_mm_s", "double", "its highest 1-minute mean (mm/s)"),
            Column(
                "vibration_mean_24h_mm_s",
                "double",
                "mean of the 1-minute means over the last 24 hours, this one included (mm/s)",
            ),
            Column(
                "vibration_trend_24h_mm_s", "double", "this hour's mean − the 24-hour mean (mm/s)"
            ),
            Column(
                "vibration_max_24h_mm_s",
                "double",
                "highest 1-minute mean vibration over the last 24 hours (mm/s)",
            ),
            Column(
                "vibration_slope_24h_mm_s_per_h",
                "double",
                "least-squares slope of the hourly mean vibration against time over the last "
                "24 hours, per hour; null with fewer than 2 hours of data (mm/s/h)",
            ),
            Column("temperature_mean_c", "double", "mean temperature in the hour (°C)"),
            Column("temperature_max_c", "double", "highest 1-minute mean temperature (°C)"),
            Column(
                "temperature_mean_24h_c",
                "double",
                "mean of the 1-minute means over the last 24 hours, this one included (°C)",
            ),
            Column(
                "temperature_slope_24h_c_per_h",
                "double",
                "least-squares slope of the hourly mean temperature against time over the last "
                "24 hours, per hour; null with fewer than 2 hours of data (°C/h)",
            ),
            Column("power_mean_kw", "double", "mean power in the hour (kW)"),
            Column("tool_wear_pct", "double", "last tool/bearing wear estimate in the hour (%)"),
            Column(
                "tool_wear_rate_24h_pct_per_h",
                "double",
                "wear rate: least-squares slope of tool_wear_pct against time over the last 24 "
                "hours, per hour; a tool change in the window pulls it down; null with fewer "
                "than 2 hours of data (%/h)",
            ),
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
        examples=(
            """-- Rising vibration: equipment whose hourly mean is furthest above its 24-hour mean (last day)
SELECT equipment_id, kind, max(vibration_trend_24h_mm_s) AS max_trend_mm_s,
       max(vibration_max_mm_s) AS max_vibration_mm_s
FROM gold.asset_health_features
WHERE hour_start > (SELECT max(hour_start) FROM gold.asset_health_features) - INTERVAL 24 HOURS
GROUP BY equipment_id, kind
ORDER BY max_trend_mm_s DESC
LIMIT 10""",
            """-- Hours since maintenance and tool wear per equipment, from its latest hour
SELECT equipment_id, kind,
       round(max_by(hours_since_maintenance, hour_start), 1) AS hours_since_maintenance,
       round(max_by(tool_wear_pct, hour_start), 1) AS tool_wear_pct,
       max(hour_start) AS latest_hour
FROM gold.asset_health_features
GROUP BY equipment_id, kind
ORDER BY hours_since_maintenance DESC""",
            """-- Daily profile per equipment: running hours, unplanned stops, parts and mean temperature
SELECT equipment_id, event_date, round(sum(run_s) / 3600, 1) AS run_h,
       sum(unplanned_stops) AS unplanned_stops, sum(parts_produced) AS parts,
       round(avg(temperature_mean_c), 1) AS temperature_mean_c
FROM gold.asset_health_features
GROUP BY equipment_id, event_date
ORDER BY equipment_id, event_date""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="asset_state",
        build=Build(
            "orchestration.builders:asset_state",
            reads=(
                Read("silver.equipment"),
                Read("silver.equipment_states"),
                Read("silver.readings"),
                Read("gold.oee_shift"),
                Read("gold.maintenance_predictions"),
            ),
        ),
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
        examples=(
            """-- Assets at risk: highest predicted failure probability first, with their state now
SELECT equipment_id, line, kind, state, round(failure_probability, 3) AS failure_probability,
       predicted_at, round(vibration_mm_s, 2) AS vibration_mm_s, round(tool_wear_pct, 1) AS tool_wear_pct
FROM gold.asset_state
WHERE failure_probability IS NOT NULL
ORDER BY failure_probability DESC
LIMIT 10""",
            """-- Equipment not running now, longest in its state first
SELECT equipment_id, line, state, reason_code, state_since,
       timestampdiff(MINUTE, state_since, updated_at) AS minutes_in_state
FROM gold.asset_state
WHERE state <> 'running'
ORDER BY minutes_in_state DESC""",
            """-- Number of equipment per line and state now, with the lowest current-shift OEE
SELECT line, state, count(*) AS equipment, round(min(shift_oee), 3) AS lowest_shift_oee
FROM gold.asset_state
GROUP BY line, state
ORDER BY line, state""",
        ),
    ),
)
