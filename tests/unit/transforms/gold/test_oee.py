"""OEE per shift and its roll-ups on hand-worked shifts (ISO 22400-2), arithmetic written out."""

from datetime import date, datetime

import pytest

from lakehouse.catalog import get_table
from transforms.gold.oee import oee_line_day, oee_shift, oee_site_week

EQ = "acme.berlin.machining.line1.cell1.cnc01"
EQ2 = "acme.berlin.machining.line1.cell2.press01"


def ts(h, m=0, day=2):
    return datetime(2026, 3, day, h, m)


def df(spark, table, rows):
    """Rows given as dicts; absent columns are null."""
    spec = get_table(table)
    return spark.createDataFrame(
        [tuple(r.get(c) for c in spec.column_names) for r in rows], spec.schema
    )


def equipment(spark):
    base = {"enterprise": "acme", "site": "berlin", "area": "machining", "line": "line1"}
    rows = [
        {**base, "equipment_id": EQ, "cell": "cell1", "name": "cnc01", "kind": "cnc_mill"},
        {**base, "equipment_id": EQ2, "cell": "cell2", "name": "press01", "kind": "press"},
    ]
    for r in rows:
        r |= {"timezone": "Europe/Berlin", "valid_from": ts(0), "is_current": True}
    return df(spark, "silver.equipment", rows)


def shift(shift_id, start, end, name="early"):
    return {
        "shift_id": shift_id,
        "site": "berlin",
        "shift_name": name,
        "local_date": start.date(),
        "start_time": start,
        "end_time": end,
        "planned_s": (end - start).total_seconds(),
    }


def state(eq, start, end, state, reason=""):
    return {
        "equipment_id": eq,
        "start_time": start,
        "end_time": end,
        "duration_s": (end - start).total_seconds() if end else None,
        "state": state,
        "reason_code": reason,
        "event_date": start.date(),
    }


def count(eq, minute, produced, good, ideal_cycle_s, scrap=None, rework=0):
    scrap = produced - good - rework if scrap is None else scrap
    return {
        "equipment_id": eq,
        "interval_start": minute,
        "product_id": "P-100",
        "produced": produced,
        "good": good,
        "scrap": scrap,
        "rework": rework,
        "ideal_cycle_s": ideal_cycle_s,
        "ideal_time_s": ideal_cycle_s * produced,
        "good_ideal_time_s": ideal_cycle_s * good,
        "event_date": minute.date(),
    }


def one(rows, **key):
    found = [r for r in rows if all(r[k] == v for k, v in key.items())]
    assert len(found) == 1, (key, rows)
    return found[0]


@pytest.fixture
def early_shift_day(spark):
    """cnc01, early shift 06:00–14:00 UTC (8 h = 28,800 s):
    06:00–10:00 running (4 h), 10:00–10:30 break (planned), 10:30–11:30 jam (unplanned, 1 h),
    11:30–13:30 running (2 h), 13:30–14:30 breakdown spanning the shift change at 14:00,
    14:30–22:00 running (late shift).
    Parts in the early shift: 300 at 60 s ideal, 285 good, 10 scrap, 5 rework."""
    states = [
        state(EQ, ts(6), ts(10), "running"),
        state(EQ, ts(10), ts(10, 30), "planned_stop", "break"),
        state(EQ, ts(10, 30), ts(11, 30), "unplanned_stop", "jam"),
        state(EQ, ts(11, 30), ts(13, 30), "running"),
        state(EQ, ts(13, 30), ts(14, 30), "unplanned_stop", "breakdown"),
        state(EQ, ts(14, 30), ts(22), "running"),
    ]
    counts = [
        count(EQ, ts(7), 200, 190, 60.0, scrap=7, rework=3),
        count(EQ, ts(12), 100, 95, 60.0, scrap=3, rework=2),
        count(EQ, ts(15), 400, 400, 60.0),
    ]
    shifts = [
        shift("berlin-2026-03-02-early", ts(6), ts(14)),
        shift("berlin-2026-03-02-late", ts(14), ts(22), "late"),
    ]
    return (
        df(spark, "silver.equipment_states", states),
        df(spark, "silver.production_counts", counts),
        df(spark, "silver.shift_calendar", shifts),
    )


