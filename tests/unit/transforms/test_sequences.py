"""The sequence feature builder on tiny frames, each answer worked by hand in the test."""

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from transforms.sequences import fit_regimes, sequence_features

NAN = float("nan")


def hours(*offsets, day=2):
    return [datetime(2026, 3, day) + timedelta(hours=h) for h in offsets]


def frame(rows):
    """(unit, hour offset, value) rows as a frame with a datetime time column."""
    units, offsets, values = zip(*rows, strict=True)
    return pd.DataFrame({"unit": units, "time": hours(*offsets), "v": values})


def col(out, name):
    return out[name].tolist()


def same(got, want):
    """Lists equal to 1e-12, NaN where NaN is expected."""
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want, strict=True):
        if isinstance(w, float) and np.isnan(w):
            assert np.isnan(g), (got, want)
        else:
            assert g == pytest.approx(w, rel=1e-12, abs=1e-12), (got, want)


ALL = ("mean", "std", "min", "max", "slope", "sum", "count")


def test_each_stat_over_a_row_window_stays_in_its_unit():
    # unit a: 1, 4, 2, 8 at hours 0..3; unit b: 100, 200 at hours 0, 1; window: the last 3 rows
    f = frame(
        [
            ("a", 0, 1.0),
            ("a", 1, 4.0),
            ("a", 2, 2.0),
            ("a", 3, 8.0),
            ("b", 0, 100.0),
            ("b", 1, 200.0),
        ]
    )
    out = sequence_features(f, id_col="unit", time_col="time", columns=["v"], rows=(3,), stats=ALL)
    # a@2: {1, 4, 2}: mean 7/3; deviations -4/3, 5/3, -1/3 → (16 + 25 + 1)/9 / 2 = 7/3 → std √(7/3)
    #      slope: t − 1 = -1, 0, 1; Σ(t − t̄)(v − v̄) = 4/3 − 1/3 = 1; Σ(t − t̄)² = 2 → 0.5 per hour
    # a@3: {4, 2, 8}: mean 14/3; deviations -2/3, -8/3, 10/3 → 168/9 / 2 = 28/3 → std √(28/3)
    #      slope: (-1)(-2/3) + (1)(10/3) = 4, / 2 = 2 per hour
    # b@0 sees only itself (not a's rows): std and slope need 2 values
    same(col(out, "v_mean_3r"), [1, 2.5, 7 / 3, 14 / 3, 100, 150])
    same(col(out, "v_std_3r"), [NAN, 4.5**0.5, (7 / 3) ** 0.5, (28 / 3) ** 0.5, NAN, 5000**0.5])
    same(col(out, "v_min_3r"), [1, 1, 1, 2, 100, 100])
    same(col(out, "v_max_3r"), [1, 4, 4, 8, 100, 200])
    same(col(out, "v_slope_3r"), [NAN, 3, 0.5, 2, NAN, 100])
    same(col(out, "v_sum_3r"), [1, 5, 7, 14, 100, 300])
    same(col(out, "v_count_3r"), [1, 2, 3, 3, 1, 2])


def test_a_time_window_differs_from_a_row_window_across_a_gap():
    # hours 0, 1, 2, 5, 6 (nothing at 3 and 4), values 1, 3, 2, 10, 6; windows: 3 rows, 3 hours
    f = frame([("a", 0, 1.0), ("a", 1, 3.0), ("a", 2, 2.0), ("a", 5, 10.0), ("a", 6, 6.0)])
    out = sequence_features(
        f, id_col="unit", time_col="time", columns=["v"], rows=(3,), spans=("3h",), stats=ALL
    )
    # @5h: rows {3, 2, 10}; time (2h, 5h] holds only 10 (2h itself is out: the window is open left)
    # @6h: rows {2, 10, 6}; time (3h, 6h] holds {10, 6}: mean 8, std √8, slope (6 − 10)/1 h = -4
    # @2h: time (-1h, 2h] = {1, 3, 2}: mean 2, std 1, slope ((-1)(-1) + (1)(0)) / 2 = 0.5
    same(col(out, "v_mean_3r"), [1, 2, 2, 5, 6])
    same(col(out, "v_mean_3h"), [1, 2, 2, 10, 8])
    same(col(out, "v_std_3h"), [NAN, 2**0.5, 1, NAN, 8**0.5])
    same(col(out, "v_min_3h"), [1, 1, 1, 10, 6])
    same(col(out, "v_max_3h"), [1, 3, 3, 10, 10])
    same(col(out, "v_slope_3h"), [NAN, 2, 0.5, NAN, -4])
    same(col(out, "v_sum_3h"), [1, 4, 6, 10, 16])
    same(col(out, "v_count_3h"), [1, 2, 3, 1, 2])


