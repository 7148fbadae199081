"""Generic training: any feature table with a unit id, a time column (a datetime, or a number
with its unit) and a label column named by arguments — ours, or a public data set's.

Gradient-boosted trees (XGBoost). The holdout is by time, by unit, or a test table given by
the caller (`ml.splits`); a validation slice of the training rows, carved the same way, picks
the number of trees (early stopping), the operating threshold and the interval widths; then the
model is refit on every training row with that number of trees, so the registered model has
seen the whole training window. Categorical columns become one input per value seen in
training (`ml.encoding`): the saved model file alone is enough to score.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import xgboost as xgb

from ml import conformal, encoding, evaluate, splits
from ml.timeaxis import TimeAxis

log = logging.getLogger(__name__)

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
VALIDATION_FRACTION = 0.2  # of the training rows (time) or units (group)


@dataclass(frozen=True)
class Problem:
    """What to learn from a table: which columns are what."""

    id_col: str
    time_col: str
    label_col: str
    feature_cols: Sequence[str]
    categorical_cols: Sequence[str] = ()
    weight_col: str | None = None  # rows standing for many examples (counts)
    baseline_col: str | None = None  # a rule's score (e.g. vibration): a higher value, more risk
    time_unit: str | None = None  # what a numeric time column counts; None for datetimes

    def resolved(self, frame: pd.DataFrame) -> Problem:
        """The problem as trained: a categorical column not listed among the features is added
        to them, a text column not declared categorical becomes one; a missing column is an
        error naming it. Nothing is dropped or turned into NaN silently."""
        features = list(dict.fromkeys([*self.feature_cols, *self.categorical_cols]))
        needed = [self.id_col, self.time_col, self.label_col, *features]
        needed += [c for c in (self.weight_col, self.baseline_col) if c]
        missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
        if missing:
            raise ValueError(f"the table has no column {missing} (it has {list(frame.columns)})")
        times = [
            c
            for c in features
            if pd.api.types.is_datetime64_any_dtype(frame[c])
            or pd.api.types.is_timedelta64_dtype(frame[c])
        ]
        if times:
            raise ValueError(
                f"feature columns {times} hold dates or durations: give a number derived from "
                "them (e.g. hours since an event, sequence_features(events=…)) instead"
            )
        added = [c for c in self.categorical_cols if c not in self.feature_cols]
        text = [
            c for c in features if c not in self.categorical_cols and encoding.is_text(frame[c])
        ]
        if added:
            log.warning("categorical columns %s were not in feature_cols: added as features", added)
        if text:
            log.warning("text columns %s were not declared categorical: one-hot encoded", text)
        return replace(
            self,
            feature_cols=tuple(features),
            categorical_cols=tuple([*self.categorical_cols, *text]),
        )


@dataclass
class Trained:
    """A model with its holdout evaluation and the baselines measured on the same rows."""

    model: xgb.XGBModel
    problem: Problem
    split: splits.Split
    threshold: float | None
    metrics: dict[str, float]
    baseline_metrics: dict[str, dict[str, float]]
    holdout: pd.DataFrame  # the test rows with `score` (and alarm, interval, baselines) added
    train_rows: int  # rows the registered model was fit on (the whole training side)
    fit_rows: int  # rows of the first fit, before the validation slice
    validation_rows: int
    params: dict[str, object] = field(default_factory=dict)
    interval: conformal.Interval | None = None
    last: dict[str, dict[str, float]] = field(default_factory=dict)  # run-to-failure protocol

    @property
    def importance(self) -> pd.Series:
        """Total gain per column of the table (a categorical sums its values' inputs)."""
        return encoding.importance(self.model, self.problem.feature_cols)

    @property
    def axis(self) -> TimeAxis:
        return self.split.axis


@dataclass(frozen=True)
class Holdout:
    """How to hold rows out: `split` "time" (the last `test_fraction` of the time range, rows
    whose labels look into it purged), "group" (`test_fraction` of the units, whole), or a
    `test` table given by the caller. The validation slice is carved from the training rows
    the same way; with a given `test`, by `validation` ("time" or "group"), by default by
    unit when the test table's units are none of the training's, else by time."""

    split: str | splits.Split = "time"
    test: pd.DataFrame | None = None
    test_fraction: float = 0.3
    seed: int = 0
    validation: str | None = None


def _lookahead(frame: pd.DataFrame, problem: Problem, gap: float | None) -> float | np.ndarray:
    """How far each row's label looks ahead: `gap` (a horizon), or with None the row's own
    label (remaining life: its failure, or the cap, lies that far ahead)."""
    if gap is not None:
        return float(gap)
    ahead = pd.to_numeric(frame[problem.label_col], errors="coerce").to_numpy(float)
    return np.nan_to_num(ahead, nan=np.inf)


def _sides(frame: pd.DataFrame, problem: Problem, holdout: Holdout, gap: float | None):
    """(train rows, test rows, Split). A `Split` from an earlier model keeps its test side
    (the common holdout) with this model's own purge."""
    axis = TimeAxis.of(frame, problem.time_col, problem.time_unit)
    t = axis.values(frame[problem.time_col])
    ids = frame[problem.id_col].to_numpy()
    ahead = _lookahead(frame, problem, gap)
    given = holdout.split if isinstance(holdout.split, splits.Split) else None
    kind = given.kind if given else splits.check_kind(holdout.split)
    if holdout.test is not None or kind == "given":
        if holdout.test is None:
            raise ValueError("a given split needs the test table (test=)")
        test = holdout.test
        tt = TimeAxis.of(test, problem.time_col, problem.time_unit).values(test[problem.time_col])
        both_t, both_ids = np.r_[t, tt], np.r_[ids, test[problem.id_col].to_numpy()]
        train_m = np.r_[np.ones(len(t), bool), np.zeros(len(tt), bool)]
        both_ahead = np.r_[np.broadcast_to(ahead, t.shape), np.zeros(len(tt))]
        sp = splits.describe("given", axis, both_t, both_ids, train_m, ~train_m, both_ahead)
        return frame, test, sp
    if kind == "time":
        if given:
            train_m, test_m = t + ahead < given.test_start, t >= given.test_start
        else:
            train_m, test_m = splits.by_time(t, test_fraction=holdout.test_fraction, gap=ahead)
    elif given:
        test_m = np.isin(ids.astype(str), given.held_out)
        train_m = ~test_m
    else:
        train_m, test_m = splits.by_group(
            ids, test_fraction=holdout.test_fraction, seed=holdout.seed
        )
    sp = splits.describe(kind, axis, t, ids, train_m, test_m, ahead)
    return frame[train_m], frame[test_m], sp


def _validation(
    train: pd.DataFrame,
    problem: Problem,
    sp: splits.Split,
    holdout: Holdout,
    gap: float | None,
):
    """(fit, validation) rows of the training side, carved as the holdout was."""
    kind = sp.kind
    if kind == "given":
        kind = holdout.validation or (
            "time"
            if set(holdout.test[problem.id_col].astype(str)) & set(sp.trained_units)
            else "group"
        )
        if kind not in ("time", "group"):
            raise ValueError(f"validation must be 'time' or 'group', not {kind!r}")
    if kind == "group":
        fit_m, val_m = splits.by_group(
            train[problem.id_col].to_numpy(),
            test_fraction=VALIDATION_FRACTION,
            seed=holdout.seed + 1,
        )
    else:
        t = sp.axis.values(train[problem.time_col])
        fit_m, val_m = splits.by_time(
            t, test_fraction=VALIDATION_FRACTION, gap=_lookahead(train, problem, gap)
        )
    if not val_m.any() or not fit_m.any():
        raise ValueError("too few training rows to set a validation slice aside")
    return train[fit_m], train[val_m]


def _weights(problem: Problem):
    if problem.weight_col:
        return lambda d: d[problem.weight_col].to_numpy(float)
    return lambda d: None


def _fit_twice(model_class, chosen: dict, inputs, fit, val, train, y, w):
    """Early stopping on the validation rows, then a refit on all training rows with the
    number of trees found: (first model, final model)."""
    x = lambda d: encoding.encode(d, inputs).to_numpy()  # noqa: E731
    first = model_class(**chosen)
    first.fit(
        x(fit),
        y(fit),
        sample_weight=w(fit),
        eval_set=[(x(val), y(val))],
        sample_weight_eval_set=[w(val)] if w(val) is not None else None,
        verbose=False,
    )
    trees = int(first.best_iteration if first.best_iteration is not None else -1) + 1
    trees = trees if trees > 0 else chosen["n_estimators"]
    final = model_class(**{**chosen, "n_estimators": trees, "early_stopping_rounds": None})
    final.fit(x(train), y(train), sample_weight=w(train), verbose=False)
    encoding.attach(first, inputs)
    encoding.attach(final, inputs)
    return first, final, trees


def train_classifier(
    frame: pd.DataFrame,
    problem: Problem,
    *,
    holdout: Holdout = Holdout(),
    gap: float = 0.0,
    params: dict | None = None,
) -> Trained:
    """Fit a probability model of `label_col` (0/1) and evaluate it on the held-out rows.

    `gap` (the label horizon, in the time axis's unit) is purged before a time holdout and
    before the validation slice. The operating threshold is the best-F1 threshold on the
    validation slice (never on the test rows). Baselines on the same test rows: the training
    base rate (a constant), and `baseline_col` as a score with its own best-F1 threshold.
    """
    problem = problem.resolved(frame)
    if holdout.test is not None:
        problem.resolved(holdout.test)
    labels = pd.to_numeric(frame[problem.label_col], errors="coerce")
    if not labels.isin([0, 1]).all():
        raise ValueError(f"label {problem.label_col!r} must be 0 or 1 on every row")
    train, test, sp = _sides(frame, problem, holdout, gap)
    if train[problem.label_col].nunique() < 2:
        raise ValueError(
            f"the training rows ({sp.as_params()}) have only one class of "
            f"{problem.label_col!r}: more history (or more units) is needed"
        )
    fit, val = _validation(train, problem, sp, holdout, gap)
    if fit[problem.label_col].nunique() < 2:
        raise ValueError(
            f"the rows before the validation slice have only one class of {problem.label_col!r}"
        )
    w = _weights(problem)
    y = lambda d: d[problem.label_col].to_numpy(int)  # noqa: E731
    chosen = {**CLASSIFIER_PARAMS, **(params or {}), "eval_metric": "logloss"}
    inputs = encoding.vocabulary(train, problem.feature_cols, problem.categorical_cols)
    first, model, trees = _fit_twice(xgb.XGBClassifier, chosen, inputs, fit, val, train, y, w)
    threshold = evaluate.best_f1_threshold(y(val), encoding.probability(first, val), w(val))
    test = test.assign(score=encoding.probability(model, test))
    test["alarm"] = test["score"] >= threshold
    y_test, w_test = y(test), w(test)
    metrics = evaluate.classification_metrics(y_test, test["score"].to_numpy(), threshold, w_test)
    base_rate = float(np.average(y(train), weights=w(train)))
    test["baseline_base_rate"] = base_rate
    baselines = {
        "base_rate": evaluate.classification_metrics(
            y_test, test["baseline_base_rate"].to_numpy(), base_rate + 1e-12, w_test
        )
    }
    if problem.baseline_col:
        rule_t = evaluate.best_f1_threshold(
            y(val), val[problem.baseline_col].fillna(-np.inf).to_numpy(float), w(val)
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
        sp,
        threshold,
        metrics,
        baselines,
        test,
        len(train),
        len(fit),
        len(val),
        {**chosen, "n_estimators": trees, "early_stopping_rounds": None},
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
    holdout: Holdout = Holdout(),
    gap: float | None = None,
    params: dict | None = None,
    coverage: float = 0.9,
    lower: float = -np.inf,
    upper: float = np.inf,
) -> Trained:
    """Fit `label_col` (a number, e.g. remaining useful life capped at `upper`) and evaluate it
    on the held-out rows beside the training mean, with conformal intervals at `coverage`
    and their coverage measured on the test rows. Held out by unit or given, each test unit is
    also scored once, at its last observed time (cut at random when held out whole), as
    run-to-failure benchmarks are (`last`).

    `gap` None (the default) reads the label as remaining life: a training row is purged
    from a time holdout or validation slice when its failure (or cap) lies at or after the
    slice's start. A number purges a fixed horizon instead.

    The interval widths are the residuals, on the validation slice, of the model fit before
    that slice; the registered model, refit on every training row, is scored with them (it has
    no unseen rows left to calibrate on). The coverage measured on the test rows, logged beside
    the width, is the figure to trust."""
    problem = problem.resolved(frame)
    frame = frame[frame[problem.label_col].notna()]
    if holdout.test is not None:
        problem.resolved(holdout.test)
        holdout = replace(holdout, test=holdout.test[holdout.test[problem.label_col].notna()])
    train, test, sp = _sides(frame, problem, holdout, gap)
    if train.empty:
        raise ValueError(f"no training rows with a known {problem.label_col!r}")
    fit, val = _validation(train, problem, sp, holdout, gap)
    y = lambda d: d[problem.label_col].to_numpy(float)  # noqa: E731
    chosen = {**CLASSIFIER_PARAMS, **(params or {}), "eval_metric": "rmse"}
    inputs = encoding.vocabulary(train, problem.feature_cols, problem.categorical_cols)
    w = _weights(problem)
    first, model, trees = _fit_twice(xgb.XGBRegressor, chosen, inputs, fit, val, train, y, w)
    interval = conformal.calibrate(
        y(val), np.clip(encoding.prediction(first, val), lower, upper), coverage=coverage
    )
    score = np.clip(encoding.prediction(model, test), lower, upper)
    low, high = interval.bounds(score, lower=lower, upper=upper)
    test = test.assign(score=score, low=low, high=high)
    mean = float(train[problem.label_col].mean())
    test["baseline_train_mean"] = mean
    metrics = evaluate.regression_metrics(y(test), score)
    measured = conformal.measure(y(test), low, high)
    metrics |= {"interval_coverage": measured["coverage"], "interval_width": measured["width"]}
    last = {}
    if sp.kind in ("group", "given"):
        t = sp.axis.values(test[problem.time_col])
        rows = evaluate.last_observed(
            test,
            id_col=problem.id_col,
            t=t,
            target=problem.label_col,
            cut=sp.kind == "group",
            seed=holdout.seed,
        )
        last = {
            "model": evaluate.regression_metrics(y(rows), rows["score"].to_numpy()),
            "train_mean": evaluate.regression_metrics(y(rows), np.full(len(rows), mean)),
        }
    return Trained(
        model,
        problem,
        sp,
        None,
        metrics,
        {"train_mean": evaluate.regression_metrics(y(test), np.full(len(test), mean))},
        test,
        len(train),
        len(fit),
        len(val),
        {
            **chosen,
            "n_estimators": trees,
            "early_stopping_rounds": None,
            "target_lower": lower,
            "target_upper": upper,
        },
        interval,
        last,
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