def test_oee_of_a_shift_from_its_times_and_counts(spark, early_shift_day):
    states, counts, shifts = early_shift_day
    out = oee_shift(states, counts, shifts, equipment(spark), as_of=ts(23)).collect()
    early = one(out, equipment_id=EQ, shift_id="berlin-2026-03-02-early")
    # planned operation time 28,800 s; planned downtime = the break, 1,800 s
    # PBT = 28,800 − 1,800 = 27,000 s
    # APT = running 06:00–10:00 (14,400) + 11:30–13:30 (7,200) = 21,600 s
    # unplanned = jam 3,600 + breakdown 13:30–14:00 only (1,800) = 5,400 s
    assert (early.planned_s, early.planned_downtime_s, early.planned_busy_s) == (28800, 1800, 27000)
    assert (early.run_s, early.unplanned_downtime_s, early.idle_s) == (21600, 5400, 0)
    # availability = 21,600 / 27,000 = 0.8
    # performance = 300 parts × 60 s = 18,000 s ideal / 21,600 s = 0.8333…
    # quality = 285 / 300 = 0.95;  OEE = 0.8 × 0.83333 × 0.95 = 0.63333…
    assert (early.produced, early.good, early.scrap, early.rework) == (300, 285, 10, 5)
    assert early.availability == pytest.approx(0.8)
    assert early.performance == pytest.approx(18000 / 21600)
    assert early.quality == pytest.approx(0.95)
    assert early.oee == pytest.approx(0.8 * 18000 / 21600 * 0.95)
    # losses: availability (27,000 − 21,600)/60 = 90 min; performance (21,600 − 18,000)/60 = 60 min;
    # quality: ideal time of the 15 bad parts = 15 × 60 s = 15 min
    assert (early.availability_loss_min, early.performance_loss_min) == (90, 60)
    assert early.quality_loss_min == pytest.approx(15)
    assert early.is_complete and early.event_date == date(2026, 3, 2)


def test_a_stop_spanning_the_shift_change_is_split_between_the_shifts(spark, early_shift_day):
    states, counts, shifts = early_shift_day
    out = oee_shift(states, counts, shifts, equipment(spark), as_of=ts(23)).collect()
    late = one(out, equipment_id=EQ, shift_id="berlin-2026-03-02-late")
    # breakdown 13:30–14:30: 30 min in the early shift (above), 30 min = 1,800 s in the late one
    # late: PBT 28,800 (no break recorded), APT 14:30–22:00 = 27,000 s
    assert late.unplanned_downtime_s == 1800
    assert late.run_s == 27000
    assert late.availability == pytest.approx(27000 / 28800)  # 0.9375
    # 400 parts × 60 s = 24,000 / 27,000 = 0.8889; all good
    assert late.performance == pytest.approx(24000 / 27000)
    assert late.quality == 1.0


def test_a_shift_with_no_production(spark):
    # press01 is starved for the whole early shift: idle 8 h, nothing produced
    states = df(spark, "silver.equipment_states", [state(EQ2, ts(6), ts(14), "idle", "starved")])
    counts = df(spark, "silver.production_counts", [])
    shifts = df(spark, "silver.shift_calendar", [shift("berlin-2026-03-02-early", ts(6), ts(14))])
    out = oee_shift(states, counts, shifts, equipment(spark), as_of=ts(23)).collect()
    row = one(out, equipment_id=EQ2)
    # PBT 28,800 s, APT 0 → availability 0; no run time → performance undefined (null);
    # nothing produced → quality undefined (null); OEE = 0 because planned busy time was lost
    assert (row.planned_busy_s, row.run_s, row.idle_s, row.produced) == (28800, 0, 28800, 0)
    assert row.availability == 0.0
    assert row.performance is None and row.quality is None
    assert row.oee == 0.0


