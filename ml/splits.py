"""Holdouts: by time (the plant's default), by unit (whole units held out), or a test table
given by the caller; and the validation slice carved out of the training rows the same way.

Positions are on the table's time axis (`ml.timeaxis`): hours for datetimes, the column's
unit otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ml.timeaxis import TimeAxis

KINDS = ("time", "group", "given")


@dataclass(frozen=True)
class Split:
    """How the rows were divided, with the time range of each side (positions on `axis`)."""

    kind: str
    axis: TimeAxis
    train_start: float
    train_end: float  # just after the last training row
    test_start: float
    test_end: float
    train_units: int
    test_units: int
    held_out: tuple[str, ...] = ()  # the units of the test side (a split by unit)
    trained_units: tuple[str, ...] = ()  # the units of the training side
    seen_end: float = float("nan")  # the latest time a training row or its label looked at

    @property
    def train_window(self) -> tuple:
        """(first, end) of the training side as values of the time column."""
        return self.axis.point(self.train_start), self.axis.point(self.train_end)

    @property
    def test_window(self) -> tuple:
        """(first, last) of the test side as values of the time column."""
        return self.axis.point(self.test_start), self.axis.point(self.test_end)

    def as_params(self) -> dict[str, str]:
        shown = {
            k: self.axis.show(getattr(self, k))
            for k in ("train_start", "train_end", "test_start", "test_end")
        }
        return {
            "split": self.kind,
            **shown,
            "train_units": str(self.train_units),
            "test_units": str(self.test_units),
        }


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"split must be one of {KINDS}, not {kind!r}")
    return kind


def by_time(
    t: np.ndarray, *, test_fraction: float, gap: float | np.ndarray = 0.0
) -> tuple[np.ndarray, ...]:
    """(train, test) masks: the last `test_fraction` of the time range tests; a training row
    whose label looks past its start (`gap`: the label horizon, or each row's own look-ahead)
    is purged."""
    lo, hi = np.nanmin(t), np.nanmax(t)
    if not np.isfinite(lo) or lo == hi:
        raise ValueError("a time split needs rows at two or more distinct times")
    cut = lo + (hi - lo) * (1 - test_fraction)
    test_start = t[t >= cut].min()  # a row's own time
    return t + gap < test_start, t >= test_start


def by_group(ids: np.ndarray, *, test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """(train, test) masks holding out whole units: `test_fraction` of them, drawn with `seed`."""
    units = np.unique(ids.astype(str))
    if len(units) < 2:
        raise ValueError(f"a split by unit needs two or more units, the table has {len(units)}")
    n_test = min(max(1, round(len(units) * test_fraction)), len(units) - 1)
    held = np.random.default_rng(seed).choice(units, size=n_test, replace=False)
    test = np.isin(ids.astype(str), held)
    return ~test, test


def describe(
    kind: str,
    axis: TimeAxis,
    t: np.ndarray,
    ids: np.ndarray,
    train,
    test,
    gap: float | np.ndarray = 0.0,
) -> Split:
    """The split's time ranges and units; training ends just after its last row, and what it
    saw (`seen_end`) reaches as far as its labels looked ahead (`gap`)."""

    def span(m):
        return (np.nanmin(t[m]), np.nanmax(t[m])) if m.any() else (np.nan, np.nan)

    (a, b), (c, d) = span(train), span(test)
    ahead = np.broadcast_to(np.asarray(gap, float), t.shape)[train]
    seen = float(np.nanmax(t[train] + ahead)) if train.any() else np.nan
    trained = tuple(sorted(np.unique(ids[train].astype(str))))
    tested = tuple(sorted(np.unique(ids[test].astype(str))))
    return Split(
        kind,
        axis,
        a,
        float(np.nextafter(b, np.inf)),
        c,
        d,
        len(trained),
        len(tested),
        tested if kind == "group" else (),
        trained,
        max(seen, b),
    )


def overlap(
    trained_units: Sequence[str], seen_end: float, t: np.ndarray, ids: np.ndarray
) -> np.ndarray:
    """Rows (unit `ids`, times `t`) a model saw in training: a unit it trained on, at a time its
    training rows or their labels reached (`Split.trained_units`, `Split.seen_end`)."""
    if not len(trained_units) or not np.isfinite(seen_end):
        return np.zeros(len(t), bool)
    return np.isin(ids.astype(str), list(trained_units)) & (t <= seen_end)
