"""Holdouts: by time (the plant's default), by unit (whole units held out), or a test table
given by the caller; and the validation slice carved out of the training rows the same way.

Positions are on the table's time axis (`ml.timeaxis`): hours for datetimes, the column's
unit otherwise.
"""

from __future__ import annotations

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
    train_end: float  # rows before it train (time split: the purge gap ends here)
    test_start: float
    test_end: float
    train_units: int
    test_units: int
    held_out: tuple[str, ...] = ()  # the units of the test side (a split by unit)

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


def by_time(t: np.ndarray, *, test_fraction: float, gap: float = 0.0) -> tuple[np.ndarray, ...]:
    """(train, test) masks: the last `test_fraction` of the time range tests; the `gap` (the
    label horizon) before it is purged, since a training row's label looks that far ahead."""
    lo, hi = np.nanmin(t), np.nanmax(t)
    if not np.isfinite(lo) or lo == hi:
        raise ValueError("a time split needs rows at two or more distinct times")
    cut = lo + (hi - lo) * (1 - test_fraction)
    test_start = t[t >= cut].min()  # a row's own time
    return t < test_start - gap, t >= test_start


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
    kind: str, axis: TimeAxis, t: np.ndarray, ids: np.ndarray, train, test, gap: float = 0.0
) -> Split:
    """The split's time ranges and unit counts; a time split's training ends where its purge
    gap starts, any other's just after its last training row."""

    def span(m):
        return (np.nanmin(t[m]), np.nanmax(t[m])) if m.any() else (np.nan, np.nan)

    (a, b), (c, d) = span(train), span(test)
    end = c - gap if kind == "time" else np.nextafter(b, np.inf)
    held = tuple(sorted(np.unique(ids[test].astype(str)))) if kind == "group" else ()
    return Split(
        kind,
        axis,
        a,
        end,
        c,
        d,
        len(np.unique(ids[train].astype(str))),
        len(np.unique(ids[test].astype(str))),
        held,
    )