def test_nulls_are_skipped_by_every_stat():
    # values 2, null, 6 at hours 0, 1, 2: the window of 3 rows at 2h holds {2, 6} at hours 0 and 2
    f = frame([("a", 0, 2.0), ("a", 1, NAN), ("a", 2, 6.0)])
    out = sequence_features(f, id_col="unit", time_col="time", columns=["v"], rows=(3,), stats=ALL)
    same(col(out, "v_mean_3r"), [2, 2, 4])
    same(col(out, "v_slope_3r"), [NAN, NAN, 2])  # (6 − 2) / 2 h
    same(col(out, "v_count_3r"), [1, 1, 2])


def test_slope_is_exact_on_a_linear_series_far_from_its_origin():
    # v = 1000 + 0.25 per hour at irregular times over 400 days: every window of ≥ 2 rows gives 0.25
    offsets = np.cumsum(np.random.default_rng(1).integers(1, 5, 3000))
    f = pd.DataFrame(
        {
            "unit": "a",
            "time": pd.Timestamp("2026-01-01") + pd.to_timedelta(offsets, "h"),
            "v": 1000 + 0.25 * offsets,
        }
    )
    out = sequence_features(
        f, id_col="unit", time_col="time", columns=["v"], rows=(5,), spans=("24h",), stats=["slope"]
    )
    assert out["v_slope_5r"].iloc[1:].to_numpy() == pytest.approx(0.25, rel=1e-9)
    slopes = out["v_slope_24h"].dropna().to_numpy()
    assert len(slopes) > 2500 and slopes == pytest.approx(0.25, rel=1e-9)
    # the slope per minute with time_unit="min": 0.25 / 60
    per_minute = sequence_features(
        f.tail(3),
        id_col="unit",
        time_col="time",
        columns=["v"],
        rows=(3,),
        stats=["slope"],
        time_unit="min",
    )
    assert per_minute["v_slope_3r"].iloc[-1] == pytest.approx(0.25 / 60, rel=1e-12)


def test_lags_stay_within_a_unit():
    f = frame([("a", 0, 1.0), ("b", 0, 10.0), ("a", 1, 2.0), ("b", 1, 20.0), ("a", 2, 3.0)])
    out = sequence_features(f, id_col="unit", time_col="time", columns=["v"], lags=(1, 2))
    # rows interleaved: a's lags come from a's rows only; b's first row has no lag (not a's 1.0)
    same(col(out, "v_lag1"), [NAN, NAN, 1, 10, 2])
    same(col(out, "v_lag2"), [NAN, NAN, NAN, NAN, 1])


def test_output_keeps_the_input_rows_index_and_columns_and_names_every_feature():
    f = frame([("b", 1, 20.0), ("a", 0, 1.0), ("b", 0, 10.0), ("a", 1, 2.0)])
    f.index = [40, 10, 30, 20]
    f["note"] = ["x", "y", "z", "w"]
    out = sequence_features(
        f, id_col="unit", time_col="time", columns=["v"], rows=(2,), spans=("90min",),
        stats=("mean", "max"), lags=(1,)
    )  # fmt: skip
    assert list(out.columns) == [
        "unit", "time", "v", "note",
        "v_mean_2r", "v_max_2r", "v_mean_90min", "v_max_90min", "v_lag1",
    ]  # fmt: skip
    assert list(out.index) == [40, 10, 30, 20]
    same(col(out, "v_mean_2r"), [15, 1, 10, 1.5])
    same(col(out, "v_lag1"), [10, NAN, NAN, 1])
    pd.testing.assert_frame_equal(out[list(f.columns)], f)


