"""Both models trained through Dagster on the shared 14-day lake, tracked and gated in MLflow,
scored into gold with the champion; and the generic entry point on another table's columns."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from lakehouse.settings import load_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def tracking(small_lake, tmp_path, monkeypatch):
    """An MLflow store of the test's own (the shared lake's registry stays untouched)."""
    settings = load_settings(
        lake_root=small_lake.root, mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"
    )
    monkeypatch.setattr("ml.registry.get_settings", lambda: settings)
    from ml import registry

    registry.configure(small_lake.root)
    return MlflowClient()


@pytest.mark.timeout(900)  # the first user of small_lake builds it (2-3 min)
def test_models_train_register_gate_and_score_through_dagster(small_lake, tracking):
    from ml import maintenance, quality, registry
    from orchestration.materialize import materialize_scores, materialize_training

    run, meta = materialize_training(small_lake)
    assert run.success, run.failure
    m, q = meta["ml/maintenance_model"], meta["ml/quality_model"]
    assert (m["version"], m["role"], q["version"], q["role"]) == ("1", "champion", "1", "champion")

    # holdout metrics beside the baselines, on later days than training
    mv = tracking.get_model_version_by_alias(maintenance.NAME, "champion")
    r = tracking.get_run(mv.run_id)
    assert r.data.metrics["pr_auc"] > r.data.metrics["baseline_base_rate_pr_auc"]
    assert r.data.metrics["pr_auc"] > r.data.metrics["baseline_rule_vibration_mean_24h_mm_s_pr_auc"]
    assert pd.Timestamp(r.data.params["train_end"]) < pd.Timestamp(r.data.params["test_start"])
    for name in ("brier", "roc_auc", "precision", "recall", "rul_rmse", "rul_mae"):
        assert name in r.data.metrics
    assert r.data.tags["data.gold.asset_health_features.version"].isdigit()
    plots = {Path(a.path).name for a in tracking.list_artifacts(mv.run_id, "plots")}
    assert plots == {
        "pr_curve.png",
        "calibration.png",
        "confusion_matrix.png",
        "feature_importance.png",
        "rul_feature_importance.png",
    }
    qv = tracking.get_model_version_by_alias(quality.NAME, "champion")
    qr = tracking.get_run(qv.run_id).data.metrics
    assert qr["brier"] < qr["baseline_base_rate_brier"] and qr["pr_auc"] > qr["positive_rate"]
    assert "Data" in mv.description and "Limits" in mv.description  # the model card

    # the champion loads from XGBoost's own format: no pickle, no warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        champ = registry.champion(maintenance.NAME)
    assert champ is not None and not [w for w in caught if "pickle" in str(w.message).lower()]
    import mlflow

    files = {
        p.name
        for p in Path(mlflow.artifacts.download_artifacts(f"models:/{maintenance.NAME}/1")).rglob(
            "*"
        )
    }
    assert "model.ubj" in files and not [f for f in files if f.endswith((".pkl", ".pickle"))]

    # the same data again: a tie does not move the champion
    run2, meta2 = materialize_training(small_lake)
    assert run2.success and meta2["ml/maintenance_model"]["version"] == "2"
    assert meta2["ml/maintenance_model"]["role"] == "challenger"
    assert str(tracking.get_model_version_by_alias(maintenance.NAME, "champion").version) == "1"
    assert tracking.get_model_version(maintenance.NAME, "2").tags["role"] == "challenger"

    # scoring and drift through Dagster for the last day, with their checks
    day = small_lake.read("gold.asset_health_features").agg({"event_date": "max"}).first()[0]
    [run] = materialize_scores(small_lake, [day])  # job score, resources from the settings
    assert run.success, run.failure
    preds = small_lake.read("gold.maintenance_predictions").where(f"event_date = DATE'{day}'")
    features = small_lake.read("gold.asset_health_features").where(f"event_date = DATE'{day}'")
    assert preds.count() == features.count() > 0
    # remaining life with its conformal interval, as the RUL champion's card measured it
    assert (
        preds.where(
            "rul_low_h IS NULL OR NOT (rul_low_h <= rul_h AND rul_h <= rul_high_h) "
            "OR rul_interval_coverage != 0.9"
        ).count()
        == 0
    )
    rul_card = tracking.get_model_version_by_alias(maintenance.RUL_NAME, "champion").description
    assert "conformal" in rul_card and "RMSE" in rul_card
    assert {
        (r.model_name, r.model_version)
        for r in preds.select("model_name", "model_version").distinct().collect()
    } == {(maintenance.NAME, "1")}
    qp = small_lake.read("gold.quality_predictions").where(f"event_date = DATE'{day}'")
    assert (
        qp.count()
        == small_lake.read("gold.quality_features").where(f"event_date = DATE'{day}'").count()
    )
    drift = small_lake.read("gold.feature_drift").where(f"score_start = TIMESTAMP'{day} 00:00:00'")
    assert {r.model_name for r in drift.select("model_name").distinct().collect()} == {
        maintenance.NAME,
        quality.NAME,
    }
    checked = {c.asset for c in run.checks}
    assert {"gold/feature_drift", "gold/maintenance_predictions", "gold/quality_predictions"} <= (
        checked
    )


def test_the_training_entry_point_takes_any_table_with_named_columns(tracking):
    """A table shaped like a public run-to-failure benchmark: unit, cycle, sensors, a label."""
    from ml.maintenance import fit_maintenance

    rng = np.random.default_rng(7)
    rows = []
    for unit in range(30):
        life = int(rng.integers(150, 260))
        start = pd.Timestamp("2026-01-01") + pd.Timedelta(hours=int(rng.integers(0, 400)))
        for c in range(life):
            wear = c / life
            rows.append(
                {
                    "unit": f"u{unit}",
                    "cycle_time": start + pd.Timedelta(hours=c),
                    "s1": wear * 3 + rng.normal(0, 0.4),
                    "s2": rng.normal(0, 1),
                    "fails_soon": int(life - c <= 20),
                    "rul": float(min(life - c, 100)),
                }
            )
    frame = pd.DataFrame(rows)
    report = fit_maintenance(
        frame,
        id_col="unit",
        time_col="cycle_time",
        feature_cols=["s1", "s2"],
        label_col="fails_soon",
        rul_col="rul",
        horizon=20,
        baseline_col="s1",
        name="benchmark-maintenance",
        rul_name="benchmark-maintenance-rul",
        experiment="benchmark",
    )
    assert report.decision.promoted and report.version == "1"
    assert report.classifier.metrics["roc_auc"] > 0.8
    assert (
        report.rul is not None
        and report.rul.metrics["mae"] < report.rul.baseline_metrics["train_mean"]["mae"]
    )
    assert report.classifier.split.train_end < report.classifier.split.test_start
