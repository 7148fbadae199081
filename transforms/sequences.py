"""Features of sequences in pandas: rolling statistics per unit over row or time windows, lags,
time since an event and normalisation per operating regime, for any table with one row per unit
and time step (an equipment and its hours, an engine and its cycles)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer
from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

STATS = ("mean", "std", "min", "max", "slope", "sum", "count")
DEFAULT_STATS = ("mean", "std", "min", "max", "slope")
# units of a datetime time column's slopes and time since events, in nanoseconds
DATETIME_UNITS = {"s": 10**9, "min": 60 * 10**9, "h": 3600 * 10**9, "d": 86_400 * 10**9}
_UNIT_WORDS = {"ms": "milliseconds", "s": "seconds", "min": "minutes", "h": "hours", "d": "days"}
_SPAN_UNITS = (("h", 3600 * 10**9), ("min", 60 * 10**9), ("s", 10**9), ("ms", 10**6))


# -- operating regimes ---------------------------------------------------------------------
@dataclass(frozen=True)
class Regimes:
    """Operating regimes fitted by `fit_regimes`: clusters of the operating settings and, per
    regime, the mean and standard deviation of each value column (to z-score new rows).

    Holds arrays only: `centers` (regimes × settings, in standardized settings, regime 0 first),
    `settings_mean`/`settings_scale` (the standardization), `mean`/`std` (regime × column).
    """

    settings: tuple[str, ...]
    settings_mean: np.ndarray
    settings_scale: np.ndarray
    centers: np.ndarray
    mean: pd.DataFrame
    std: pd.DataFrame

    @property
    def n_regimes(self) -> int:
        return len(self.centers)

    def assign(self, frame: pd.DataFrame) -> np.ndarray:
        """The regime of each row of `frame`: the nearest centre of its standardized settings."""
        x = (_settings(frame, self.settings) - self.settings_mean) / self.settings_scale
        distances = ((x[:, None, :] - self.centers[None, :, :]) ** 2).sum(axis=2)
        return distances.argmin(axis=1).astype(np.int64)

    def normalise(self, frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        """`columns` of `frame` z-scored with the mean and std of each row's regime.

        >>> regimes.normalise(test, ["T24", "T50"])        # same index as test
        """
        columns = _names(columns)
        unknown = [c for c in columns if c not in self.mean.columns]
        if unknown:
            raise ValueError(
                f"the regimes were fitted without column(s) {unknown}: fit them with "
                f"fit_regimes(..., columns=[...]) naming every column to normalise"
            )
        labels = self.assign(frame)
        values = _values(frame, columns)
        mean = self.mean.loc[labels, columns].to_numpy()
        std = self.std.loc[labels, columns].to_numpy()
        return pd.DataFrame((values - mean) / std, index=frame.index, columns=columns)


def fit_regimes(
    frame: pd.DataFrame,
    settings: Sequence[str],
    n_regimes: int,
    *,
    columns: Sequence[str] | None = None,
    random_state: int = 0,
) -> Regimes:
    """Operating regimes of `frame`: KMeans with `n_regimes` clusters on the standardized
    `settings` columns, and the mean and sample std of `columns` per regime.

    Fit on the training rows only, then apply to the test rows: regimes fitted on all rows let
    the test rows shape the normalisation (leakage). `columns` defaults to every numeric column
    that is not a setting. Regimes are numbered by their centres, ordered by the first setting
    (then the second, …), so that a refit on the same data gives the same numbers. A column
    constant in a regime (std 0, or a single row) is only centred there (its std is taken as 1).

    >>> regimes = fit_regimes(train, ["op1", "op2", "op3"], 6, columns=sensors)
    >>> sequence_features(test, id_col="unit", time_col="cycle", time_unit="cycles",
    ...                   columns=sensors, rows=(10,), regimes=regimes)
    """
    from sklearn.cluster import KMeans

    settings = _names(settings)
    _check_columns(frame, settings, "frame")
    if columns is None:
        columns = [
            c
            for c in frame.columns
            if c not in settings and is_numeric_dtype(frame[c]) and frame[c].dtype != bool
        ]
    columns = _names(columns)
    _check_columns(frame, columns, "columns")
    _check_numeric(frame, columns)
    x = _settings(frame, settings)
    if not isinstance(n_regimes, int | np.integer) or n_regimes < 1:
        raise ValueError(f"n_regimes must be a whole number of at least 1, not {n_regimes!r}")
    if len(x) < n_regimes:
        raise ValueError(f"{n_regimes} regimes cannot be fitted on {len(x)} row(s)")
    settings_mean = x.mean(axis=0)
    settings_scale = x.std(axis=0)
    settings_scale[settings_scale == 0] = 1.0
    scaled = (x - settings_mean) / settings_scale
    kmeans = KMeans(n_clusters=n_regimes, n_init=10, random_state=random_state).fit(scaled)
    centers = kmeans.cluster_centers_[np.lexsort(kmeans.cluster_centers_.T[::-1])]
    regimes = Regimes(
        settings, settings_mean, settings_scale, centers, pd.DataFrame(), pd.DataFrame()
    )
    labels = regimes.assign(frame)
    by_regime = pd.DataFrame(_values(frame, columns), columns=columns).groupby(labels)
    index = pd.RangeIndex(n_regimes, name="regime")
    mean = by_regime.mean().reindex(index)
    std = by_regime.std(ddof=1).reindex(index)
    std = std.where((std > 0) & std.notna(), 1.0)
    return Regimes(settings, settings_mean, settings_scale, centers, mean, std)


# -- the feature builder -------------------------------------------------------------------
def sequence_features(
    frame: pd.DataFrame,
    *,
    id_col: str,
    time_col: str,
    columns: Sequence[str],
    rows: Sequence[int] = (),
    spans: Sequence[str | timedelta | float] = (),
    stats: Sequence[str] = DEFAULT_STATS,
    lags: Sequence[int] = (),
    events: pd.DataFrame | None = None,
    event_time_col: str = "end_time",
    event_name: str = "maintenance",
    regimes: Sequence[str] | Regimes | None = None,
    n_regimes: int | None = None,
    time_unit: str | None = None,
) -> pd.DataFrame:
    """`frame` (one row per unit and time step) with features of each unit's past added.

    Every feature of a row uses only the rows of its unit at or before its time (causal), so it
    may be computed over any span of history that covers the longest window.

    - `time_col` is a datetime column, or a number (cycles, seconds, …) whose unit `time_unit`
      must then name ("cycles", "s", "h"): it names the outputs and is never guessed. For a
      datetime column `time_unit` is the unit of slopes and of time since events: "h" (default),
      "min", "s" or "d".
    - `rows=(5, 20)`: windows of the unit's last n rows, the current one included.
      `spans=("24h",)`: time windows (t − span, t]; durations ("24h", Timedelta) for a datetime
      column, plain numbers in the column's unit for a numeric one. Where rows are missing in
      time the two differ: a time window then holds fewer rows. At a unit's start a window
      holds what there is (`count` tells how many values).
    - `stats` per column and window, over the non-null values: mean, std (sample, null with
      fewer than 2 values), min, max, slope (least squares of the value against time, per
      time unit: per hour for a datetime column; null with fewer than 2 values), sum, count.
    - `lags=(1, 3)`: the value k rows before in the unit (null before the unit's k-th row).
    - `events`: a frame with `id_col` and `event_time_col` (e.g. the end of each planned
      maintenance); adds the time from the latest event at or before the row's time (null
      when the unit has none yet). Events with a null time are ignored.
    - `regimes`: normalise each column per operating regime before the statistics and lags:
      either the operating-setting columns (KMeans on the standardized settings with
      `n_regimes` clusters, fitted on this frame) or a `Regimes` from `fit_regimes`, to fit on
      training rows only and apply to test rows (fitting on all rows leaks the test rows into
      the normalisation). Statistics and lags are then of the z-scores.

    Output: the input columns and index, rows in the input's order, then, per column in turn:
    `<col>_z` (with regimes), `<col>_<stat>_<window>` for each window and stat (window `5r`
    for 5 rows; a span in whole hours `24h`, else `<n>min`, `<n>s`, `<n>ms`; a numeric span
    as `<n><time_unit>`, e.g. `30cycles`), `<col>_lag<k>`; then `regime` (with regimes) and
    `<unit>_since_<event_name>` (with events; the unit as a word: `hours_since_maintenance`,
    `cycles_since_maintenance`). All features are float64, `regime` int64.

    Raises ValueError naming the column or value at fault: an unknown column, a non-numeric
    column in `columns`, a repeated (id, time), a missing id or time, a numeric time without
    `time_unit`, a window or lag that is not positive, an output name the frame already has.

    >>> sequence_features(hours, id_col="equipment_id", time_col="hour_start",
    ...                   columns=["vibration_mm_s"], spans=("24h",), stats=("mean", "slope"),
    ...                   events=maintenance, event_time_col="end_time")
    ... # adds vibration_mm_s_mean_24h, vibration_mm_s_slope_24h (mm/s per hour),
    ... #      hours_since_maintenance
    """
    columns = _names(columns)
    _check_columns(frame, [id_col, time_col, *columns], "frame")
    _check_numeric(frame, columns)
    clock = _Clock.of(frame[time_col], time_col, time_unit)
    stats = _stats(stats)
    rows = _positive_ints(rows, "rows")
    spans = [clock.span(s) for s in _many(spans)]
    window_names = [f"{n}r" for n in rows] + [name for name, _ in spans]
    if len(set(window_names)) < len(window_names):
        raise ValueError(f"windows {window_names} repeat a window: give each once")
    lags = _positive_ints(lags, "lags")
    if frame[id_col].isna().any():
        raise ValueError(f"column {id_col!r} has {int(frame[id_col].isna().sum())} missing id(s)")

    event_frame = None
    if events is not None:
        _check_columns(events, [id_col, event_time_col], "events")
        event_frame = events.loc[events[id_col].notna() & events[event_time_col].notna()]
    codes, event_codes = _codes(frame[id_col], None if event_frame is None else event_frame[id_col])
    times = clock.times(frame[time_col], time_col)
    order = np.lexsort((times, codes))  # by unit, then time
    g, t = codes[order], times[order]
    _check_unique(frame, id_col, time_col, order, g, t)
    unit_start = np.searchsorted(g, g, side="left")

    values = _values(frame, columns)
    new: dict[str, np.ndarray] = {}
    regime = None
    if regimes is not None:
        fitted = _regimes(frame, regimes, n_regimes, columns)
        regime = fitted.assign(frame)
        values = fitted.normalise(frame, columns).to_numpy()
    bounds = [(f"{n}r", np.maximum(unit_start, np.arange(len(g)) - n + 1)) for n in rows]
    # a time window starts after the rows of its unit at or before t − span
    bounds += [(label, _count_at_or_before(g, t, g, t - length)) for label, length in spans]
    ends = np.arange(1, len(g) + 1, dtype=np.int64)
    t_units = clock.in_units(t - t[unit_start])  # time from the unit's first row: small numbers
    for j, col in enumerate(columns):
        v = values[order, j]
        if regime is not None:
            new[f"{col}_z"] = v
        for label, starts in bounds:
            window = _Window(start=starts, end=ends)
            for stat in stats:
                new[f"{col}_{stat}_{label}"] = _stat(stat, v, t_units, g, window)
        position = np.arange(len(g))
        for k in lags:
            before = position - k
            valid = before >= unit_start
            new[f"{col}_lag{k}"] = np.where(valid, v[np.where(valid, before, 0)], np.nan)
    if regime is not None:
        new["regime"] = regime[order]
    if event_frame is not None:
        name = f"{clock.word}_since_{event_name}"
        event_times = clock.times(event_frame[event_time_col], f"events.{event_time_col}")
        new[name] = _since(g, t, event_codes, event_times, clock)
    return _assemble(frame, new, order)


# -- windows and statistics ----------------------------------------------------------------
class _Window(BaseIndexer):
    """Given window bounds [start, end) per row, for pandas' rolling aggregations."""

    def get_window_bounds(
        self, num_values=0, min_periods=None, center=None, closed=None, step=None
    ):
        return self.start, self.end