def test_daylight_saving_night_has_seven_hours_of_planned_time(spark):
    # Berlin, night of 28→29 March 2026: 22:00 CET (21:00 UTC) to 06:00 CEST (04:00 UTC) = 7 h
    start, end = datetime(2026, 3, 28, 21), datetime(2026, 3, 29, 4)
    states = df(
        spark,
        "silver.equipment_states",
        [
            state(EQ, start, datetime(2026, 3, 29, 0, 30), "running"),  # 3.5 h
            state(
                EQ, datetime(2026, 3, 29, 0, 30), datetime(2026, 3, 29, 1), "planned_stop", "break"
            ),
            state(EQ, datetime(2026, 3, 29, 1), end, "running"),  # 3 h
        ],
    )
    shifts = df(
        spark, "silver.shift_calendar", [shift("berlin-2026-03-28-night", start, end, "night")]
    )
    counts = df(
        spark, "silver.production_counts", [count(EQ, datetime(2026, 3, 28, 22), 378, 378, 60.0)]
    )
    row = one(
        oee_shift(states, counts, shifts, equipment(spark), as_of=datetime(2026, 3, 30)).collect(),
        equipment_id=EQ,
    )
    # planned 7 h = 25,200 s; break 1,800 → PBT 23,400; APT 3.5 h + 3 h = 23,400 → availability 1
    # performance 378 × 60 = 22,680 / 23,400 = 0.9692…
    assert (row.planned_s, row.planned_busy_s, row.run_s) == (25200, 23400, 23400)
    assert row.availability == 1.0
    assert row.performance == pytest.approx(22680 / 23400)


def test_a_running_shift_counts_until_the_data_ends(spark, early_shift_day):
    states, counts, shifts = early_shift_day
    # data reaches 12:00: the early shift so far is 06:00–12:00 = 21,600 s, break 1,800
    # running 06:00–10:00 + 11:30–12:00 = 14,400 + 1,800 = 16,200 s; the late shift has not begun
    out = oee_shift(states, counts, shifts, equipment(spark), as_of=ts(12)).collect()
    row = one(out, equipment_id=EQ)
    assert (row.planned_s, row.planned_busy_s, row.run_s) == (21600, 19800, 16200)
    assert row.is_complete is False
    # counts up to 12:00 only: the 07:00 minute (200 parts); the 12:00 minute starts at as_of
    assert row.produced == 200


def test_roll_ups_sum_times_and_counts_never_average_ratios(spark, early_shift_day):
    states, counts, shifts = early_shift_day
    shift_rows = oee_shift(states, counts, shifts, equipment(spark), as_of=ts(23))
    day = one(oee_line_day(shift_rows).collect())
    # line1 on 2 March = early + late shift of cnc01 (press01 has no states → all downtime-free 0 run)
    # rows: cnc01 early (PBT 27,000, APT 21,600), cnc01 late (PBT 28,800, APT 27,000),
    #       press01 early and late (PBT 28,800 each, APT 0)
    # availability = (21,600 + 27,000) / (27,000 + 28,800 + 28,800 + 28,800) = 48,600 / 113,400
    assert day.planned_busy_s == 113400 and day.run_s == 48600
    assert day.availability == pytest.approx(48600 / 113400)  # 0.4286
    # the mean of the four ratios would be (0.8 + 0.9375 + 0 + 0) / 4 = 0.434: not what we report
    assert day.availability != pytest.approx((0.8 + 0.9375) / 4)
    # performance = (18,000 + 24,000) / 48,600; quality = (285 + 400) / (300 + 400)
    assert day.performance == pytest.approx(42000 / 48600)
    assert day.quality == pytest.approx(685 / 700)
    assert day.equipment_count == 2
    week = one(oee_site_week(shift_rows).collect())
    assert (week.week_start, week.iso_week) == (date(2026, 3, 2), "2026-W10")
    assert week.oee == pytest.approx(day.oee)


def test_each_machine_counts_only_as_far_as_its_own_data_reaches(spark, early_shift_day):
    states, counts, shifts = early_shift_day
    # cnc01's data stops at 12:00 although the plant's runs until 23:00: its early shift is
    # 06:00–12:00 so far (21,600 s, not complete) and its last interval is not stretched to 23:00
    reach = spark.createDataFrame(
        [(EQ, ts(12)), (EQ2, ts(23))], "equipment_id string, as_of timestamp"
    )
    out = oee_shift(states, counts, shifts, equipment(spark), as_of=reach).collect()
    row = one(out, equipment_id=EQ, shift_id="berlin-2026-03-02-early")
    assert (row.planned_s, row.run_s, row.is_complete) == (21600, 16200, False)
    assert one(out, equipment_id=EQ2, shift_id="berlin-2026-03-02-early").is_complete


