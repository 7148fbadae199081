"""Predictive maintenance: P(failure within a horizon) and remaining useful life (RUL) with a
conformal interval, trained on any fleet's feature table, tracked in MLflow and gated into
the registry — each model on its own metric.

>>> fit_maintenance(frame, id_col="unit", time_col="cycle", time_unit="cycles",
...                 feature_cols=[...], rul_col="RUL", split="group", register=False)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import mlflow
import numpy as np
import pandas as pd

from ml import cards, data, evaluate, labels, registry
from ml.timeaxis import TimeAxis
from ml.train import Holdout, Problem, Trained, train_classifier, train_regressor

NAME = "plantlake-maintenance"
RUL_NAME = "plantlake-maintenance-rul"
EXPERIMENT = "plantlake-maintenance"
GATE_METRIC = "pr_auc"  # the classifier's: higher is better
RUL_GATE_METRIC = "rmse"  # the RUL model's: lower is better
EXPERIMENTS = "plantlake-experiments"  # runs that register nothing
TARGETS = ("both", "failure", "rul")


@dataclass
class Report:
    """What one training run did: metrics beside the baselines and each gate's decision.
    Without registration, versions and decisions are None."""

    name: str | None
    version: str | None
    run_id: str
    decision: registry.Decision | None
    classifier: Trained | None
    rul: Trained | None
    rul_version: str | None
    rul_decision: registry.Decision | None
    lead: dict[str, float]
    train_seconds: float
    rows: int

    def table(self) -> pd.DataFrame:
        """Holdout metrics, model beside baselines (one row each)."""
        rows = []
        rul = {}
        if self.rul:
            u = self.rul.axis.unit
            rul = {_rul_name(k, u): v for k, v in self.rul.metrics.items() if k != "rows"}
            rul |= {f"rul_last_{k}": v for k, v in self.rul.last.get("model", {}).items()}
        label = f"{self.name} v{self.version}" if self.version else "model"
        c = self.classifier
        rows.append({"model": label, **(c.metrics if c else {}), **self.lead, **rul})
        for base, m in (c.baseline_metrics if c else {}).items():
            rows.append({"model": f"baseline: {base}", **m})
        if self.rul:
            u = self.rul.axis.unit
            mean = self.rul.baseline_metrics["train_mean"]
            rows.append(
                {
                    "model": "baseline: RUL = training mean",
                    **{_rul_name(k, u): v for k, v in mean.items() if k != "rows"},
                    **{f"rul_last_{k}": v for k, v in self.rul.last.get("train_mean", {}).items()},
                }
            )
        return pd.DataFrame(rows)


def _rul_name(metric: str, unit: str) -> str:
    """`rul_rmse_h`: a metric in the time unit carries it; a score or a share does not."""
    return (
        f"rul_{metric}_{unit}" if metric in ("rmse", "mae", "interval_width") else f"rul_{metric}"
    )


def fit_maintenance(
    frame: pd.DataFrame,
    *,
    id_col: str,
    time_col: str,
    feature_cols: Sequence[str],
    categorical_cols: Sequence[str] = (),
    time_unit: str | None = None,
    failures: pd.DataFrame | None = None,
    failure_id_col: str | None = None,
    failure_time_col: str = "start_time",
    failure_end_col: str | None = "end_time",
    label_col: str | None = None,
    rul_col: str | None = None,
    target: str = "both",
    horizon: float = 24.0,
    step: float = 1.0,
    rul_cap: float = 72.0,
    baseline_col: str | None = None,
    split: str = "time",
    test: pd.DataFrame | None = None,
    test_fraction: float = 0.3,
    seed: int = 0,
    validation: str | None = None,
    coverage: float = 0.9,
    register: bool = True,
    name: str | None = None,
    rul_name: str | None = None,
    experiment: str | None = None,
    source: str = "a feature table",
    limits: str = "",
    data_versions: dict[str, int | None] | None = None,
    params: dict | None = None,
) -> Report:
    """Train, evaluate against the baselines on held-out rows, log to MLflow, register, gate.

    `frame`: one row per unit (`id_col`) and time step (`time_col`: a datetime — durations in
    hours — or a number whose unit `time_unit` names: "cycles", "s", …).

    Labels: give `failures` (one row per failure; columns named by `failure_id_col`,
    `failure_time_col`, `failure_end_col`) to derive both from them (`ml.labels`), or name the
    frame's own columns: `label_col` (0/1: fails within the horizon) and/or `rul_col`
    (remaining life). `target` "both", "failure" or "rul" says which models to train; a named
    column that is missing is an error.

    Holdout: `split` "time" (the last `test_fraction` of the time range; the plant's default),
    "group" (`test_fraction` of the units, held out whole), or a `test` table (`validation`
    "time" or "group" then says how the validation slice is carved; by default by unit when
    the test's units are none of the training's). A training row whose label looks into the
    held-out time is purged: `horizon` for `label_col`, its own remaining life for RUL. RUL is also
    scored per held-out unit at its last observed time (run-to-failure protocol) and gets a
    `coverage` conformal interval.

    `register=False` logs the run and registers nothing (experiments, benchmarks); to register,
    name the models (`name`, `rul_name` — default `<name>-rul`): no default name, so data other
    than the plant's never replaces the plant's champions.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    if register and not name:
        raise ValueError(
            "name= is needed to register a model (or register=False for an experiment); the "
            "plant's own models are trained by ml.maintenance.train_maintenance"
        )
    rul_name = rul_name or (f"{name}-rul" if name else None)
    started = time.perf_counter()
    axis = TimeAxis.of(frame, time_col, time_unit)
    unit = axis.unit
    label_kw = dict(
        id_col=id_col,
        time_col=time_col,
        failure_time_col=failure_time_col,
        failure_end_col=failure_end_col,
        failure_id_col=failure_id_col,
        time_unit=time_unit,
        horizon=horizon,
        step=step,
        rul_cap=rul_cap,
    )
    if failures is not None:
        label_col, rul_col = labels.FAILS, labels.RUL
        frame = labels.label_failures(frame, failures, **label_kw)
        test = labels.label_failures(test, failures, **label_kw) if test is not None else None
        usable = lambda d: d[~d["in_failure"] & d["label_known"]]  # noqa: E731
    else:
        if target == "failure" and label_col is None:
            raise ValueError("target 'failure' needs label_col= (or failures=)")
        if target == "rul" and rul_col is None:
            raise ValueError("target 'rul' needs rul_col= (or failures=)")
        if label_col is None and rul_col is None:
            raise ValueError("name label_col= and/or rul_col=, or give failures= to derive them")
        for col in (label_col, rul_col):
            if col is not None and col not in frame.columns:
                raise ValueError(f"the table has no column {col!r} (it has {list(frame.columns)})")
        usable = lambda d: d  # noqa: E731
    want_clf = target in ("both", "failure") and label_col is not None
    want_rul = target in ("both", "rul") and rul_col is not None
    clf = rul = None
    common = Holdout(
        split, usable(test) if test is not None else None, test_fraction, seed, validation
    )
    if want_clf:
        rows = usable(frame)
        rows = rows[rows[label_col].notna()]
        problem = Problem(
            id_col,
            time_col,
            label_col,
            list(feature_cols),
            list(categorical_cols),
            baseline_col=baseline_col,
            time_unit=time_unit,
        )
        clf = train_classifier(rows, problem, holdout=common, gap=horizon, params=params)
        common = replace(common, split=clf.split)  # the same test side
    if want_rul:
        known = frame[frame[rul_col].notna()]
        if "in_failure" in known:
            known = known[~known["in_failure"]]
        rul_test = test  # its own filter: rows with a known RUL, not the classifier's
        if rul_test is not None and "in_failure" in rul_test:
            rul_test = rul_test[~rul_test["in_failure"]]
        rul = train_regressor(
            known,
            Problem(
                id_col,
                time_col,
                rul_col,
                list(feature_cols),
                list(categorical_cols),
                time_unit=time_unit,
            ),
            holdout=replace(common, test=rul_test),
            gap=None,  # each row's remaining life is how far its label looked ahead
            params=params,
            coverage=coverage,
            lower=0.0,
            upper=rul_cap if failures is not None else np.inf,
        )
    train_seconds = time.perf_counter() - started
    lead = {}
    if clf is not None and failures is not None:
        f_axis = TimeAxis(failure_time_col, axis.unit, axis.is_datetime)
        lead = evaluate.lead_times(
            clf.holdout,
            failures,
            id_col=id_col,
            t=axis.values(clf.holdout[time_col]),
            event_t=f_axis.values(failures[failure_time_col]),
            alarm_col="alarm",
            horizon=horizon,
            step=step,
            event_id_col=failure_id_col,
        )

    exp = experiment or (EXPERIMENT if name == NAME else name or EXPERIMENTS)
    registry.experiment(exp)
    mlflow.set_experiment(exp)
    first = clf or rul
    with mlflow.start_run(
        run_name=f"{name or 'experiment'} {first.axis.show(first.split.test_end)}"
    ) as run:
        mlflow.log_params(
            {
                "horizon": horizon,
                "step": step,
                "rul_cap": rul_cap,
                "time_unit": unit,
                "id_col": id_col,
                "time_col": time_col,
                "target": target,
                "features": ",".join(first.problem.feature_cols),
                "categorical": ",".join(first.problem.categorical_cols),
                "baseline_rule": baseline_col or "",
                "train_rows": first.train_rows,
                "fit_rows": first.fit_rows,
                "validation_rows": first.validation_rows,
                "test_rows": len(first.holdout),
                **first.split.as_params(),
                **{f"xgb_{k}": v for k, v in first.params.items()},
            }
        )
        mlflow.set_tags({f"data.{t}.version": str(v) for t, v in (data_versions or {}).items()})
        version = decision = rul_version = rul_decision = None
        if clf is not None:
            registry.log_classifier_evaluation(clf)
            registry.log_metrics(lead)
            version, decision = registry.publish(
                clf,
                "model",
                name if register else None,
                metric=GATE_METRIC,
                tags={"threshold": clf.threshold, "horizon": horizon, "time_unit": unit},
                card=lambda d: cards.classifier_card(
                    clf,
                    predicts=f"P(a failure of the unit starts within {horizon:g} {unit} "
                    f"after a row of {source} ends).",
                    source=source,
                    decision=d,
                    versions=data_versions,
                    lead=lead,
                    limits=limits,
                ),
                summary=f"Probability of a failure within {horizon:g} {unit} (XGBoost, UBJSON), "
                f"from {source}. The alias `champion` moves only when a new version beats "
                "it on the same holdout (PR-AUC), or by `plantlake ml promote`.",
            )
        if rul is not None:
            registry.log_metrics(rul.metrics, "rul_")
            registry.log_metrics(rul.baseline_metrics["train_mean"], "rul_baseline_train_mean_")
            registry.log_metrics(rul.last, "rul_last_")
            registry.log_metrics(
                {
                    "train_rows": rul.train_rows,
                    "fit_rows": rul.fit_rows,
                    "validation_rows": rul.validation_rows,
                },
                "rul_",
            )
            registry.log_importance(rul, "rul_")
            rul_version, rul_decision = registry.publish(
                rul,
                "rul_model",
                rul_name if register else None,
                metric=RUL_GATE_METRIC,
                higher_is_better=False,
                tags={
                    "rul_cap": rul_cap if failures is not None else None,
                    "time_unit": unit,
                    "interval": rul.interval.to_json() if rul.interval else None,
                },
                card=lambda d: cards.regressor_card(
                    rul,
                    predicts=f"remaining useful life ({unit}"
                    + (f", capped at {rul_cap:g}" if failures is not None else "")
                    + f") at the end of a row of {source}, with a "
                    f"{coverage:.0%} conformal interval.",
                    source=source,
                    decision=d,
                    versions=data_versions,
                    limits=limits,
                ),
                summary=f"Remaining useful life in {unit} (XGBoost, UBJSON) with a conformal "
                f"interval, from {source}. The alias `champion` moves only when a new "
                "version has a lower RMSE on the same holdout, or by `plantlake ml promote`.",
            )
            if version and rul_version:
                registry.tag(name, version, rul_model_version=rul_version)
    return Report(
        name,
        version,
        run.info.run_id,
        decision,
        clf,
        rul,
        rul_version,
        rul_decision,
        lead,
        train_seconds,
        len(first.holdout) + first.train_rows,
    )


PLANT_LIMITS = (
    "trained on weeks of one (simulated) plant; failures without warning (electrical faults) "
    "are not predictable from these features; hours in repair and the last horizon of the "
    "data are left out."
)


def train_maintenance(lake, *, horizon: float = 24.0, **kwargs) -> Report:
    """Train the plant's models on gold.asset_health_features and the failures in
    silver.equipment_states, registered as plantlake-maintenance and -rul."""
    inputs = data.maintenance_inputs(lake)
    kwargs = {
        "name": NAME,
        "rul_name": RUL_NAME,
        "experiment": EXPERIMENT,
        "baseline_col": "vibration_mean_24h_mm_s",
        "source": "gold.asset_health_features",
        "limits": PLANT_LIMITS,
        **kwargs,
    }
    return fit_maintenance(
        inputs["features"],
        id_col="equipment_id",
        time_col="hour_start",
        feature_cols=data.MAINTENANCE_FEATURES,
        categorical_cols=data.MAINTENANCE_CATEGORICAL,
        failures=inputs["failures"],
        horizon=horizon,
        data_versions=inputs.versions,
        **kwargs,
    )
