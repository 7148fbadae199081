"""Predictive maintenance: P(failure within H hours) and remaining useful life, trained on any
hourly feature table, tracked in MLflow and gated into the registry."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd

from ml import data, evaluate, labels, registry
from ml.train import Problem, Trained, inputs_for, train_classifier, train_regressor

NAME = "plantlake-maintenance"
RUL_NAME = "plantlake-maintenance-rul"
EXPERIMENT = "plantlake-maintenance"
GATE_METRIC = "pr_auc"


@dataclass
class Report:
    """What one training run did: its metrics beside the baselines and the gate's decision."""

    name: str
    version: str
    run_id: str
    decision: registry.Decision
    classifier: Trained
    rul: Trained | None
    rul_version: str | None
    lead: dict[str, float]
    train_seconds: float
    rows: int

    def table(self) -> pd.DataFrame:
        """Holdout metrics, model beside baselines (one row each)."""
        rul = {f"rul_{k}_h": v for k, v in self.rul.metrics.items()} if self.rul else {}
        rows = [
            {"model": f"{self.name} v{self.version}", **self.classifier.metrics, **self.lead, **rul}
        ]
        for base, m in self.classifier.baseline_metrics.items():
            rows.append({"model": f"baseline: {base}", **m})
        if self.rul:
            mean = self.rul.baseline_metrics["train_mean"]
            rows.append(
                {
                    "model": "baseline: RUL = training mean",
                    **{f"rul_{k}_h": v for k, v in mean.items()},
                }
            )
        return pd.DataFrame(rows)


def fit_maintenance(
    frame: pd.DataFrame,
    *,
    id_col: str,
    time_col: str,
    feature_cols: Sequence[str],
    categorical_cols: Sequence[str] = (),
    failures: pd.DataFrame | None = None,
    label_col: str = "fails_within_h",
    rul_col: str | None = "rul_h",
    horizon_h: float = 24.0,
    step_h: float = 1.0,
    rul_cap_h: float = 72.0,
    baseline_col: str | None = None,
    test_fraction: float = 0.3,
    name: str = NAME,
    rul_name: str = RUL_NAME,
    experiment: str = EXPERIMENT,
    data_versions: dict[str, int | None] | None = None,
    params: dict | None = None,
) -> Report:
    """Train, evaluate against the baselines on a later holdout, log to MLflow, register, gate.

    `frame` is any feature table with one row per `id_col` and `time_col` step. Labels: give
    `failures` (`id_col`, start_time, end_time) to derive `label_col` and `rul_col` from them
    (see `ml.labels.label_failures`), or name label columns the frame already has.
    """
    started = time.perf_counter()
    if failures is not None:
        frame = labels.label_failures(
            frame,
            failures,
            id_col=id_col,
            time_col=time_col,
            horizon_h=horizon_h,
            step_h=step_h,
            rul_cap_h=rul_cap_h,
        )
        usable = frame[~frame["in_failure"] & frame["label_known"]]
    else:
        usable = frame[frame[label_col].notna()]
    problem = Problem(
        id_col,
        time_col,
        label_col,
        list(feature_cols),
        list(categorical_cols),
        baseline_col=baseline_col,
    )
    gap = pd.Timedelta(hours=horizon_h)
    clf = train_classifier(usable, problem, test_fraction=test_fraction, gap=gap, params=params)
    rul = None
    if rul_col and rul_col in frame:
        known = frame[frame[rul_col].notna()]
        if "in_failure" in known:
            known = known[~known["in_failure"]]
        rul = train_regressor(
            known,
            Problem(id_col, time_col, rul_col, problem.feature_cols, problem.categorical_cols),
            split=clf.split,
            params=params,
        )
    train_seconds = time.perf_counter() - started
    lead = (
        evaluate.lead_times(
            clf.holdout,
            failures,
            id_col=id_col,
            time_col=time_col,
            alarm_col="alarm",
            horizon_h=horizon_h,
            step_h=step_h,
        )
        if failures is not None
        else {}
    )

    registry.experiment(experiment)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"{name} {clf.split.test_end:%Y-%m-%d}") as run:
        mlflow.log_params(
            {
                "horizon_h": horizon_h,
                "step_h": step_h,
                "rul_cap_h": rul_cap_h,
                "id_col": id_col,
                "time_col": time_col,
                "features": ",".join(problem.feature_cols),
                "categorical": ",".join(problem.categorical_cols),
                "baseline_rule": baseline_col or "",
                "train_rows": clf.train_rows,
                "test_rows": len(clf.holdout),
                **clf.split.as_params(),
                **{f"xgb_{k}": v for k, v in clf.params.items()},
            }
        )
        mlflow.set_tags({f"data.{t}.version": str(v) for t, v in (data_versions or {}).items()})
        registry.log_classifier_evaluation(clf)
        mlflow.log_metrics({k: v for k, v in lead.items() if np.isfinite(v)})
        mlflow.log_metric("train_seconds", train_seconds)
        example = inputs_for(clf.model, clf.holdout.head(5))
        info = registry.log_model(clf.model, "model", example, name)
        rul_version = None
        if rul is not None:
            mlflow.log_metrics({f"rul_{k}": v for k, v in rul.metrics.items()})
            mlflow.log_metrics(
                {
                    f"rul_baseline_train_mean_{k}": v
                    for k, v in rul.baseline_metrics["train_mean"].items()
                }
            )
            rul_info = registry.log_model(
                rul.model, "rul_model", inputs_for(rul.model, rul.holdout.head(5)), rul_name
            )
            rul_version = str(rul_info.registered_model_version)
        version = str(info.registered_model_version)
        mlflow.MlflowClient().set_model_version_tag(name, version, "threshold", str(clf.threshold))
        mlflow.MlflowClient().set_model_version_tag(name, version, "horizon_h", str(horizon_h))
        if rul_version:
            mlflow.MlflowClient().set_model_version_tag(
                name, version, "rul_model_version", rul_version
            )
            mlflow.MlflowClient().set_model_version_tag(
                rul_name, rul_version, "rul_cap_h", str(rul_cap_h)
            )

        decision = registry.gate_on_holdout(name, version, clf, metric=GATE_METRIC)
        if decision.promoted and rul_version:
            mlflow.MlflowClient().set_registered_model_alias(
                rul_name, registry.CHAMPION, rul_version
            )
        registry.describe(
            name,
            version,
            _card(clf, rul, lead, horizon_h, data_versions, decision),
            f"Probability that an equipment fails within {horizon_h:g} h after an hour of "
            "gold.asset_health_features ends (XGBoost, UBJSON). The alias `champion` scores "
            "gold.maintenance_predictions; it moves only when a new version beats it on the "
            "same holdout (PR-AUC).",
        )
    return Report(
        name,
        version,
        run.info.run_id,
        decision,
        clf,
        rul,
        rul_version,
        lead,
        train_seconds,
        len(usable),
    )


