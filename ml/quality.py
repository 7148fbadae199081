"""Quality prediction: P(a part is scrap or rework) from process parameters and context,
trained on per-part rows or on batch counts (parts made, parts defective) of any table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import mlflow
import pandas as pd

from ml import cards, data, registry
from ml.train import Holdout, Problem, Trained, binomial_rows, train_classifier

NAME = "plantlake-quality"
EXPERIMENT = "plantlake-quality"
GATE_METRIC = "pr_auc"
EXPERIMENTS = "plantlake-experiments"


@dataclass
class Report:
    name: str | None
    version: str | None
    run_id: str
    decision: registry.Decision | None
    classifier: Trained
    train_seconds: float
    rows: int

    def table(self) -> pd.DataFrame:
        label = f"{self.name} v{self.version}" if self.version else "model"
        rows = [{"model": label, **self.classifier.metrics}]
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
    time_unit: str | None = None,
    label_col: str | None = None,
    positives_col: str | None = "defects",
    trials_col: str | None = "produced",
    split: str = "time",
    validation: str | None = None,
    test: pd.DataFrame | None = None,
    test_fraction: float = 0.3,
    seed: int = 0,
    register: bool = True,
    name: str | None = None,
    experiment: str | None = None,
    source: str = "a feature table",
    limits: str = "",
    data_versions: dict[str, int | None] | None = None,
    params: dict | None = None,
) -> Report:
    """Train, evaluate on held-out rows against the base defect rate, log, register, gate.

    Either per-part rows with a 0/1 `label_col`, or batches with `positives_col` defects out of
    `trials_col` parts (each batch weighs as many parts as it has). Time and holdout as in
    `ml.maintenance.fit_maintenance`; `register=False` registers nothing, and registering needs
    a `name` (the plant's own model is trained by `train_quality`).
    """
    if register and not name:
        raise ValueError(
            "name= is needed to register a model (or register=False for an experiment); the "
            "plant's own model is trained by ml.quality.train_quality"
        )
    started = time.perf_counter()

    def rows_of(d):
        if label_col is not None:
            return d
        for col in (positives_col, trials_col):
            if col not in d.columns:
                raise ValueError(
                    f"the table has no column {col!r}: name the counts with positives_col= and "
                    "trials_col=, or per-part labels with label_col="
                )
        return binomial_rows(d, positives_col=positives_col, trials_col=trials_col)

    rows = rows_of(frame)
    problem = Problem(
        id_col,
        time_col,
        label_col or "label",
        list(feature_cols),
        list(categorical_cols),
        None if label_col else "weight",
        time_unit=time_unit,
    )
    holdout = Holdout(
        split, rows_of(test) if test is not None else None, test_fraction, seed, validation
    )
    clf = train_classifier(rows, problem, holdout=holdout, params=params)
    train_seconds = time.perf_counter() - started

    exp = experiment or (EXPERIMENT if name == NAME else name or EXPERIMENTS)
    registry.experiment(exp)
    mlflow.set_experiment(exp)
    with mlflow.start_run(
        run_name=f"{name or 'experiment'} {clf.axis.show(clf.split.test_end)}"
    ) as run:
        mlflow.log_params(
            {
                "id_col": id_col,
                "time_col": time_col,
                "time_unit": clf.axis.unit,
                "features": ",".join(clf.problem.feature_cols),
                "categorical": ",".join(clf.problem.categorical_cols),
                "train_rows": clf.train_rows,
                "fit_rows": clf.fit_rows,
                "validation_rows": clf.validation_rows,
                "test_rows": len(clf.holdout),
                **clf.split.as_params(),
                **{f"xgb_{k}": v for k, v in clf.params.items()},
            }
        )
        mlflow.set_tags({f"data.{t}.version": str(v) for t, v in (data_versions or {}).items()})
        registry.log_classifier_evaluation(clf)
        mlflow.log_metric("train_seconds", train_seconds)
        version, decision = registry.publish(
            clf,
            "model",
            name if register else None,
            metric=GATE_METRIC,
            tags={"threshold": clf.threshold},
            card=lambda d: cards.classifier_card(
                clf,
                predicts=f"P(a part is defective) for a row of {source}"
                + (" (weighted by its parts)." if label_col is None else "."),
                source=source,
                decision=d,
                versions=data_versions,
                limits=limits,
            ),
            summary=f"Probability that a part is defective (XGBoost, UBJSON), from {source}. "
            "The alias `champion` moves only when a new version beats it on the same holdout "
            "(PR-AUC), or by `plantlake ml promote`.",
        )
    return Report(name, version, run.info.run_id, decision, clf, train_seconds, len(frame))


PLANT_LIMITS = (
    "a new material lot is unknown until its first hour is counted; process values are hourly "
    "means, not per part."
)


def train_quality(lake, **kwargs) -> Report:
    """Train the plant's model on gold.quality_features, registered as plantlake-quality."""
    inputs = data.quality_inputs(lake)
    kwargs = {
        "name": NAME,
        "experiment": EXPERIMENT,
        "source": "gold.quality_features",
        "limits": PLANT_LIMITS,
        **kwargs,
    }
    return fit_quality(
        inputs["features"],
        id_col="equipment_id",
        time_col="hour_start",
        feature_cols=data.QUALITY_FEATURES,
        categorical_cols=data.QUALITY_CATEGORICAL,
        data_versions=inputs.versions,
        **kwargs,
    )
