"""Labels for predictive maintenance, from a feature table and a table of failures (pandas).

Any feature table works: one row per unit (id) and time step, the row covering
[time, time + step). A row's prediction is made when its step ends; it looks at failures that
start at or after that moment. Time is a datetime (durations in hours) or a number whose unit
is stated (`ml.timeaxis`): cycles of a run-to-failure fleet label the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.timeaxis import TimeAxis

FAILS = "fails_within_horizon"
RUL = "rul"


def label_failures(
    frame: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    id_col: str,
    time_col: str,
    failure_time_col: str = "start_time",
    failure_end_col: str | None = "end_time",
    failure_id_col: str | None = None,
    time_unit: str | None = None,
    horizon: float = 24.0,
    step: float = 1.0,
    rul_cap: float = 168.0,
    label_col: str = FAILS,
    rul_col: str = RUL,
) -> pd.DataFrame:
    """`frame` with four label columns added (rows in the same order):

    - `label_col`: 1 if a failure of the same unit starts in [row end, row end + horizon].
    - `rul_col`: time from the row's end to the next failure start, capped at `rul_cap`; 0 for
      the row that ends as the failure starts (the last cycle of a run-to-failure unit); NaN
      when the unit's data ends before the next failure and before the cap (censored).
    - `in_failure`: the row ends inside a repair (a failure started before the row's end and
      ends after it): no prediction is needed, so training and evaluation leave it out.
    - `label_known`: the horizon after the row ends lies inside the unit's own data, or a
      failure comes within it (rows near the end of a unit's data are left out).

    Durations are in the time axis's unit (hours for datetimes). `failures` may name its
    columns as it likes: `failure_id_col` (default `id_col`), `failure_time_col`,
    `failure_end_col` (None: repairs take no time).

    >>> label_failures(hours, pd.DataFrame({"id": ["m1"], "start_time": [t0 + 30h]}), ...)
    ... # the row of hour t0+6 (ends t0+7) has label 1, RUL 23; the row ending at t0+30: RUL 0
    """
    axis = TimeAxis.of(frame, time_col, time_unit)
    fid = failure_id_col or id_col
    for col in (fid, failure_time_col, *([failure_end_col] if failure_end_col else [])):
        if col not in failures.columns:
            raise ValueError(
                f"the failures table has no column {col!r} (it has {list(failures.columns)}); "
                "name its columns with failure_id_col, failure_time_col, failure_end_col"
            )
    f_axis = TimeAxis(failure_time_col, axis.unit, axis.is_datetime)
    out = frame.copy()
    end = axis.values(out[time_col]) + step
    fails = np.zeros(len(out), dtype=np.int8)
    rul = np.full(len(out), np.nan)
    repairing = np.zeros(len(out), dtype=bool)
    known = np.zeros(len(out), dtype=bool)
    by_id = {key: f for key, f in failures.groupby(fid, sort=False)} if len(failures) else {}
    for key, rows in out.groupby(id_col, sort=False).indices.items():
        t = end[rows]
        unit_end = np.nanmax(t)  # this unit's data ends here, not the table's
        f = by_id.get(key)
        if f is not None and len(f):
            f = f.sort_values(failure_time_col)
            starts = f_axis.values(f[failure_time_col])
            ends = (
                np.nan_to_num(f_axis.values(f[failure_end_col]), nan=np.inf)  # open: ongoing
                if failure_end_col
                else starts
            )
            nxt = np.searchsorted(starts, t, side="left")  # first failure at or after row end
            has_next = nxt < len(starts)
            gap = np.full(len(rows), np.nan)
            gap[has_next] = starts[nxt[has_next]] - t[has_next]
            prev = nxt - 1  # the latest failure starting before the row end
            has_prev = prev >= 0
            repairing[rows[has_prev]] = t[has_prev] < ends[prev[has_prev]]
        else:
            gap = np.full(len(rows), np.nan)
        soon = np.nan_to_num(gap, nan=np.inf) <= horizon
        fails[rows] = soon.astype(np.int8)
        r = np.minimum(gap, rul_cap)
        r[np.isnan(gap) & (unit_end - t >= rul_cap)] = rul_cap  # no failure for a whole cap
        rul[rows] = r
        # known: the horizon lies inside the unit's data, or a failure is known to come (within
        # the horizon: 1; later: 0, even where the unit's rows stop first, as in a cut test set)
        known[rows] = (t + horizon <= unit_end) | ~np.isnan(gap)
    out[label_col] = fails
    out[rul_col] = rul
    out["in_failure"] = repairing
    out["label_known"] = known
    return out
