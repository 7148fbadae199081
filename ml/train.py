"""Generic training entry points: any feature table with an id column, a time column and label
columns named by arguments (ours, or a public benchmark's).

Gradient-boosted trees (XGBoost). Categorical columns are one-hot encoded into columns named
`<column>=<value>` for the values seen in training, so the saved model's own feature names are
its vocabulary: the model file alone (XGBoost's UBJSON, no pickle) is enough to score, and its
input is all numbers (a served model takes it as is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xgboost as xgb

from ml import evaluate

CLASSIFIER_PARAMS = {
    "n_estimators": 400,
    "max_depth": 4,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 3.0,
    "reg_lambda": 1.0,
    "tree_method": "hist",
    "early_stopping_rounds": 40,
    "n_jobs": 2,
    "random_state": 0,
}


@dataclass
class Problem:
    """What to learn from a table: which columns are what."""

    id_col: str
    time_col: str
    label_col: str
    feature_cols: Sequence[str]
    categorical_cols: Sequence[str] = ()
    weight_col: str | None = None  # rows standing for many examples (counts)
    baseline_col: str | None = None  # a rule's score (e.g. vibration): a higher value, more risk


@dataclass
class Trained:
    """A model with its holdout evaluation and the baseline measured on the same rows."""

    model: xgb.XGBModel
    problem: Problem
    split: evaluate.TimeSplit
    threshold: float | None
    metrics: dict[str, float]
    baseline_metrics: dict[str, dict[str, float]]
    holdout: pd.DataFrame  # the test rows with `score` (and baseline scores) added
    train_rows: int
    params: dict[str, object] = field(default_factory=dict)

    @property
    def importance(self) -> pd.Series:
        """Total gain per feature of the table (a categorical sums its one-hot columns)."""
        gain = self.model.get_booster().get_score(importance_type="gain")
        total = pd.Series(0.0, index=list(self.problem.feature_cols))
        for name, g in gain.items():
            total[name.split("=", 1)[0]] += g
        return total


def vocabulary(frame: pd.DataFrame, problem: Problem) -> list[str]:
    """The model's input columns: numeric features as they are, one `c=v` per categorical value."""
    names = []
    for c in problem.feature_cols:
        if c in problem.categorical_cols:
            values = sorted(frame[c].astype("string").fillna("").unique())
            names += [f"{c}={v}" for v in values]
        else:
            names.append(c)
    return names