# -- planned downtime from the calendar (issue: any plant) -------------------------------------
def window(start, end, kind="break", eq=None, shift_id="berlin-2026-03-02-early"):
    return {
        "window_id": f"{shift_id}/{kind}/{eq or '*'}/{start:%H:%M}",
        "shift_id": shift_id,
        "site": "berlin",
        "equipment_id": eq,
        "kind": kind,
        "name": kind,
        "start_time": start,
        "end_time": end,
        "duration_s": (end - start).total_seconds(),
        "source": "plant_model",
    }


def calendar_shift(spark, states, windows, counts=()):
    rows = oee_shift(
        df(spark, "silver.equipment_states", states),
        df(spark, "silver.production_counts", list(counts)),
        df(spark, "silver.shift_calendar", [shift("berlin-2026-03-02-early", ts(6), ts(14))]),
        equipment(spark),
        as_of=ts(23),
        planned=df(spark, "silver.planned_downtime", windows),
    ).collect()
    return one(rows, equipment_id=EQ)


def test_calendar_breaks_in_which_the_machine_idles_are_planned_downtime(spark):
    """8-hour shift 06:00–14:00 (480 min) with 60 min of calendar breaks (09:00–09:15 coffee,
    11:00–11:45 lunch); the machine simply shows idle in them and has one 47-min jam.
    ISO 22400-2: PBT = 480 − 60 = 420 min; APT = 480 − 60 − 47 = 373 min;
    A = 373 / 420 = 0.888… (planned_stop states alone would give 373 / 480 = 0.777…)."""
    states = [
        state(EQ, ts(6), ts(9), "running"),
        state(EQ, ts(9), ts(9, 15), "idle"),
        state(EQ, ts(9, 15), ts(11), "running"),
        state(EQ, ts(11), ts(11, 45), "idle"),
        state(EQ, ts(11, 45), ts(12), "running"),
        state(EQ, ts(12), ts(12, 47), "unplanned_stop", "jam"),
        state(EQ, ts(12, 47), ts(23), "running"),
    ]
    windows = [window(ts(9), ts(9, 15)), window(ts(11), ts(11, 45))]
    r = calendar_shift(spark, states, windows)
    assert (r.planned_s, r.planned_downtime_s, r.planned_busy_s) == (28800, 3600, 25200)
    assert (r.run_s, r.unplanned_downtime_s, r.idle_s) == (373 * 60, 47 * 60, 0)
    assert r.availability == pytest.approx(373 / 420)
    assert round(r.availability, 3) == 0.888


def test_a_planned_stop_inside_a_break_counts_once(spark):
    """Break 10:00–10:30 in the calendar; the machine also reports planned_stop 10:00–10:40
    (the operator closed the break late). Planned downtime = 30 min of calendar window + the
    10 min of planned_stop outside it = 40 min, not 30 + 40 = 70.
    PBT = 480 − 40 = 440 min; run = 480 − 40 = 440 min; A = 1."""
    states = [
        state(EQ, ts(6), ts(10), "running"),
        state(EQ, ts(10), ts(10, 40), "planned_stop", "break"),
        state(EQ, ts(10, 40), ts(23), "running"),
    ]
    r = calendar_shift(spark, states, [window(ts(10), ts(10, 30))])
    assert (r.planned_downtime_s, r.planned_busy_s, r.run_s) == (2400, 26400, 26400)
    assert r.availability == pytest.approx(1.0)


def test_running_through_a_break_is_production_not_downtime(spark):
    """Break 10:00–10:30 and this machine's maintenance 10:20–10:50 and 10:40–11:00: one
    planned union 10:00–11:00 of 60 min (no minute twice). The machine runs 10:00–10:20 in it,
    then idles: PDT = 60 − 20 = 40 min; PBT = 480 − 40 = 440 min; run = 440 min; A = 1.
    Another machine's maintenance 12:00–13:00 does not stop this one."""
    states = [
        state(EQ, ts(6), ts(10, 20), "running"),
        state(EQ, ts(10, 20), ts(11), "idle"),
        state(EQ, ts(11), ts(23), "running"),
    ]
    windows = [
        window(ts(10), ts(10, 30)),
        window(ts(10, 20), ts(10, 50), "planned_maintenance", eq=EQ),
        window(ts(10, 40), ts(11), "planned_maintenance", eq=EQ),
        window(ts(12), ts(13), "planned_maintenance", eq=EQ2),
    ]
    r = calendar_shift(spark, states, windows)
    assert (r.planned_downtime_s, r.run_s, r.idle_s) == (2400, 26400, 0)
    assert r.availability == pytest.approx(1.0)