def test_integer_cycles_with_time_unit():
    # engine 1 at cycles 1, 2, 3, 5 (cycle 4 missing), values 10, 12, 11, 20; maintenance after cycle 2
    f = pd.DataFrame({"engine": 1, "cycle": [1, 2, 3, 5], "t24": [10.0, 12.0, 11.0, 20.0]})
    shop = pd.DataFrame({"engine": [1], "cycle_done": [2]})
    out = sequence_features(
        f, id_col="engine", time_col="cycle", time_unit="cycles", columns=["t24"],
        spans=(3,), stats=("mean", "slope"), events=shop, event_time_col="cycle_done",
        event_name="shop_visit",
    )  # fmt: skip
    # @5: (2, 5] holds cycles 3 and 5: mean 15.5, slope (20 − 11) / 2 cycles = 4.5 per cycle
    same(col(out, "t24_mean_3cycles"), [10, 11, 11, 15.5])
    same(col(out, "t24_slope_3cycles"), [NAN, 2, 0.5, 4.5])
    same(col(out, "cycles_since_shop_visit"), [NAN, 0, 1, 3])


def test_a_numeric_time_without_its_unit_is_refused_not_read_as_nanoseconds():
    f = pd.DataFrame({"engine": 1, "cycle": [1, 2, 3], "t24": [10.0, 12.0, 11.0]})
    with pytest.raises(ValueError, match="'cycle' holds numbers: say their unit with time_unit"):
        sequence_features(f, id_col="engine", time_col="cycle", columns=["t24"], spans=(2,))


def test_time_since_maintenance_counts_from_the_latest_end_at_or_before_the_row():
    f = frame([("a", 0, 1.0), ("a", 2, 1.0), ("a", 5, 1.0), ("a", 9, 1.0), ("b", 5, 1.0)])
    maintenance = pd.DataFrame(
        {
            "unit": ["a", "a", "a", "c"],
            "end_time": [*hours(1.5, 5), None, *hours(4)],  # a null end (still open) is ignored
        }
    )
    out = sequence_features(f, id_col="unit", time_col="time", columns=["v"], events=maintenance)
    # a@0: none yet; a@2: 2 − 1.5; a@5: an end at exactly 5h counts (0); a@9: 9 − 5; b: c's is not b's
    same(col(out, "hours_since_maintenance"), [NAN, 0.5, 0, 4, NAN])


def two_regimes(values_low, values_high, jitter=0.1):
    """op1 near 0 for the first values, near 100 for the others: two clearly separated regimes."""
    n_low, n_high = len(values_low), len(values_high)
    return pd.DataFrame(
        {
            "unit": "a",
            "time": hours(*range(n_low + n_high)),
            "op1": [jitter * i for i in range(n_low)] + [100 + jitter * i for i in range(n_high)],
            "v": [*values_low, *values_high],
        }
    )


def test_each_regime_is_normalised_to_mean_0_and_std_1():
    # regime 0 (op1 ≈ 0): 10, 12, 14 → mean 12, std 2; regime 1 (op1 ≈ 100): 100, 110, 120 → 110, 10
    f = two_regimes([10.0, 12.0, 14.0], [100.0, 110.0, 120.0])
    out = sequence_features(
        f, id_col="unit", time_col="time", columns=["v"], rows=(2,), stats=("mean",),
        regimes=["op1"], n_regimes=2,
    )  # fmt: skip
    assert col(out, "regime") == [0, 0, 0, 1, 1, 1]
    same(col(out, "v_z"), [-1, 0, 1, -1, 0, 1])
    for _, z in out.groupby("regime")["v_z"]:
        assert z.mean() == pytest.approx(0, abs=1e-12) and z.std() == pytest.approx(1)
    same(col(out, "v_mean_2r"), [-1, -0.5, 0.5, 0, -0.5, 0.5])  # the stats are of the z-scores


def test_regimes_fitted_on_training_rows_apply_to_new_rows():
    train = two_regimes([10.0, 12.0, 14.0], [100.0, 110.0, 120.0])
    regimes = fit_regimes(train, ["op1"], 2, columns=["v"])
    test = pd.DataFrame({"unit": "z", "time": hours(0, 1), "op1": [1.0, 99.0], "v": [16.0, 90.0]})
    out = sequence_features(
        test, id_col="unit", time_col="time", columns=["v"], lags=(1,), regimes=regimes
    )
    # 16 in regime 0: (16 − 12) / 2 = 2; 90 in regime 1: (90 − 110) / 10 = -2 (train's stats)
    assert col(out, "regime") == [0, 1]
    same(col(out, "v_z"), [2, -2])
    same(col(out, "v_lag1"), [NAN, 2])