def encode(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """`frame` as a model with input columns `names` takes it (all float; an unseen category
    value has 0 in every one-hot column of its feature)."""
    cols = {}
    for name in names:
        if name in frame.columns:
            cols[name] = pd.to_numeric(frame[name], errors="coerce").astype(float).to_numpy()
        elif "=" in name and name.split("=", 1)[0] in frame.columns:
            column, value = name.split("=", 1)
            cols[name] = (
                (frame[column].astype("string").fillna("") == value).astype(float).to_numpy()
            )
        else:
            raise KeyError(f"the model needs column {name.split('=', 1)[0]!r}, not in the table")
    return pd.DataFrame(cols, index=frame.index)


def _validation_split(times: pd.Series, gap: pd.Timedelta) -> tuple[np.ndarray, np.ndarray]:
    """The last fifth of the training rows validates (early stopping, threshold); purged by gap."""
    split = evaluate.time_split(times, test_fraction=0.2, gap=gap)
    return evaluate.masks(times, split)


def train_classifier(
    frame: pd.DataFrame,
    problem: Problem,
    *,
    test_fraction: float = 0.3,
    gap: pd.Timedelta = pd.Timedelta(0),
    params: dict | None = None,
) -> Trained:
    """Fit a probability model of `label_col` (0/1) on the earlier rows, evaluate on the later.

    The operating threshold is the best-F1 threshold on a validation slice of the training
    period (never on the test rows). Baselines, on the same test rows: the training base rate
    (a constant: "no failure" / "base scrap rate"), and `baseline_col` as a score with its own
    best-F1 threshold from the validation slice.
    """
    frame = frame.sort_values(problem.time_col).reset_index(drop=True)
    split = evaluate.time_split(frame[problem.time_col], test_fraction=test_fraction, gap=gap)
    train_m, test_m = evaluate.masks(frame[problem.time_col], split)
    train, test = frame[train_m].reset_index(drop=True), frame[test_m].reset_index(drop=True)
    if train[problem.label_col].nunique() < 2:
        raise ValueError(
            f"the training window {split.train_start} – {split.train_end} has only one class of "
            f"{problem.label_col!r}: more history is needed"
        )
    fit_m, val_m = _validation_split(train[problem.time_col], gap)
    fit, val = train[fit_m], train[val_m]
    weight = (
        (lambda d: d[problem.weight_col].to_numpy(float))
        if problem.weight_col
        else (lambda d: None)
    )
    chosen = {**CLASSIFIER_PARAMS, **(params or {}), "eval_metric": "logloss"}
    names = vocabulary(fit, problem)
    model = xgb.XGBClassifier(**chosen)
    model.fit(
        encode(fit, names),
        fit[problem.label_col].astype(int),
        sample_weight=weight(fit),
        eval_set=[(encode(val, names), val[problem.label_col].astype(int))],
        sample_weight_eval_set=[weight(val)] if problem.weight_col else None,
        verbose=False,
    )
    p_val = model.predict_proba(encode(val, names))[:, 1]
    threshold = evaluate.best_f1_threshold(val[problem.label_col].to_numpy(int), p_val, weight(val))
    y_test, w_test = test[problem.label_col].to_numpy(int), weight(test)
    test = test.assign(score=model.predict_proba(encode(test, names))[:, 1])
    test["alarm"] = test["score"] >= threshold
    metrics = evaluate.classification_metrics(y_test, test["score"].to_numpy(), threshold, w_test)
    base_rate = float(np.average(train[problem.label_col], weights=weight(train)))
    test["baseline_base_rate"] = base_rate
    baselines = {
        "base_rate": evaluate.classification_metrics(
            y_test, test["baseline_base_rate"].to_numpy(), base_rate + 1e-12, w_test
        )
    }
    if problem.baseline_col:
        rule_t = evaluate.best_f1_threshold(
            val[problem.label_col].to_numpy(int),
            val[problem.baseline_col].fillna(-np.inf).to_numpy(float),
            weight(val),
        )
        rule_score = test[problem.baseline_col].fillna(-np.inf).to_numpy(float)
        rule = evaluate.classification_metrics(
            y_test, _rank_scale(rule_score), _rank_threshold(rule_score, rule_t), w_test
        )
        rule["rule_threshold"] = rule_t
        baselines[f"rule_{problem.baseline_col}"] = rule
        test["baseline_rule"] = rule_score >= rule_t
    return Trained(
        model,
        problem,
        split,
        threshold,
        metrics,
        baselines,
        test,
        int(train_m.sum()),
        {**chosen, "best_iteration": int(model.best_iteration or 0)},
    )


def _rank_scale(score: np.ndarray) -> np.ndarray:
    """A rule's raw score mapped to [0, 1] by rank (for ranking metrics; not a probability)."""
    order = pd.Series(score).rank(pct=True, method="average").to_numpy()
    return np.nan_to_num(order, nan=0.0)


def _rank_threshold(score: np.ndarray, threshold: float) -> float:
    """The rank-scaled value at which the rule fires (scores ≥ threshold)."""
    scaled = _rank_scale(score)
    fired = scaled[score >= threshold]
    return float(fired.min()) if len(fired) else 1.1


def train_regressor(
    frame: pd.DataFrame,
    problem: Problem,
    *,
    split: evaluate.TimeSplit,
    params: dict | None = None,
) -> Trained:
    """Fit `label_col` (a number, e.g. capped RUL in hours) with the same time split as the
    classifier; the baseline is the training mean."""
    frame = frame.sort_values(problem.time_col).reset_index(drop=True)
    train_m, test_m = evaluate.masks(frame[problem.time_col], split)
    train, test = frame[train_m].reset_index(drop=True), frame[test_m].reset_index(drop=True)
    if train.empty:
        raise ValueError("no training rows with a known target")
    fit_m, val_m = _validation_split(train[problem.time_col], pd.Timedelta(0))
    chosen = {**CLASSIFIER_PARAMS, **(params or {}), "eval_metric": "rmse"}
    names = vocabulary(train[fit_m], problem)
    model = xgb.XGBRegressor(**chosen)
    model.fit(
        encode(train[fit_m], names),
        train.loc[fit_m, problem.label_col],
        eval_set=[(encode(train[val_m], names), train.loc[val_m, problem.label_col])],
        verbose=False,
    )
    test = test.assign(score=model.predict(encode(test, names)))
    y = test[problem.label_col].to_numpy(float)
    mean = float(train[problem.label_col].mean())
    return Trained(
        model,
        problem,
        split,
        None,
        evaluate.regression_metrics(y, test["score"].to_numpy()),
        {"train_mean": evaluate.regression_metrics(y, np.full(len(y), mean))},
        test,
        int(train_m.sum()),
        {**chosen, "best_iteration": int(model.best_iteration or 0)},
    )


def binomial_rows(
    frame: pd.DataFrame, *, positives_col: str, trials_col: str, label_col: str = "label"
) -> pd.DataFrame:
    """Counts to weighted 0/1 rows: each row becomes (label 1, weight positives) and (label 0,
    weight trials − positives); rows with weight 0 are dropped. For batch data such as parts
    made and parts defective per hour."""
    pos = frame.assign(**{label_col: 1, "weight": frame[positives_col].astype(float)})
    neg = frame.assign(
        **{label_col: 0, "weight": (frame[trials_col] - frame[positives_col]).astype(float)}
    )
    both = pd.concat([pos, neg], ignore_index=True)
    return both[both["weight"] > 0].reset_index(drop=True)


def inputs_for(model: xgb.XGBModel, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` encoded for a saved model, from the model's own feature names."""
    return encode(frame, list(model.get_booster().feature_names or []))
