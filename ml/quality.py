"""Quality prediction: P(a part is scrap or rework) from process parameters and context,
trained on batch counts (parts made, parts defective) of any feature table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import mlflow
import pandas as pd

from ml import data, registry
from ml.train import Problem, Trained, binomial_rows, inputs_for, train_classifier

NAME = "plantlake-quality"
EXPERIMENT = "plantlake-quality"
GATE_METRIC = "pr_auc"


@dataclass
class Report:
    name: str
    version: str
    run_id: str
    decision: registry.Decision
    classifier: Trained
    train_seconds: float
    rows: int

    def table(self) -> pd.DataFrame:
        rows = [{"model": f"{self.name} v{self.version}", **self.classifier.metrics}]
        for base, m in self.classifier.baseline_metrics.items():
            rows.append({"model": f"baseline: {base}", **m})
        return pd.DataFrame(rows)


def fit_quality(
    frame: pd.DataFrame,
    *,
    id_col: str,
    time_col: str,
    feature_cols: Sequence[str],
    categorical_cols: Sequence[str] = (),
    label_col: str | None = None,
    positives_col: str | None = "defects",
    trials_col: str | None = "produced",
    test_fraction: float = 0.3,
    name: str = NAME,
    experiment: str = EXPERIMENT,
    data_versions: dict[str, int | None] | None = None,
    params: dict | None = None,
) -> Report:
    """Train, evaluate on a later holdout against the base defect rate, log, register, gate.

    Either per-part rows with a 0/1 `label_col`, or batches with `positives_col` defects out of
    `trials_col` parts (each batch weighs as many parts as it has).
    """
    started = time.perf_counter()
    if label_col is None:
        rows = binomial_rows(frame, positives_col=positives_col, trials_col=trials_col)
        problem = Problem(
            id_col, time_col, "label", list(feature_cols), list(categorical_cols), "weight"
        )
    else:
        rows = frame
        problem = Problem(id_col, time_col, label_col, list(feature_cols), list(categorical_cols))
    clf = train_classifier(rows, problem, test_fraction=test_fraction, params=params)
    train_seconds = time.perf_counter() - started

    registry.experiment(experiment)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"{name} {clf.split.test_end:%Y-%m-%d}") as run:
        mlflow.log_params(
            {
                "id_col": id_col,
                "time_col": time_col,
                "features": ",".join(problem.feature_cols),
                "categorical": ",".join(problem.categorical_cols),
                "train_rows": clf.train_rows,
                "test_rows": len(clf.holdout),
                **clf.split.as_params(),
                **{f"xgb_{k}": v for k, v in clf.params.items()},
            }
        )
        mlflow.set_tags({f"data.{t}.version": str(v) for t, v in (data_versions or {}).items()})
        registry.log_classifier_evaluation(clf)
        mlflow.log_metric("train_seconds", train_seconds)
        info = registry.log_model(
            clf.model, "model", inputs_for(clf.model, clf.holdout.head(5)), name
        )
        version = str(info.registered_model_version)
        mlflow.MlflowClient().set_model_version_tag(name, version, "threshold", str(clf.threshold))
        decision = registry.gate_on_holdout(name, version, clf, metric=GATE_METRIC)
        m, b = clf.metrics, clf.baseline_metrics["base_rate"]
        card = "\n\n".join(
            [
                "**Predicts** P(a part is scrap or rework) per equipment-hour × product × work "
                "order × lot, from tool wear, process values, the lot's defect rate so far, "
                "product, kind and shift.",
                f"**Data**: train {clf.split.train_start} – {clf.split.train_end} "
                f"({clf.train_rows} rows), holdout {clf.split.test_start} – {clf.split.test_end}; "
                + ", ".join(f"{t} v{v}" for t, v in (data_versions or {}).items()),
                f"**Holdout** (weighted by parts): PR-AUC {m['pr_auc']:.3f} (base rate "
                f"{b['pr_auc']:.3f}), ROC-AUC {m['roc_auc']:.3f}, Brier {m['brier']:.4f} (base "
                f"rate {b['brier']:.4f}), ECE {m['ece']:.4f}.",
                f"**Gate**: {decision.reason}.",
                "**Limits**: a new material lot is unknown until its first hour is counted; "
                "process values are hourly means, not per part.",
            ]
        )
        registry.describe(
            name,
            version,
            card,
            "Probability that a part is scrap or rework (XGBoost, UBJSON), scored into "
            "gold.quality_predictions by the alias `champion`, which moves only when a new "
            "version beats it on the same holdout (PR-AUC).",
        )
    return Report(name, version, run.info.run_id, decision, clf, train_seconds, len(frame))


def train_quality(lake, **kwargs) -> Report:
    """Train on the lake's gold.quality_features."""
    inputs = data.quality_inputs(lake)
    return fit_quality(
        inputs["features"],
        id_col="equipment_id",
        time_col="hour_start",
        feature_cols=data.QUALITY_FEATURES,
        categorical_cols=data.QUALITY_CATEGORICAL,
        data_versions=inputs.versions,
        **kwargs,
    )
