"""Feature drift: population stability index between a training and a scoring window."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

PSI_THRESHOLD = 0.2  # the usual reading: < 0.1 stable, 0.1-0.2 moderate, > 0.2 drifted
EPSILON = 1e-4  # share given to an empty bin, so that log() stays finite


def psi_numeric(train: pd.Series, score: pd.Series, bins: int = 10) -> float:
    """PSI over the training window's deciles (nulls as a bin of their own)."""
    t, s = pd.to_numeric(train, errors="coerce"), pd.to_numeric(score, errors="coerce")
    if t.notna().sum() == 0 or len(s) == 0:
        return np.nan
    edges = np.unique(np.quantile(t.dropna(), np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf

    def shares(x: pd.Series) -> np.ndarray:
        counts = np.histogram(x.dropna(), bins=edges)[0].astype(float)
        return np.append(counts, x.isna().sum()) / len(x)

    return _psi(shares(t), shares(s))


def psi_categorical(train: pd.Series, score: pd.Series) -> float:
    """PSI over the categories of both windows (nulls as a category)."""
    if len(train) == 0 or len(score) == 0:
        return np.nan
    t = train.astype("string").fillna("<null>").value_counts(normalize=True)
    s = score.astype("string").fillna("<null>").value_counts(normalize=True)
    cats = t.index.union(s.index)
    return _psi(t.reindex(cats, fill_value=0).to_numpy(), s.reindex(cats, fill_value=0).to_numpy())


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.maximum(expected, EPSILON), np.maximum(actual, EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_drift(
    train: pd.DataFrame,
    score: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str] = (),
    threshold: float = PSI_THRESHOLD,
) -> pd.DataFrame:
    """One row per feature: kind, psi, drifted, train_mean, score_mean, train_rows, score_rows."""
    rows = []
    for f in features:
        cat = f in categorical
        psi = psi_categorical(train[f], score[f]) if cat else psi_numeric(train[f], score[f])
        rows.append(
            {
                "feature": f,
                "kind": "categorical" if cat else "numeric",
                "psi": psi,
                "drifted": bool(psi > threshold) if np.isfinite(psi) else False,
                "threshold": threshold,
                "train_mean": None if cat else float(pd.to_numeric(train[f]).mean()),
                "score_mean": None if cat else float(pd.to_numeric(score[f]).mean()),
                "train_rows": len(train),
                "score_rows": len(score),
            }
        )
    return pd.DataFrame(rows)
