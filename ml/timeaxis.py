"""The time column of a table as the ML code reads it: a datetime, or a number with its unit.

A datetime column measures durations (horizon, step, RUL, windows) in hours. A numeric column
(cycles of a run-to-failure fleet, seconds since start, a row counter) measures them in its own
unit, which must be stated: an integer is never read as nanoseconds since 1970.

>>> axis = TimeAxis.of(frame, "cycle", "cycles")   # horizon=30 means 30 cycles
>>> axis.values(frame["cycle"])                   # float array, in cycles
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HOURS = "h"
_NS_PER_HOUR = 3_600_000_000_000


@dataclass(frozen=True)
class TimeAxis:
    column: str
    unit: str  # "h" for a datetime column; else what the numbers count ("cycles", "s", …)
    is_datetime: bool

    @classmethod
    def of(cls, frame: pd.DataFrame, column: str, unit: str | None = None) -> TimeAxis:
        """The axis of `frame[column]`; refuses a number without its unit and text."""
        if column not in frame.columns:
            raise ValueError(f"time column {column!r} is not in the table")
        dtype = frame[column].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            if unit not in (None, HOURS):
                raise ValueError(
                    f"time column {column!r} holds datetimes: durations (horizon, step, RUL cap) "
                    f"are in hours, so time_unit must be 'h' or left out, not {unit!r}"
                )
            return cls(column, HOURS, True)
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            if not unit:
                raise ValueError(
                    f"time column {column!r} holds numbers ({dtype}): say what they count with "
                    "time_unit= (e.g. 'cycles', 's', 'h'); horizon, step and RUL cap are then "
                    "in that unit"
                )
            return cls(column, unit, False)
        raise ValueError(
            f"time column {column!r} holds {dtype}: it must be a datetime or a number "
            "(convert text with pd.to_datetime or pd.to_numeric first)"
        )

    def values(self, series: pd.Series) -> np.ndarray:
        """Float positions on the axis: hours since 1970 for datetimes, the numbers otherwise."""
        if self.is_datetime:
            ns = pd.to_datetime(series).to_numpy("datetime64[ns]").astype("int64")
            out = ns / _NS_PER_HOUR
            out[pd.isna(series).to_numpy()] = np.nan
            return out
        return pd.to_numeric(series).to_numpy(dtype=float)

    def point(self, x: float) -> pd.Timestamp | float:
        """A position as a value of the time column: a timestamp, or the number."""
        return pd.Timestamp(round(x * _NS_PER_HOUR)) if self.is_datetime else float(x)

    def show(self, x: float) -> str:
        """A position as a reader expects it: a timestamp, or a number with its unit."""
        if not np.isfinite(x):
            return ""
        if self.is_datetime:
            return str(pd.Timestamp(round(x * _NS_PER_HOUR)).floor("s"))
        return f"{_number(x)} {self.unit}"

    def duration(self, x: float) -> str:
        return f"{_number(x)} {self.unit}"


def _number(x: float) -> str:
    """1700000000 s, not 1.7e+09 s: every integer digit, at most three decimals."""
    return np.format_float_positional(float(x), precision=3, trim="-")
