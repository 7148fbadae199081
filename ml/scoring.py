"""Scoring with the champions into gold, and the drift of the scored features.

Every prediction row records the registered model's name and version.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from pyspark.sql import functions as F

from lakehouse.lake import Lake
from ml import data, drift, maintenance, quality, registry
from ml.conformal import Interval
from ml.encoding import prediction, probability
from transforms.columns import conform


class NoChampionError(LookupError):
    """The registered model has no champion yet: train it first."""


@dataclass(frozen=True)
class Scored:
    table: str
    rows: int
    model: str
    version: str
    seconds: float
    days: list[date]

    @property
    def seconds_per_1000(self) -> float:
        return self.seconds / self.rows * 1000 if self.rows else float("nan")


def _champion(name: str) -> registry.Champion:
    champ = registry.champion(name)
    if champ is None:
        raise NoChampionError(
            f"registered model {name!r} has no 'champion' alias yet: train it first "
            "(Dagster job train_models or `plantlake ml train`)"
        )
    return champ


def _write(lake: Lake, table: str, frame: pd.DataFrame, days: list[date]) -> None:
    lake.create(table)
    schema = lake.read(table).schema
    frame = frame[[f.name for f in schema.fields]]
    df = (
        lake.spark.createDataFrame(frame, schema=schema)
        if len(frame)
        else lake.spark.createDataFrame([], schema)
    )
    lake.replace_partitions(table, conform(df, table), days)


def _days_frame(lake: Lake, table: str, days: list[date]) -> pd.DataFrame:
    return data.to_pandas(lake.read(table).where(F.col("event_date").isin(days)))


def score_maintenance(lake: Lake, days: Iterable[date]) -> Scored:
    """gold.maintenance_predictions for the hours of gold.asset_health_features on `days`."""
    days = sorted(set(days))
    champ = _champion(maintenance.NAME)
    rul = registry.champion(maintenance.RUL_NAME)
    features = _days_frame(lake, "gold.asset_health_features", days)
    started = time.perf_counter()
    threshold = float(champ.tags.get("threshold", "nan"))
    cap = float(_tag(rul, "rul_cap", "rul_cap_h", "inf")) if rul else np.inf
    out = features[["equipment_id", "hour_start", "event_date"]].copy()
    out["failure_probability"] = probability(champ.model, features)
    out["rul_h"] = np.clip(prediction(rul.model, features), 0, cap) if rul else np.nan
    interval = Interval.from_json(rul.tags["interval"]) if rul and "interval" in rul.tags else None
    if interval is not None:
        out["rul_low_h"], out["rul_high_h"] = interval.bounds(
            out["rul_h"].to_numpy(float), lower=0, upper=cap
        )
    else:
        out["rul_low_h"], out["rul_high_h"] = np.nan, np.nan
    out["rul_interval_coverage"] = interval.coverage if interval else np.nan
    out["alarm"] = out["failure_probability"] >= threshold if np.isfinite(threshold) else None
    out["threshold"] = threshold
    out["horizon_h"] = float(_tag(champ, "horizon", "horizon_h", "nan"))
    out["rul_cap_h"] = cap if rul else np.nan
    out["model_name"], out["model_version"] = champ.name, str(champ.version)
    out["rul_model_version"] = str(rul.version) if rul else None
    out["predicted_at"] = datetime.now(UTC).replace(tzinfo=None)
    seconds = time.perf_counter() - started
    _write(lake, "gold.maintenance_predictions", out, days)
    return Scored(
        "gold.maintenance_predictions", len(out), champ.name, champ.version, seconds, days
    )


def score_quality(lake: Lake, days: Iterable[date]) -> Scored:
    """gold.quality_predictions for the rows of gold.quality_features on `days`."""
    days = sorted(set(days))
    champ = _champion(quality.NAME)
    features = _days_frame(lake, "gold.quality_features", days)
    started = time.perf_counter()
    keys = ["equipment_id", "hour_start", "product_id", "work_order_id", "material_lot"]
    out = features[[*keys, "produced", "defects", "event_date"]].rename(
        columns={"defects": "actual_defects"}
    )
    out["defect_probability"] = probability(champ.model, features)
    out["expected_defects"] = out["defect_probability"] * out["produced"]
    out["model_name"], out["model_version"] = champ.name, str(champ.version)
    out["predicted_at"] = datetime.now(UTC).replace(tzinfo=None)
    seconds = time.perf_counter() - started
    _write(lake, "gold.quality_predictions", out, days)
    return Scored("gold.quality_predictions", len(out), champ.name, champ.version, seconds, days)


def _tag(champ: registry.Champion, name: str, old_name: str, default: str) -> str:
    """A version tag by its name, or by the name versions registered before it had."""
    return champ.tags.get(name, champ.tags.get(old_name, default))


MODEL_FEATURE_TABLES = {
    maintenance.NAME: "gold.asset_health_features",
    quality.NAME: "gold.quality_features",
}


def build_feature_drift(lake: Lake, days: Iterable[date]) -> pd.DataFrame:
    """gold.feature_drift of each champion: its training window against the scoring `days`."""
    days = sorted(set(days))
    lake.create("gold.feature_drift")
    frames = []
    for name, table in MODEL_FEATURE_TABLES.items():
        champ = registry.champion(name)
        if champ is None:
            continue
        params = MlflowClient().get_run(champ.run_id).data.params
        features = params["features"].split(",")
        categorical = [c for c in params.get("categorical", "").split(",") if c]
        t0, t1 = pd.Timestamp(params["train_start"]), pd.Timestamp(params["train_end"])
        source = lake.read(table)
        train = data.to_pandas(
            source.where((F.col("hour_start") >= F.lit(t0)) & (F.col("hour_start") < F.lit(t1)))
        )
        score = _days_frame(lake, table, days)
        out = drift.feature_drift(train, score, features, categorical)
        out["model_name"], out["model_version"] = name, str(champ.version)
        out["train_start"], out["train_end"] = t0, t1
        out["score_start"] = pd.Timestamp(days[0])
        out["score_end"] = pd.Timestamp(days[-1]) + pd.Timedelta(days=1)
        frames.append(out)
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(result):
        result["computed_at"] = datetime.now(UTC).replace(tzinfo=None)
        schema = lake.read("gold.feature_drift").schema
        df = lake.spark.createDataFrame(result[[f.name for f in schema.fields]], schema=schema)
        lake.upsert("gold.feature_drift", df)
    return result
