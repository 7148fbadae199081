"""Honest evaluation: time-based splits with a purge gap, metrics, the operating threshold,
lead time gained for caught failures, and the plots logged beside each model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # no pyplot: no global backend, notebooks keep theirs
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve


@dataclass(frozen=True)
class TimeSplit:
    """Rows before `train_end` train, rows from `test_start` test; the gap between is purged."""

    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    def as_params(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


def time_split(
    times: pd.Series, *, test_fraction: float = 0.3, gap: pd.Timedelta = pd.Timedelta(0)
) -> TimeSplit:
    """Train on the earlier part of the time range, test on the last `test_fraction` of it.

    `gap` (the label horizon) is left out before the test window: a training row's label looks
    `gap` ahead, so without it training would see the test period's failures.
    """
    t = pd.to_datetime(times)
    lo, hi = t.min(), t.max()
    if pd.isna(lo) or lo == hi:
        raise ValueError("time_split needs rows at two or more distinct times")
    cut = (lo + (hi - lo) * (1 - test_fraction)).floor("s")
    test_start = t[t >= cut].min()  # a row's own time
    return TimeSplit(lo, test_start - gap, test_start, hi)


def masks(times: pd.Series, split: TimeSplit) -> tuple[np.ndarray, np.ndarray]:
    t = pd.to_datetime(times)
    return (t < split.train_end).to_numpy(), (t >= split.test_start).to_numpy()


def best_f1_threshold(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    """The score threshold with the best F1 (ties: the higher threshold); 0.5 without positives."""
    if not np.any(y == 1):
        return 0.5
    precision, recall, thresholds = skm.precision_recall_curve(y, p, sample_weight=w)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.nanargmax(f1[:-1])) if len(thresholds) else 0
    return float(thresholds[best]) if len(thresholds) else 0.5


def classification_metrics(
    y: np.ndarray, p: np.ndarray, threshold: float, w: np.ndarray | None = None
) -> dict[str, float]:
    """PR-AUC, ROC-AUC, Brier, log loss, expected calibration error, precision/recall at the
    operating threshold; NaN where undefined (one class only)."""
    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(p, dtype=float), 0, 1)
    both = len(np.unique(y)) == 2
    alarm = p >= threshold
    weight = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    tp = float(np.sum((alarm & (y == 1)) * weight))
    fp = float(np.sum((alarm & (y == 0)) * weight))
    fn = float(np.sum((~alarm & (y == 1)) * weight))
    total_w = float(np.sum(weight))
    return {
        "pr_auc": skm.average_precision_score(y, p, sample_weight=w) if both else np.nan,
        "roc_auc": skm.roc_auc_score(y, p, sample_weight=w) if both else np.nan,
        "brier": float(skm.brier_score_loss(y, p, sample_weight=w)) if len(y) else np.nan,
        "log_loss": skm.log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), sample_weight=w, labels=[0, 1])
        if len(y)
        else np.nan,
        "ece": expected_calibration_error(y, p, w),
        "precision": tp / (tp + fp) if tp + fp else np.nan,
        "recall": tp / (tp + fn) if tp + fn else np.nan,
        "positive_rate": float(np.sum((y == 1) * weight) / total_w) if total_w else np.nan,
        "threshold": float(threshold),
    }


def expected_calibration_error(
    y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None, bins: int = 10
) -> float:
    """Weighted mean |observed rate − mean predicted| over 10 equal-width probability bins."""
    if not len(y):
        return np.nan
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    which = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    err = 0.0
    for b in range(bins):
        m = which == b
        if w[m].sum() > 0:
            err += w[m].sum() * abs(np.average(y[m], weights=w[m]) - np.average(p[m], weights=w[m]))
    return float(err / w.sum())


def regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    if not len(y):
        return {"rmse": np.nan, "mae": np.nan}
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y, p))),
        "mae": float(skm.mean_absolute_error(y, p)),
    }


def lead_times(
    rows: pd.DataFrame,
    events: pd.DataFrame,
    *,
    id_col: str,
    time_col: str,
    alarm_col: str,
    horizon_h: float,
    step_h: float = 1.0,
    event_time_col: str = "start_time",
) -> dict[str, float]:
    """Per failure in the rows' time window: caught if an alarm was raised in the `horizon_h`
    before it; its lead time is from the earliest such alarm (at the end of its row) to the
    failure. Returns failures, caught, event recall and the median and mean lead time (h)."""
    if rows.empty:
        return {"failures": 0, "failures_caught": 0, "event_recall": np.nan}
    t = pd.to_datetime(rows[time_col])
    lo, hi = t.min(), t.max() + pd.Timedelta(hours=step_h)
    ev = events[
        (pd.to_datetime(events[event_time_col]) > lo + pd.Timedelta(hours=horizon_h))
        & (pd.to_datetime(events[event_time_col]) <= hi)
        & events[id_col].isin(rows[id_col].unique())
    ]
    alarms = rows[rows[alarm_col].astype(bool)]
    alarm_end = pd.to_datetime(alarms[time_col]) + pd.Timedelta(hours=step_h)
    leads = []
    for key, start in zip(ev[id_col], pd.to_datetime(ev[event_time_col]), strict=True):
        mine = alarm_end[
            (alarms[id_col] == key)
            & (alarm_end <= start)
            & (alarm_end > start - pd.Timedelta(hours=horizon_h))
        ]
        if len(mine):
            leads.append((start - mine.min()) / pd.Timedelta(hours=1))
    return {
        "failures": len(ev),
        "failures_caught": len(leads),
        "event_recall": len(leads) / len(ev) if len(ev) else np.nan,
        "lead_time_median_h": float(np.median(leads)) if leads else np.nan,
        "lead_time_mean_h": float(np.mean(leads)) if leads else np.nan,
    }


# -- plots --------------------------------------------------------------------------------------
def pr_curve_figure(y, scores: dict[str, np.ndarray], w=None, title: str = "") -> Figure:
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    for name, p in scores.items():
        if len(np.unique(y)) == 2:
            precision, recall, _ = skm.precision_recall_curve(y, p, sample_weight=w)
            ap = skm.average_precision_score(y, p, sample_weight=w)
            ax.step(recall, precision, where="post", label=f"{name} (PR-AUC {ap:.3f})")
    ax.set(xlabel="recall", ylabel="precision", title=title or "precision-recall (holdout)")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def calibration_figure(y, p, w=None, title: str = "") -> Figure:
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], "k:", label="perfect")
    if len(np.unique(y)) == 2:
        if w is None:
            observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
        else:  # weighted rows (counts): bin by hand
            bins = np.quantile(p, np.linspace(0, 1, 11))
            which = np.clip(np.searchsorted(bins, p, side="right") - 1, 0, 9)
            keep = [b for b in range(10) if w[which == b].sum() > 0]
            observed = [np.average(y[which == b], weights=w[which == b]) for b in keep]
            predicted = [np.average(p[which == b], weights=w[which == b]) for b in keep]
        ax.plot(predicted, observed, "o-", label="model")
    ax.set(xlabel="predicted probability", ylabel="observed rate", title=title or "calibration")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def confusion_figure(y, p, threshold: float, w=None, title: str = "") -> Figure:
    cm = skm.confusion_matrix(
        y, (np.asarray(p) >= threshold).astype(int), sample_weight=w, labels=[0, 1]
    )
    fig = Figure(figsize=(4, 3.5))
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{v:,.0f}", ha="center", va="center")
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["no", "yes"],
        yticklabels=["no", "yes"],
        xlabel="predicted",
        ylabel="actual",
        title=title or f"confusion at threshold {threshold:.3f}",
    )
    fig.tight_layout()
    return fig


def importance_figure(importance: pd.Series, title: str = "feature importance (gain)") -> Figure:
    top = importance.sort_values().tail(20)
    fig = Figure(figsize=(6, max(2.5, 0.3 * len(top))))
    ax = fig.subplots()
    ax.barh(top.index, top.to_numpy())
    ax.set(title=title, xlabel="gain")
    fig.tight_layout()
    return fig
