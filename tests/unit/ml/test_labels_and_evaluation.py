"""Labels, splits, metrics and drift on small frames whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml import drift, evaluate, splits
from ml.labels import FAILS, RUL, label_failures
from ml.timeaxis import TimeAxis

T0 = pd.Timestamp("2026-03-01 00:00")


def hours(n: int, equipment: str = "m1") -> pd.DataFrame:
    return pd.DataFrame(
        {"equipment_id": equipment, "hour_start": [T0 + pd.Timedelta(hours=h) for h in range(n)]}
    )


def test_failure_labels_look_ahead_from_the_end_of_each_hour():
    # 48 hours; a failure starts at t0+30h and is repaired at t0+32h
    failures = pd.DataFrame(
        {
            "equipment_id": ["m1"],
            "start_time": [T0 + pd.Timedelta(hours=30)],
            "end_time": [T0 + pd.Timedelta(hours=32)],
        }
    )
    out = label_failures(
        hours(48), failures, id_col="equipment_id", time_col="hour_start", rul_cap=24
    )
    by_hour = out.set_index(out["hour_start"].sub(T0) // pd.Timedelta(hours=1))
    # hour 5 ends at 6 h: the failure is 24 h later, inside the horizon (24 h, inclusive)
    assert by_hour.loc[5, FAILS] == 1
    assert by_hour.loc[4, FAILS] == 0  # ends at 5 h: 25 h ahead
    assert by_hour.loc[6, RUL] == 23  # ends 7 h, failure at 30 h
    assert by_hour.loc[4, RUL] == 24  # 25 h, capped at 24
    # the hour ending as the failure starts: RUL 0, it fails within the horizon, not in repair
    assert by_hour.loc[29, FAILS] == 1 and by_hour.loc[29, RUL] == 0
    assert not by_hour.loc[29, "in_failure"]
    assert by_hour.loc[30, "in_failure"]  # ends at 31 h, in the repair
    assert not by_hour.loc[31, "in_failure"]  # ends at 32 h, as the repair ends
    # after the failure no other: the last hours' labels are unknown, RUL censored
    assert not by_hour.loc[47, "label_known"] and np.isnan(by_hour.loc[47, RUL])
    assert by_hour.loc[23, "label_known"]  # ends 24 h, horizon to 48 h = end of data
    assert np.isnan(by_hour.loc[33, RUL])  # 14 h left < cap 24


def test_an_equipment_without_failures_gets_zero_labels():
    out = label_failures(
        hours(30, "m2"),
        pd.DataFrame({"equipment_id": ["m1"], "start_time": [T0], "end_time": [T0]}),
        id_col="equipment_id",
        time_col="hour_start",
    )
    assert out[FAILS].sum() == 0 and not out["in_failure"].any()


def test_time_split_purges_the_label_horizon_before_the_holdout():
    t = pd.Series([T0 + pd.Timedelta(hours=h) for h in range(101)])
    x = TimeAxis.of(t.to_frame("t"), "t").values(t)
    train, test = splits.by_time(x, test_fraction=0.3, gap=24)
    assert x[test].min() == x[0] + 70  # the holdout starts at hour 70
    assert x[train].max() == x[0] + 45  # hours before 70 − 24 train
    assert train.sum() == 46 and test.sum() == 31 and not (train & test).any()


def test_classification_metrics_at_a_threshold_with_weights():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.2, 0.1])
    m = evaluate.classification_metrics(y, p, 0.5, w=np.array([1.0, 1.0, 3.0, 1.0]))
    assert m["precision"] == pytest.approx(0.5)  # tp 1, fp 1
    assert m["recall"] == pytest.approx(0.25)  # tp 1 of 4 weighted positives
    assert m["positive_rate"] == pytest.approx(4 / 6)


def test_lead_time_counts_failures_with_an_alarm_in_the_horizon_before_them():
    rows = hours(48).assign(alarm=False)
    rows.loc[20, "alarm"] = True  # ends at 21 h: 9 h before the failure at 30 h
    rows.loc[25, "alarm"] = True
    failures = pd.DataFrame(
        {"equipment_id": ["m1", "m1"], "start_time": [T0 + pd.Timedelta(hours=h) for h in (30, 45)]}
    )
    axis = TimeAxis.of(rows, "hour_start")
    out = evaluate.lead_times(
        rows,
        failures,
        id_col="equipment_id",
        t=axis.values(rows["hour_start"]),
        event_t=axis.values(failures["start_time"]),
        alarm_col="alarm",
        horizon=24,
    )
    # the horizon is inclusive, as the labels are (a row ending exactly 24 h before a failure
    # is a positive): the failure at 45 h counts alarms ending in [21 h, 45 h], the earliest at
    # 21 h -> 24 h lead; the failure at 30 h: earliest alarm end 21 h -> 9 h lead
    assert out["failures"] == 2 and out["failures_caught"] == 2
    assert out["lead_time_median"] == pytest.approx((24 + 9) / 2)


def test_psi_is_zero_for_the_same_sample_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    a = pd.Series(rng.normal(0, 1, 5000))
    assert drift.psi_numeric(a, a) == pytest.approx(0.0, abs=1e-9)
    assert drift.psi_numeric(a, a + 1.0) > 0.2
    assert drift.psi_categorical(pd.Series(list("aab")), pd.Series(list("aab"))) == pytest.approx(0)
    shifted = drift.feature_drift(
        pd.DataFrame({"x": a, "k": "p"}), pd.DataFrame({"x": a + 1.0, "k": "p"}), ["x", "k"], ["k"]
    )
    assert shifted.set_index("feature")["drifted"].to_dict() == {"x": True, "k": False}