def _card(clf: Trained, rul, lead, horizon_h, versions, decision) -> str:
    m, b = clf.metrics, clf.baseline_metrics
    lines = [
        f"**Predicts** P(failure within {horizon_h:g} h after the hour) per equipment-hour.",
        f"**Data**: train {clf.split.train_start} – {clf.split.train_end} ({clf.train_rows} rows), "
        f"holdout {clf.split.test_start} – {clf.split.test_end} ({len(clf.holdout)} rows); "
        + ", ".join(f"{t} v{v}" for t, v in (versions or {}).items()),
        f"**Holdout**: PR-AUC {m['pr_auc']:.3f}, ROC-AUC {m['roc_auc']:.3f}, Brier {m['brier']:.4f}, "
        f"precision {m['precision']:.2f} / recall {m['recall']:.2f} at threshold {clf.threshold:.3f}; "
        + ", ".join(f"baseline {k}: PR-AUC {v['pr_auc']:.3f}" for k, v in b.items()),
    ]
    if lead:
        lines.append(
            f"**Failures in the holdout**: {lead.get('failures', 0)}, caught "
            f"{lead.get('failures_caught', 0)}, median lead time {lead.get('lead_time_median_h', float('nan')):.1f} h."
        )
    if rul is not None:
        lines.append(
            f"**RUL** (capped): RMSE {rul.metrics['rmse']:.1f} h, MAE {rul.metrics['mae']:.1f} h "
            f"(train-mean baseline RMSE {rul.baseline_metrics['train_mean']['rmse']:.1f} h)."
        )
    lines.append(f"**Gate**: {decision.reason}.")
    lines.append(
        "**Limits**: trained on weeks of one (simulated) plant; failures without warning "
        "(electrical faults) are not predictable from these features; hours in repair and the "
        "last horizon of the data are left out."
    )
    return "\n\n".join(lines)


def train_maintenance(lake, *, horizon_h: float = 24.0, **kwargs) -> Report:
    """Train on the lake's gold.asset_health_features and silver failures."""
    inputs = data.maintenance_inputs(lake)
    return fit_maintenance(
        inputs["features"],
        id_col="equipment_id",
        time_col="hour_start",
        feature_cols=data.MAINTENANCE_FEATURES,
        categorical_cols=data.MAINTENANCE_CATEGORICAL,
        failures=inputs["failures"],
        horizon_h=horizon_h,
        baseline_col="vibration_mean_24h_mm_s",
        data_versions=inputs.versions,
        **kwargs,
    )