def _count_at_or_before(data_g, data_t, query_g, query_t) -> np.ndarray:
    """For each query (unit, time): how many data rows come at or before it in (unit, time)
    order. `data_*` are sorted by (unit, time); one lexsort of data and queries together."""
    n = len(data_g)
    g = np.concatenate([data_g, query_g])
    t = np.concatenate([data_t, query_t])
    is_query = np.concatenate([np.zeros(n, bool), np.ones(len(query_g), bool)])
    merged = np.lexsort((is_query, t, g))  # a data row equal to a query sorts before it
    queries = is_query[merged]
    data_seen = np.cumsum(~queries)
    out = np.empty(len(query_g), np.int64)
    out[merged[queries] - n] = data_seen[queries]
    return out


def _stat(stat: str, v: np.ndarray, t: np.ndarray, g: np.ndarray, window: _Window) -> np.ndarray:
    series = pd.Series(v)
    if stat == "count":
        return series.notna().astype(float).rolling(window, min_periods=0).sum().to_numpy()
    if stat == "slope":
        return _slope(v, t, g, window)
    return getattr(series.rolling(window, min_periods=1), stat)().to_numpy()


def _slope(v: np.ndarray, t: np.ndarray, g: np.ndarray, window: _Window) -> np.ndarray:
    """Least-squares slope of v against t in each window, from rolling sums.

    t counts from the unit's first row and v from the unit's first value (both causal), so
    the sums stay small and Sxx − Sx²/n keeps its digits.
    """
    present = ~np.isnan(v)
    first_value = pd.Series(v).groupby(g).transform("first").to_numpy()
    x = np.where(present, t, 0.0)
    y = np.where(present, v - np.nan_to_num(first_value), 0.0)

    def rolling_sum(a: np.ndarray) -> np.ndarray:
        return pd.Series(a).rolling(window, min_periods=0).sum().to_numpy()

    n = rolling_sum(present.astype(float))
    sx, sy, sxx, sxy = rolling_sum(x), rolling_sum(y), rolling_sum(x * x), rolling_sum(x * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx_c = sxx - sx * sx / n
        slope = (sxy - sx * sy / n) / sxx_c
    return np.where((n >= 2) & (sxx_c > 0), slope, np.nan)


def _since(g, t, event_codes, event_times, clock) -> np.ndarray:
    """Time from the latest event of the row's unit at or before the row's time; NaN if none."""
    event_order = np.lexsort((event_times, event_codes))
    eg, et = event_codes[event_order], event_times[event_order]
    if not len(eg):
        return np.full(len(g), np.nan)
    seen = _count_at_or_before(eg, et, g, t)  # events up to (unit, t): the last is at seen − 1
    last = np.maximum(seen - 1, 0)
    found = (seen > 0) & (eg[last] == g)
    return np.where(found, clock.in_units(t - et[last]), np.nan)


def _assemble(frame: pd.DataFrame, new: dict[str, np.ndarray], order: np.ndarray) -> pd.DataFrame:
    """`frame` with the new columns (computed in sorted order) put back in its row order."""
    taken = [name for name in new if name in frame.columns]
    if taken:
        raise ValueError(f"the frame already has column(s) {taken}: rename them first")
    out = {}
    for name, sorted_values in new.items():
        values = np.empty_like(sorted_values)
        values[order] = sorted_values
        out[name] = values
    return pd.concat([frame, pd.DataFrame(out, index=frame.index)], axis=1)


# -- time ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Clock:
    """How a time column is read: datetime as int64 nanoseconds, a number as float."""

    column: str
    is_datetime: bool
    unit: str  # of slopes and time since events
    tz: object = None

    @classmethod
    def of(cls, times: pd.Series, column: str, time_unit: str | None) -> _Clock:
        if is_datetime64_any_dtype(times):
            unit = "h" if time_unit is None else time_unit
            if unit not in DATETIME_UNITS:
                raise ValueError(
                    f"time_unit of the datetime column {column!r} is one of "
                    f"{sorted(DATETIME_UNITS)}, not {time_unit!r}"
                )
            return cls(column, True, unit, getattr(times.dtype, "tz", None))
        if not is_numeric_dtype(times) or times.dtype == bool:
            raise ValueError(
                f"time column {column!r} is {times.dtype}: give datetimes or numbers "
                f"(cycles, seconds, …) with time_unit"
            )
        if not time_unit:
            raise ValueError(
                f"time column {column!r} holds numbers: say their unit with time_unit "
                f"(e.g. time_unit='cycles' or 's'); it is never guessed"
            )
        return cls(column, False, time_unit)

    @property
    def word(self) -> str:
        return _UNIT_WORDS.get(self.unit, self.unit)

    def times(self, times: pd.Series, what: str) -> np.ndarray:
        if times.isna().any():
            raise ValueError(f"column {what!r} has {int(times.isna().sum())} missing time(s)")
        if self.is_datetime:
            if not is_datetime64_any_dtype(times):
                raise ValueError(f"column {what!r} must hold datetimes, as {self.column!r} does")
            tz = getattr(times.dtype, "tz", None)
            if (tz is None) != (self.tz is None):
                raise ValueError(
                    f"column {what!r} and {self.column!r} must both carry a time zone or neither"
                )
            if tz is not None:
                times = times.dt.tz_convert("UTC").dt.tz_localize(None)
            return times.astype("datetime64[ns]").to_numpy().astype(np.int64)
        if not is_numeric_dtype(times) or times.dtype == bool:
            raise ValueError(f"column {what!r} must hold numbers, as {self.column!r} does")
        return times.to_numpy(dtype=float)

    def in_units(self, delta: np.ndarray) -> np.ndarray:
        """A time difference in the clock's unit (hours for a datetime column by default)."""
        if self.is_datetime:
            return delta / DATETIME_UNITS[self.unit]
        return delta.astype(float)

    def span(self, span) -> tuple[str, int | float]:
        """(label, length): nanoseconds for a datetime column, the column's unit otherwise."""
        if self.is_datetime:
            if isinstance(span, bool | int | float | np.number):
                raise ValueError(
                    f"time column {self.column!r} holds datetimes: give spans as durations "
                    f"such as '24h', not {span!r}"
                )
            try:
                ns = pd.Timedelta(span).value
            except ValueError:
                raise ValueError(f"span {span!r} is not a duration such as '24h'") from None
            if ns <= 0:
                raise ValueError(f"a span must be positive, not {span!r}")
            unit, size = next(((u, n) for u, n in _SPAN_UNITS if ns % n == 0), ("ns", 1))
            return f"{ns // size}{unit}", ns
        if isinstance(span, bool) or not isinstance(span, int | float | np.number):
            raise ValueError(
                f"time column {self.column!r} holds numbers ({self.unit}): give spans as "
                f"numbers of {self.unit}, not {span!r}"
            )
        if not span > 0:
            raise ValueError(f"a span must be positive, not {span!r}")
        return f"{float(span):g}{self.unit}", float(span)


# -- checks --------------------------------------------------------------------------------
def _names(names: str | Sequence[str]) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


def _many(values) -> tuple:
    """A sequence of values from one value or several (a lone '24h' or 5 is one)."""
    if isinstance(values, str | timedelta | int | float | np.number):
        return (values,)
    return tuple(values)


def _check_columns(frame: pd.DataFrame, names: Sequence[str], what: str) -> None:
    unknown = [c for c in names if c not in frame.columns]
    if unknown:
        raise ValueError(f"{what} has no column(s) {unknown}; it has {list(frame.columns)}")


def _check_numeric(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    wrong = [f"{c} ({frame[c].dtype})" for c in columns if not is_numeric_dtype(frame[c])]
    if wrong:
        raise ValueError(f"column(s) {wrong} are not numeric: features are of numbers")


def _check_unique(frame, id_col, time_col, order, g, t) -> None:
    repeated = np.flatnonzero((g[1:] == g[:-1]) & (t[1:] == t[:-1]))
    if len(repeated):
        row = frame.iloc[order[repeated[0]]]
        raise ValueError(
            f"{len(repeated)} repeated ({id_col}, {time_col}) pair(s), the first "
            f"({row[id_col]!r}, {row[time_col]!r}): give one row per unit and time"
        )


def _stats(stats: str | Sequence[str]) -> tuple[str, ...]:
    stats = _names(stats)
    unknown = [s for s in stats if s not in STATS]
    if unknown:
        raise ValueError(f"unknown stat(s) {unknown}: choose from {list(STATS)}")
    return stats


def _positive_ints(numbers: Sequence[int], what: str) -> list[int]:
    numbers = list(_many(numbers))
    wrong = [
        n for n in numbers if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1
    ]
    if wrong:
        raise ValueError(f"{what} are whole numbers of at least 1, not {wrong}")
    return [int(n) for n in numbers]


def _codes(ids: pd.Series, event_ids: pd.Series | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer codes of the unit ids, the events' ids coded alike."""
    both = ids if event_ids is None else pd.concat([ids, event_ids], ignore_index=True)
    codes, _ = pd.factorize(both)
    codes = codes.astype(np.int64)
    return codes[: len(ids)], None if event_ids is None else codes[len(ids) :]


def _values(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """`columns` as a float matrix, nulls as NaN (nullable and bool dtypes too)."""
    if not columns:
        return np.empty((len(frame), 0))
    return np.column_stack(
        [frame[c].astype("Float64").to_numpy(dtype=float, na_value=np.nan) for c in columns]
    )


def _settings(frame: pd.DataFrame, settings: Sequence[str]) -> np.ndarray:
    _check_columns(frame, settings, "frame")
    _check_numeric(frame, settings)
    x = _values(frame, settings)
    missing = [c for c, m in zip(settings, np.isnan(x).any(axis=0), strict=True) if m]
    if missing:
        raise ValueError(f"operating setting(s) {missing} have missing values: fill or drop them")
    return x


def _regimes(frame, regimes, n_regimes, columns) -> Regimes:
    if isinstance(regimes, Regimes):
        return regimes
    if n_regimes is None:
        raise ValueError(
            "regimes given as setting columns need n_regimes, the number of regimes to find"
        )
    return fit_regimes(frame, _names(regimes), n_regimes, columns=columns)