def test_a_planned_stop_without_reason_is_planned_downtime_and_not_scheduled_is_not_planned(
    spark,
):
    """06:00–07:00 not_scheduled (the shift started late by plan: not planned time at all),
    07:00–08:00 planned_stop with no reason (null: still planned downtime), then running.
    planned_s = 480 − 60 = 420 min; PDT = 60 min; PBT = 360 min; run = 360 min; A = 1."""
    no_reason = state(EQ, ts(7), ts(8), "planned_stop")
    no_reason["reason_code"] = None
    states = [
        state(EQ, ts(6), ts(7), "planned_stop", "not_scheduled"),
        no_reason,
        state(EQ, ts(8), ts(23), "running"),
    ]
    r = calendar_shift(spark, states, [])
    assert (r.planned_s, r.planned_downtime_s, r.planned_busy_s) == (25200, 3600, 21600)
    assert r.run_s == 21600
    assert r.availability == pytest.approx(1.0)


def test_not_scheduled_time_inside_a_break_is_neither_planned_nor_downtime(spark):
    """The line was not scheduled 06:00–07:00 (planned_stop not_scheduled) and the calendar
    has maintenance 06:30–07:30: the 30 min of overlap are not planned time, not downtime.
    planned_s = 480 − 60 = 420 min; PDT = 60 − 30 = 30 min (07:00–07:30, idle);
    PBT = 390 min; run = 07:30–14:00 = 390 min; A = 1."""
    states = [
        state(EQ, ts(6), ts(7), "planned_stop", "not_scheduled"),
        state(EQ, ts(7), ts(7, 30), "idle"),
        state(EQ, ts(7, 30), ts(23), "running"),
    ]
    r = calendar_shift(spark, states, [window(ts(6, 30), ts(7, 30), "planned_maintenance")])
    assert (r.planned_s, r.planned_downtime_s, r.planned_busy_s) == (25200, 1800, 23400)
    assert (r.run_s, r.idle_s) == (23400, 0)
    assert r.availability == pytest.approx(1.0)


def test_quality_loss_weighs_each_part_by_its_own_ideal_cycle_time(spark):
    """1,200 good parts at 10 s ideal and 20 scrap parts at 60 s ideal in one shift:
    ideal time = 1,200 × 10 + 20 × 60 = 13,200 s; ideal time of good parts = 12,000 s;
    quality loss = 13,200 − 12,000 = 1,200 s = 20 min (a share of the mixed ideal time would
    say 13,200 × 20 / 1,220 = 216 s = 3.6 min)."""
    states = [state(EQ, ts(6), ts(23), "running")]
    counts = [
        count(EQ, ts(7), 1200, 1200, 10.0),
        {**count(EQ, ts(8), 20, 0, 60.0, scrap=20), "product_id": "P-200"},
    ]
    r = calendar_shift(spark, states, [], counts)
    assert (r.ideal_time_s, r.good_ideal_time_s) == (13200, 12000)
    assert r.quality_loss_min == pytest.approx(20.0)
    day = oee_line_day(df(spark, "gold.oee_shift", [r.asDict()])).collect()[0]
    assert day.quality_loss_min == pytest.approx(20.0)


def test_an_interval_left_open_ends_where_the_next_one_starts(spark):
    """A weekend's not_scheduled stop from Saturday whose end an earlier build did not know yet
    (end null), then running from Monday 06:00: the stop ends at 06:00, so Monday's early shift
    is fully planned: planned_s = 480 min, run = 480 min, A = 1 (not 0 planned minutes)."""
    states = [
        state(EQ, datetime(2026, 2, 28, 14), None, "planned_stop", "not_scheduled"),
        state(EQ, ts(6), ts(23), "running"),
    ]
    r = calendar_shift(spark, states, [])
    assert (r.planned_s, r.planned_busy_s, r.run_s) == (28800, 28800, 28800)
    assert r.availability == pytest.approx(1.0)
