"""Labels for predictive maintenance, from a feature table and a list of failures (pandas).

Any feature table works: one row per id and time step, the row covering [time, time + step).
A row's prediction is made when its step ends; it looks at failures that start after that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def label_failures(
    frame: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    id_col: str,
    time_col: str,
    failure_time_col: str = "start_time",
    failure_end_col: str | None = "end_time",
    horizon_h: float = 24.0,
    step_h: float = 1.0,
    rul_cap_h: float = 168.0,
) -> pd.DataFrame:
    """`frame` with four label columns added (rows in the same order):

    - `fails_within_h`: 1 if a failure of the same id starts in (row end, row end + horizon_h].
    - `rul_h`: hours from the row's end to the next failure start, capped at `rul_cap_h`; NaN
      when the data ends before the next failure and before the cap (unknown: censored).
    - `in_failure`: the row ends inside a failure (the machine is being repaired: no prediction
      is needed, so training and evaluation leave these rows out).
    - `label_known`: the horizon after the row ends lies inside the data, so the 0/1 label is
      known (rows near the end of the data are left out of training and evaluation).

    >>> label_failures(hours, pd.DataFrame({"id": ["m1"], "start_time": [t0 + 30h]}), ...)
    ... # the row of hour t0+6 (ends t0+7) has fails_within_h 1, rul_h 23
    """
    out = frame.copy()
    end = pd.to_datetime(out[time_col]) + pd.to_timedelta(step_h, unit="h")
    horizon = pd.to_timedelta(horizon_h, unit="h")
    data_end = end.max() if len(out) else pd.NaT
    fails = np.zeros(len(out), dtype=np.int8)
    rul = np.full(len(out), np.nan)
    repairing = np.zeros(len(out), dtype=bool)
    by_id = {key: f for key, f in failures.groupby(id_col, sort=False)} if len(failures) else {}
    for key, rows in out.groupby(id_col, sort=False).indices.items():
        if key not in by_id:
            continue
        f = by_id[key].sort_values(failure_time_col)
        starts = pd.to_datetime(f[failure_time_col]).to_numpy()
        ends = (
            pd.to_datetime(f[failure_end_col]).fillna(data_end).to_numpy()
            if failure_end_col
            else starts
        )
        t = end.iloc[rows].to_numpy()
        nxt = np.searchsorted(starts, t, side="right")  # first failure starting after the row end
        has_next = nxt < len(starts)
        gap = np.full(len(rows), np.nan)
        gap[has_next] = (starts[nxt[has_next]] - t[has_next]) / np.timedelta64(1, "h")
        fails[rows] = (has_next & (gap <= horizon_h)).astype(np.int8)
        rul[rows] = np.minimum(gap, rul_cap_h)
        prev = nxt - 1  # the latest failure starting at or before the row end
        has_prev = prev >= 0
        repairing[rows[has_prev]] = t[has_prev] < ends[prev[has_prev]]
    out["fails_within_h"] = fails
    remaining_h = (data_end - end) / pd.Timedelta(hours=1)
    censored = np.isnan(rul)
    rul[censored & (remaining_h.to_numpy() >= rul_cap_h)] = rul_cap_h
    out["rul_h"] = rul
    out["in_failure"] = repairing
    out["label_known"] = (end + horizon <= data_end).to_numpy() | (fails == 1)
    return out