def test_a_column_constant_in_a_regime_is_only_centred():
    f = two_regimes([5.0, 5.0], [1.0, 3.0])
    regimes = fit_regimes(f, ["op1"], 2, columns=["v"])
    # regime 0: std 0 → taken as 1, so 5 − 5 = 0; regime 1: mean 2, std √2
    same(regimes.normalise(f, ["v"])["v"].tolist(), [0, 0, -(0.5**0.5), 0.5**0.5])


def test_a_row_features_do_not_change_when_a_later_row_changes():
    rng = np.random.default_rng(7)
    f = pd.DataFrame(
        {
            "unit": np.repeat(["a", "b"], 50),
            "time": np.tile(pd.Timestamp("2026-03-02") + pd.to_timedelta(np.cumsum(rng.integers(1, 4, 50)), "h"), 2),
            "v": rng.normal(50, 5, 100),
            "w": rng.normal(0, 1, 100),
        }
    )  # fmt: skip
    kwargs = dict(
        id_col="unit", time_col="time", columns=["v", "w"], rows=(5,), spans=("6h",),
        stats=ALL, lags=(1, 3),
    )  # fmt: skip
    before = sequence_features(f, **kwargs)
    changed = f.copy()
    changed.loc[40:49, ["v", "w"]] = 1e6  # a's last 10 rows
    after = sequence_features(changed, **kwargs)
    pd.testing.assert_frame_equal(before.loc[:39], after.loc[:39], check_exact=True)
    pd.testing.assert_frame_equal(before.loc[50:], after.loc[50:], check_exact=True)  # unit b
    assert not before.loc[40:49].equals(after.loc[40:49])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(columns=["pressure"]), r"frame has no column\(s\) \['pressure'\]"),
        (dict(columns=["note"]), r"column\(s\) \['note \(object\)'\] are not numeric"),
        (dict(columns=["v"], spans=(3,)), "holds datetimes: give spans as durations"),
        (dict(columns=["v"], rows=(0,)), r"rows are whole numbers of at least 1, not \[0\]"),
        (dict(columns=["v"], stats=("median",)), r"unknown stat\(s\) \['median'\]"),
        (dict(columns=["v"], spans=("24h", "1d")), "repeat a window"),
        (dict(columns=["v"], regimes=["v"]), "need n_regimes"),
        (dict(columns=["v"], events=pd.DataFrame({"unit": []})), r"events has no column\(s\) \['end_time'\]"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_it(kwargs, message):
    f = frame([("a", 0, 1.0), ("a", 1, 2.0)])
    f["note"] = "x"
    with pytest.raises(ValueError, match=message):
        sequence_features(f, id_col="unit", time_col="time", **kwargs)


def test_a_repeated_unit_and_time_is_refused_naming_it():
    f = frame([("a", 0, 1.0), ("b", 0, 1.0), ("a", 0, 2.0)])
    with pytest.raises(ValueError, match=r"repeated \(unit, time\) pair\(s\), the first \('a', "):
        sequence_features(f, id_col="unit", time_col="time", columns=["v"])


def test_an_output_name_the_frame_has_is_refused():
    f = frame([("a", 0, 1.0)])
    f["v_lag1"] = 0.0
    with pytest.raises(ValueError, match=r"already has column\(s\) \['v_lag1'\]"):
        sequence_features(f, id_col="unit", time_col="time", columns=["v"], lags=(1,))


def test_an_empty_frame_gives_the_feature_columns_and_no_rows():
    f = frame([("a", 0, 1.0)]).iloc[:0]
    out = sequence_features(
        f, id_col="unit", time_col="time", columns=["v"], spans=("24h",), stats=("mean",)
    )
    assert list(out.columns) == ["unit", "time", "v", "v_mean_24h"] and out.empty


def test_100k_rows_5_columns_3_windows_run():
    n, units = 100_000, 200
    rng = np.random.default_rng(0)
    f = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(units), n // units),
            "cycle": np.tile(np.arange(n // units), units),
        }
    )
    sensors = [f"s{i}" for i in range(5)]
    for s in sensors:
        f[s] = rng.normal(size=n)
    out = sequence_features(
        f, id_col="unit", time_col="cycle", time_unit="cycles", columns=sensors,
        rows=(5, 20), spans=(30,), lags=(1,),
    )  # fmt: skip
    assert out.shape == (n, 2 + 5 + 5 * (3 * 5 + 1))
