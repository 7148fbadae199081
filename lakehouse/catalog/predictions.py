"""Gold tables of the ML models: quality features, predictions of the champions, feature drift.

`gold.asset_health_features` (in `gold.py`) is the maintenance model's input; the tables here
are what `ml/` adds: the quality model's input, what each champion predicted (with the model
name and version on every row) and how far the scored features drifted from the training ones.
"""

from __future__ import annotations

from lakehouse.catalog.silver import EQUIPMENT_ID
from lakehouse.catalog.spec import Build, Column, Read, TableSpec

MODEL_NAME = Column("model_name", "string", "registered MLflow model", nullable=False)
MODEL_VERSION = Column("model_version", "string", "its registry version", nullable=False)
EVENT_DATE = Column("event_date", "date", "UTC date of hour_start (the partition)", nullable=False)
HOUR_START = Column("hour_start", "timestamp", "UTC start of the hour", nullable=False)

TABLES = (
    TableSpec(
        layer="gold",
        name="quality_features",
        build=Build(
            "transforms.gold.quality_features:quality_features",
            reads=(
                Read("silver.production_counts", before=7),
                Read("gold.asset_health_features"),
                Read("silver.readings", before=7, tags=("material_lot",)),
                Read("silver.shift_calendar", whole=True),
                Read("silver.equipment", whole=True),
            ),
            days=True,
        ),
        description="Per equipment, hour, product, work order and material lot: parts made, "
        "defects (scrap + rework) and the process context of that hour: the quality model's input.",
        grain="one equipment × UTC hour × product × work order × material lot",
        columns=(
            EQUIPMENT_ID,
            HOUR_START,
            Column("product_id", "string", "product made", nullable=False),
            Column("work_order_id", "string", "work order run", nullable=False),
            Column("material_lot", "string", "material lot in use (last seen in the hour)"),
            Column("kind", "string", "equipment kind"),
            Column("shift_name", "string", "shift of hour_start at the equipment's site"),
            Column("produced", "bigint", "parts completed (count)", nullable=False),
            Column("defects", "bigint", "scrap + rework (count)", nullable=False),
            Column("scrap", "bigint", "scrapped parts (count)", nullable=False),
            Column("rework", "bigint", "parts sent to rework (count)", nullable=False),
            Column(
                "lot_defect_rate_before",
                "double",
                "defects / produced of this material lot in earlier hours (null: first hour)",
            ),
            Column("lot_parts_before", "bigint", "parts of this lot made in earlier hours"),
            Column("tool_wear_pct", "double", "last tool/bearing wear estimate in the hour (%)"),
            Column("vibration_mean_mm_s", "double", "mean vibration in the hour (mm/s)"),
            Column("temperature_mean_c", "double", "mean temperature in the hour (°C)"),
            Column("power_mean_kw", "double", "mean power in the hour (kW)"),
            Column("hours_since_maintenance", "double", "since planned maintenance ended (h)"),
            EVENT_DATE,
        ),
        primary_key=("equipment_id", "hour_start", "product_id", "work_order_id", "material_lot"),
        partition_by=("event_date",),
        examples=(
            """-- Defect rate by tool-wear band over the last 7 days
SELECT CAST(floor(tool_wear_pct / 20) * 20 AS INT) AS wear_from_pct,
       sum(produced) AS parts, round(sum(defects) / sum(produced), 4) AS defect_rate
FROM gold.quality_features
WHERE event_date > date_sub((SELECT max(event_date) FROM gold.quality_features), 7)
GROUP BY 1 ORDER BY 1""",
            """-- Material lots with the highest defect rate (at least 200 parts)
SELECT material_lot, product_id, sum(produced) AS parts,
       round(sum(defects) / sum(produced), 4) AS defect_rate
FROM gold.quality_features
GROUP BY material_lot, product_id HAVING sum(produced) >= 200
ORDER BY defect_rate DESC LIMIT 10""",
            """-- Defect rate per shift and product on the latest day
SELECT shift_name, product_id, sum(produced) AS parts,
       round(sum(defects) / sum(produced), 4) AS defect_rate
FROM gold.quality_features
WHERE event_date = (SELECT max(event_date) FROM gold.quality_features)
GROUP BY shift_name, product_id ORDER BY shift_name, product_id""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="maintenance_predictions",
        description="The maintenance champion's prediction for each equipment and hour of "
        "gold.asset_health_features: probability of a failure within the horizon after the "
        "hour ends, the alarm at the model's operating threshold, and remaining useful life.",
        grain="one equipment × UTC hour",
        columns=(
            EQUIPMENT_ID,
            HOUR_START,
            Column(
                "failure_probability",
                "double",
                "P(a failure starts within horizon_h after the hour ends)",
                nullable=False,
            ),
            Column("alarm", "boolean", "failure_probability ≥ the operating threshold"),
            Column("threshold", "double", "the model's operating threshold"),
            Column("horizon_h", "double", "prediction horizon (h)", nullable=False),
            Column("rul_h", "double", "predicted remaining useful life (h), capped at rul_cap_h"),
            Column("rul_cap_h", "double", "the cap of the RUL model (h)"),
            Column(
                "rul_low_h",
                "double",
                "lower end of the RUL interval (h): split-conformal, widths per band of "
                "predicted RUL, calibrated on rows the model was not fitted on",
            ),
            Column("rul_high_h", "double", "upper end of the RUL interval (h)"),
            Column(
                "rul_interval_coverage",
                "double",
                "the share of true RULs the interval is built to hold (e.g. 0.9); the coverage "
                "measured on the holdout is in the RUL model's card",
            ),
            MODEL_NAME,
            MODEL_VERSION,
            Column("rul_model_version", "string", "registry version of the RUL model"),
            Column("predicted_at", "timestamp", "when the row was scored (UTC)", nullable=False),
            EVENT_DATE,
        ),
        primary_key=("equipment_id", "hour_start"),
        partition_by=("event_date",),
        examples=(
            """-- Machines most at risk now: the latest prediction of each
SELECT equipment_id, hour_start, round(failure_probability, 3) AS p_fail_24h,
       round(rul_h) AS rul_h, round(rul_low_h) AS rul_low_h, round(rul_high_h) AS rul_high_h,
       alarm, model_version
FROM gold.maintenance_predictions
QUALIFY row_number() OVER (PARTITION BY equipment_id ORDER BY hour_start DESC) = 1
ORDER BY failure_probability DESC""",
            """-- Alarm hours per machine and day over the last 7 days
SELECT event_date, equipment_id, count_if(alarm) AS alarm_hours,
       round(max(failure_probability), 3) AS max_p_fail
FROM gold.maintenance_predictions
WHERE event_date > date_sub((SELECT max(event_date) FROM gold.maintenance_predictions), 7)
GROUP BY event_date, equipment_id HAVING count_if(alarm) > 0
ORDER BY event_date DESC, alarm_hours DESC""",
            """-- Which model versions scored which days
SELECT model_name, model_version, min(event_date) AS first_day, max(event_date) AS last_day,
       count(*) AS rows
FROM gold.maintenance_predictions GROUP BY model_name, model_version ORDER BY first_day""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="quality_predictions",
        description="The quality champion's prediction for each row of gold.quality_features: "
        "probability that a part is scrap or rework, and the defects it expects.",
        grain="one equipment × UTC hour × product × work order × material lot",
        columns=(
            EQUIPMENT_ID,
            HOUR_START,
            Column("product_id", "string", "product made", nullable=False),
            Column("work_order_id", "string", "work order run", nullable=False),
            Column("material_lot", "string", "material lot in use"),
            Column(
                "defect_probability",
                "double",
                "P(a part is scrap or rework)",
                nullable=False,
            ),
            Column("produced", "bigint", "parts completed (count)", nullable=False),
            Column("expected_defects", "double", "defect_probability × produced (count)"),
            Column("actual_defects", "bigint", "scrap + rework reported (count)"),
            MODEL_NAME,
            MODEL_VERSION,
            Column("predicted_at", "timestamp", "when the row was scored (UTC)", nullable=False),
            EVENT_DATE,
        ),
        primary_key=("equipment_id", "hour_start", "product_id", "work_order_id", "material_lot"),
        partition_by=("event_date",),
        examples=(
            """-- Expected against reported defects per machine on the latest day
SELECT equipment_id, sum(produced) AS parts, round(sum(expected_defects)) AS expected,
       sum(actual_defects) AS reported
FROM gold.quality_predictions
WHERE event_date = (SELECT max(event_date) FROM gold.quality_predictions)
GROUP BY equipment_id ORDER BY expected DESC""",
            """-- Batches with the highest predicted defect probability on the latest day
SELECT equipment_id, hour_start, product_id, material_lot,
       round(defect_probability, 3) AS p_defect, produced, actual_defects
FROM gold.quality_predictions
WHERE event_date = (SELECT max(event_date) FROM gold.quality_predictions)
ORDER BY defect_probability DESC LIMIT 10""",
            """-- Calibration by day: mean predicted against observed defect rate
SELECT event_date, round(sum(expected_defects) / sum(produced), 4) AS predicted_rate,
       round(sum(actual_defects) / sum(produced), 4) AS observed_rate, model_version
FROM gold.quality_predictions GROUP BY event_date, model_version ORDER BY event_date""",
        ),
    ),
    TableSpec(
        layer="gold",
        name="feature_drift",
        description="Per model and feature: population stability index (PSI) between the "
        "champion's training window and a scoring window; above 0.2 counts as drift.",
        grain="one model × feature × scoring window",
        columns=(
            MODEL_NAME,
            MODEL_VERSION,
            Column("feature", "string", "feature column", nullable=False),
            Column("kind", "string", "numeric or categorical"),
            Column("psi", "double", "population stability index (0: same distribution)"),
            Column("drifted", "boolean", "psi above the threshold"),
            Column("threshold", "double", "the PSI threshold"),
            Column("train_mean", "double", "mean in the training window (numeric features)"),
            Column("score_mean", "double", "mean in the scoring window (numeric features)"),
            Column("train_rows", "bigint", "rows in the training window"),
            Column("score_rows", "bigint", "rows in the scoring window"),
            Column("train_start", "timestamp", "training window start (UTC)"),
            Column("train_end", "timestamp", "training window end (UTC)"),
            Column("score_start", "timestamp", "scoring window start (UTC)", nullable=False),
            Column("score_end", "timestamp", "scoring window end (UTC)", nullable=False),
            Column("computed_at", "timestamp", "when the row was computed (UTC)", nullable=False),
        ),
        primary_key=("model_name", "feature", "score_start", "score_end"),
        examples=(
            """-- Features that drifted on the latest day scored
SELECT model_name, model_version, feature, round(psi, 3) AS psi, train_mean, score_mean
FROM gold.feature_drift
WHERE score_start = (SELECT max(score_start) FROM gold.feature_drift) AND drifted
ORDER BY psi DESC""",
            """-- PSI trend of one feature across scored days
SELECT score_start, model_name, round(psi, 3) AS psi, drifted
FROM gold.feature_drift WHERE feature = 'tool_wear_pct' ORDER BY score_start""",
            """-- Drifted features per model and day
SELECT score_start, model_name, count_if(drifted) AS drifted, count(*) AS features
FROM gold.feature_drift GROUP BY score_start, model_name ORDER BY score_start DESC""",
        ),
    ),
)
