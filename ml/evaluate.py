"""Honest evaluation: metrics, the operating threshold, lead time gained for caught failures,
the run-to-failure protocol (each held-out unit scored at its last observed time, with the
asymmetric score of prognostics), and the plots logged beside each model. Splits are in
`ml.splits`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # no pyplot: no global backend, notebooks keep theirs
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve


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


def prognostic_score(error: np.ndarray) -> float:
    """The asymmetric score of prognostics (Saxena et al., PHM08 challenge): with d = predicted
    − true remaining life, the sum of exp(−d/13) − 1 for early predictions (d < 0) and
    exp(d/10) − 1 for late ones; lower is better, a late prediction costs more."""
    d = np.asarray(error, dtype=float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1)))


def regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and the prognostic score (sum over rows) of predictions `p` of `y`."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if not len(y):
        return {"rmse": np.nan, "mae": np.nan, "score": np.nan, "rows": 0}
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y, p))),
        "mae": float(skm.mean_absolute_error(y, p)),
        "score": prognostic_score(p - y),
        "rows": len(y),
    }


def last_observed(
    rows: pd.DataFrame, *, id_col: str, t: np.ndarray, target: str, cut: bool, seed: int = 0
) -> pd.DataFrame:
    """One row per unit, where the run-to-failure protocol scores it: its last row with a known
    `target`, or with `cut` (units held out whole, which would all end at RUL 0) a row drawn at
    random among those, as the C-MAPSS test sets cut their units."""
    known = rows.assign(_t=t)[rows[target].notna().to_numpy()]
    if cut:
        rng = np.random.default_rng(seed)
        pick = known.groupby(id_col, sort=True).indices
        idx = [ix[rng.integers(len(ix))] for ix in pick.values()]
        return known.iloc[idx].drop(columns="_t")
    last = known.sort_values("_t").groupby(id_col, sort=True).tail(1)
    return last.drop(columns="_t")


def lead_times(
    rows: pd.DataFrame,
    events: pd.DataFrame,
    *,
    id_col: str,
    t: np.ndarray,
    event_t: np.ndarray,
    alarm_col: str,
    horizon: float,
    step: float = 1.0,
    event_id_col: str | None = None,
) -> dict[str, float]:
    """Per failure in the rows' time window: caught if an alarm was raised in the `horizon`
    before it; its lead time is from the earliest such alarm (at the end of its row) to the
    failure. `t` and `event_t` are positions on the time axis of `rows` and `events` (hours for
    datetimes). Returns failures, caught, event recall and the median and mean lead time."""
    if rows.empty:
        return {"failures": 0, "failures_caught": 0, "event_recall": np.nan}
    lo, hi = np.nanmin(t), np.nanmax(t) + step
    ids = events[event_id_col or id_col].to_numpy()
    inside = (event_t > lo + horizon) & (event_t <= hi) & np.isin(ids, rows[id_col].unique())
    alarm = rows[alarm_col].astype(bool).to_numpy()
    alarm_ids, alarm_end = rows[id_col].to_numpy()[alarm], t[alarm] + step
    leads = []
    for key, start in zip(ids[inside], event_t[inside], strict=True):
        mine = alarm_end[(alarm_ids == key) & (alarm_end <= start) & (alarm_end >= start - horizon)]
        if len(mine):
            leads.append(start - mine.min())
    n = int(inside.sum())
    return {
        "failures": n,
        "failures_caught": len(leads),
        "event_recall": len(leads) / n if n else np.nan,
        "lead_time_median": float(np.median(leads)) if leads else np.nan,
        "lead_time_mean": float(np.mean(leads)) if leads else np.nan,
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
