"""Time-series functions on a hand-made irregular series, with the arithmetic written out."""

from datetime import datetime

import pytest

from transforms.timeseries import interpolate, latest_value, resample, time_weighted_average

# cnc01 temperature: irregular samples (06:00:00, 06:00:10, 06:00:40, 06:01:30)
ROWS = [
    ("cnc01", "temperature_c", datetime(2026, 3, 2, 6, 0, 0), 10.0),
    ("cnc01", "temperature_c", datetime(2026, 3, 2, 6, 0, 10), 20.0),
    ("cnc01", "temperature_c", datetime(2026, 3, 2, 6, 0, 40), 40.0),
    ("cnc01", "temperature_c", datetime(2026, 3, 2, 6, 1, 30), 0.0),
    ("press01", "state", datetime(2026, 3, 2, 5, 0, 0), 1.0),  # one sample, long before
]
SCHEMA = "equipment_id string, tag string, event_time timestamp, value double"


@pytest.fixture(scope="module")
def readings(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


def by_key(rows, column):
    return {r.equipment_id: pytest.approx(r[column]) for r in rows}


def test_latest_value_is_the_last_sample_of_each_key(readings):
    rows = latest_value(readings).collect()
    assert {(r.equipment_id, r.value) for r in rows} == {("cnc01", 0.0), ("press01", 1.0)}


def test_step_twa_holds_each_value_until_the_next_sample(readings):
    # window 06:00:05–06:01:05 (60 s):
    # 10 held 06:00:05–06:00:10 = 5 s; 20 held 06:00:10–06:00:40 = 30 s; 40 held 06:00:40–06:01:05 = 25 s
    # (5*10 + 30*20 + 25*40) / 60 = (50 + 600 + 1000) / 60 = 27.5
    # press01: the 05:00 sample carries through the whole window: 1.0 over 60 s
    out = time_weighted_average(readings, "2026-03-02 06:00:05", "2026-03-02 06:01:05").collect()
    assert by_key(out, "twa") == {"cnc01": 27.5, "press01": 1.0}
    assert by_key(out, "covered_s") == {"cnc01": 60.0, "press01": 60.0}


def test_linear_twa_integrates_the_lines_between_samples(readings):
    # window 06:00:05–06:01:05:
    # 06:00:05–06:00:10: line 10→20, at 06:00:05 it is 15; mean (15+20)/2 = 17.5 over 5 s = 87.5
    # 06:00:10–06:00:40: 20→40, mean 30 over 30 s = 900
    # 06:00:40–06:01:05: line 40→0 over 50 s, at 06:01:05 it is 40 - 40*25/50 = 20; mean 30 over 25 s = 750
    # (87.5 + 900 + 750) / 60 = 28.958333…
    out = time_weighted_average(
        readings, "2026-03-02 06:00:05", "2026-03-02 06:01:05", method="linear"
    ).where("equipment_id = 'cnc01'")
    assert out.first().twa == pytest.approx(1737.5 / 60)


def test_twa_ignores_samples_after_the_window_and_keys_without_any_before_its_end(readings):
    # window 05:30–06:00 (before cnc01's first sample at 06:00:00): only press01
    out = time_weighted_average(readings, "2026-03-02 05:30:00", "2026-03-02 06:00:00").collect()
    assert by_key(out, "twa") == {"press01": 1.0}


def test_resample_one_minute_step_carries_values_into_empty_buckets(readings):
    # cnc01, 06:00 bucket: 10 for 10 s, 20 for 30 s, 40 for 20 s -> (100 + 600 + 800) / 60 = 25
    # 06:01 bucket: 40 for 30 s, then 0 from 06:01:30 to the bucket end -> (1200 + 0) / 60 = 20
    out = (
        resample(readings.where("equipment_id = 'cnc01'"), "1 minute")
        .orderBy("bucket_start")
        .collect()
    )
    assert [(r.bucket_start.minute, r.value, r.samples) for r in out] == [
        (0, pytest.approx(25.0), 3),
        (1, pytest.approx(20.0), 1),
    ]


def test_resample_linear(readings):
    # 06:00 bucket: 0–10 s mean 15 (150); 10–40 s mean 30 (900); 40–60 s: 40→24 (slope -0.8/s), mean 32 (640)
    #   -> (150 + 900 + 640) / 60 = 28.1666…
    # 06:01 bucket: 60–90 s: 24→0, mean 12 (360); 90–120 s held at 0 -> 360 / 60 = 6
    out = (
        resample(readings.where("equipment_id = 'cnc01'"), "1 minute", method="linear")
        .orderBy("bucket_start")
        .collect()
    )
    assert [r.value for r in out] == [pytest.approx(1690 / 60), pytest.approx(6.0)]


def test_interpolate_at_given_times(readings, spark):
    at = spark.createDataFrame(
        [
            ("cnc01", "temperature_c", datetime(2026, 3, 2, 5, 59, 0)),  # before the first sample
            ("cnc01", "temperature_c", datetime(2026, 3, 2, 6, 0, 25)),  # between 20 and 40
            ("cnc01", "temperature_c", datetime(2026, 3, 2, 6, 0, 40)),  # on a sample
            ("cnc01", "temperature_c", datetime(2026, 3, 2, 7, 0, 0)),  # after the last
        ],
        "equipment_id string, tag string, event_time timestamp",
    )
    step = [r.value for r in interpolate(readings, at).orderBy("event_time").collect()]
    linear = [
        r.value for r in interpolate(readings, at, method="linear").orderBy("event_time").collect()
    ]
    assert step == [None, 20.0, 40.0, 0.0]
    # 06:00:25 is half-way from 20 (06:00:10) to 40 (06:00:40): 30
    assert linear == [None, pytest.approx(30.0), 40.0, 0.0]


def test_an_unknown_method_is_refused(readings):
    with pytest.raises(ValueError, match="'step' or 'linear'"):
        time_weighted_average(readings, "2026-03-02", "2026-03-03", method="cubic")
