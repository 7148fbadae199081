"""Prediction intervals for a regressor by split conformal prediction, per band of prediction.

Calibration rows the model was not fitted on give absolute residuals |y − ŷ|; the interval of a
new prediction is ŷ ± q, with q the ⌈(n+1)·coverage⌉-th smallest residual of its band (Vovk et
al.; Lei et al. 2018). Bands of the predicted value (Mondrian conformal prediction) let the width
follow the error: a remaining life predicted near its cap errs more than one near zero. Within
a band, coverage holds when the new rows are exchangeable with the calibration rows.

>>> iv = calibrate(y_cal, p_cal, coverage=0.9)
>>> low, high = iv.bounds(model.predict(x), lower=0, upper=72)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

MIN_PER_BAND = 100  # calibration rows a band needs before it gets a width of its own


@dataclass(frozen=True)
class Interval:
    coverage: float  # the target, e.g. 0.9
    edges: tuple[float, ...]  # inner edges of the bands of predicted values (ascending)
    halfwidths: tuple[float, ...]  # q of each band (one more than edges)
    calibration_rows: int

    def halfwidth(self, predicted: np.ndarray) -> np.ndarray:
        band = np.searchsorted(np.asarray(self.edges), np.asarray(predicted), side="right")
        return np.asarray(self.halfwidths)[band]

    def bounds(
        self, predicted: np.ndarray, *, lower: float = -np.inf, upper: float = np.inf
    ) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) per prediction, clipped to what the target can be."""
        p = np.asarray(predicted, dtype=float)
        q = self.halfwidth(p)
        return np.clip(p - q, lower, upper), np.clip(p + q, lower, upper)

    def to_json(self) -> str:
        return json.dumps(
            {
                "coverage": self.coverage,
                "edges": list(self.edges),
                "halfwidths": list(self.halfwidths),
                "calibration_rows": self.calibration_rows,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Interval:
        d = json.loads(text)
        return cls(d["coverage"], tuple(d["edges"]), tuple(d["halfwidths"]), d["calibration_rows"])


def _quantile(residuals: np.ndarray, coverage: float) -> float:
    n = len(residuals)
    k = int(np.ceil((n + 1) * coverage))
    return float(np.sort(residuals)[k - 1]) if k <= n else float("inf")


def calibrate(
    y: np.ndarray, predicted: np.ndarray, *, coverage: float = 0.9, bands: int = 4
) -> Interval:
    """Widths from calibration rows (not used to fit the model): `bands` bands of equal count
    of the predicted value, fewer when a band would hold under MIN_PER_BAND rows."""
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be between 0 and 1, not {coverage}")
    y, p = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    keep = np.isfinite(y) & np.isfinite(p)
    y, p = y[keep], p[keep]
    if not len(y):
        raise ValueError("no calibration rows with a known target")
    bands = max(1, min(bands, len(y) // MIN_PER_BAND))
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bands + 1)[1:-1])) if bands > 1 else []
    band = np.searchsorted(edges, p, side="right")
    residuals = np.abs(y - p)
    widths = tuple(_quantile(residuals[band == b], coverage) for b in range(len(edges) + 1))
    return Interval(coverage, tuple(float(e) for e in edges), widths, len(y))


def measure(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict[str, float]:
    """Share of known targets inside their interval, and the mean width."""
    y = np.asarray(y, dtype=float)
    known = np.isfinite(y)
    if not known.any():
        return {"coverage": np.nan, "width": np.nan}
    inside = (y[known] >= low[known]) & (y[known] <= high[known])
    return {"coverage": float(inside.mean()), "width": float(np.mean(high[known] - low[known]))}
