"""gold.reliability: MTBF and MTTR from hand-made state intervals, with the arithmetic written out."""

from datetime import date, datetime

import pytest

from transforms.gold.reliability import reliability

SCHEMA = (
    "equipment_id string, start_time timestamp, end_time timestamp, duration_s double, "
    "state string, reason_code string"
)
CNC = "acme.berlin.machining.line1.cell1.cnc01"
PRESS = "acme.berlin.machining.line1.cell2.press01"


def interval(eq, start, end, state, reason=""):
    s, e = datetime.fromisoformat(start), end and datetime.fromisoformat(end)
    return (eq, s, e, e and (e - s).total_seconds(), state, reason)


def test_mtbf_and_mttr_with_a_failure_split_across_a_shift_change(spark):
    rows = [
        interval(CNC, "2026-03-02 06:00", "2026-03-02 13:00", "running"),  # 7 h
        # one breakdown split at the 14:00 shift change: 1 h + 0.5 h = 5400 s, ONE failure
        interval(CNC, "2026-03-02 13:00", "2026-03-02 14:00", "unplanned_stop", "breakdown"),
        interval(CNC, "2026-03-02 14:00", "2026-03-02 14:30", "unplanned_stop", "breakdown"),
        interval(CNC, "2026-03-02 14:30", "2026-03-02 20:00", "running"),  # 5.5 h
        interval(CNC, "2026-03-02 20:00", "2026-03-02 20:30", "unplanned_stop", "electrical_fault"),
        interval(CNC, "2026-03-02 20:30", "2026-03-02 22:00", "running"),  # 1.5 h
        interval(
            CNC, "2026-03-02 22:00", "2026-03-02 22:10", "unplanned_stop", "jam"
        ),  # no failure
        interval(CNC, "2026-03-02 22:10", "2026-03-02 23:00", "planned_stop", "maintenance"),
        # starts in March, ends in April: all 2 h count in March
        interval(CNC, "2026-03-31 23:00", "2026-04-01 01:00", "running"),
        interval(CNC, "2026-04-01 01:00", "2026-04-01 05:00", "running"),  # 4 h in April
        interval(CNC, "2026-04-01 05:00", None, "running"),  # open: no time yet
    ]
    out = reliability(spark.createDataFrame(rows, SCHEMA))

    # March: operating 7 + 5.5 + 1.5 + 2 = 16 h = 57600 s; failures: breakdown (5400 s) and
    #   electrical_fault (1800 s) = 2, repair 7200 s; MTBF 16 h / 2 = 8 h; MTTR 2 h / 2 = 1 h
    # April: operating 4 h = 14400 s, no failure: MTBF and MTTR null
    assert [r.asDict() for r in out.orderBy("month").collect()] == [
        {
            "equipment_id": CNC,
            "month": date(2026, 3, 1),
            "operating_s": 57600.0,
            "failures": 2,
            "repair_s": 7200.0,
            "mtbf_h": pytest.approx(8.0),
            "mttr_h": pytest.approx(1.0),
        },
        {
            "equipment_id": CNC,
            "month": date(2026, 4, 1),
            "operating_s": 14400.0,
            "failures": 0,
            "repair_s": 0.0,
            "mtbf_h": None,
            "mttr_h": None,
        },
    ]


def test_what_makes_separate_failures(spark):
    rows = [
        interval(PRESS, "2026-03-05 06:00", "2026-03-05 09:00", "running"),  # 3 h
        # breakdown then, adjacent, an electrical fault: another reason, another failure
        interval(PRESS, "2026-03-05 09:00", "2026-03-05 09:40", "unplanned_stop", "breakdown"),
        interval(
            PRESS, "2026-03-05 09:40", "2026-03-05 10:00", "unplanned_stop", "electrical_fault"
        ),
        interval(PRESS, "2026-03-05 10:00", "2026-03-05 12:00", "running"),  # 2 h
        # two breakdowns with a running gap between them: two failures
        interval(PRESS, "2026-03-05 12:00", "2026-03-05 12:10", "unplanned_stop", "breakdown"),
        interval(PRESS, "2026-03-05 12:10", "2026-03-05 13:00", "running"),  # 50 min
        interval(PRESS, "2026-03-05 13:00", "2026-03-05 13:20", "unplanned_stop", "breakdown"),
        interval(PRESS, "2026-03-05 13:20", "2026-03-05 14:00", "running"),  # 40 min
        # an open breakdown: a failure, no repair time yet
        interval(PRESS, "2026-03-05 14:00", None, "unplanned_stop", "breakdown"),
    ]
    out = reliability(spark.createDataFrame(rows, SCHEMA)).first()
    # operating 3 h + 2 h + 50 min + 40 min = 6.5 h = 23400 s
    # failures 5: 40 min + 20 min + 10 min + 20 min + open (0) = 90 min = 5400 s
    # MTBF 6.5 h / 5 = 1.3 h; MTTR 1.5 h / 5 = 0.3 h
    assert (out.operating_s, out.failures, out.repair_s) == (23400.0, 5, 5400.0)
    assert (out.mtbf_h, out.mttr_h) == (pytest.approx(1.3), pytest.approx(0.3))


def test_failure_reasons_are_a_parameter(spark):
    rows = [
        interval(PRESS, "2026-03-05 06:00", "2026-03-05 08:00", "running"),
        interval(PRESS, "2026-03-05 08:00", "2026-03-05 08:30", "unplanned_stop", "jam"),
        interval(PRESS, "2026-03-05 08:30", "2026-03-05 09:00", "unplanned_stop", "breakdown"),
    ]
    out = reliability(spark.createDataFrame(rows, SCHEMA), failure_reasons=("jam",)).first()
    # only the jam: 1 failure of 1800 s after 2 h running: MTBF 2 h, MTTR 0.5 h
    assert (out.failures, out.repair_s, out.mtbf_h, out.mttr_h) == (1, 1800.0, 2.0, 0.5)


def test_a_repair_that_runs_through_a_break_or_the_night_is_one_failure(spark):
    from transforms.gold.reliability import failure_events

    rows = [
        interval(PRESS, "2026-03-05 09:00", "2026-03-05 10:00", "running"),
        # a breakdown repaired through the break: 15 min + 15 min of repair, ONE failure
        interval(PRESS, "2026-03-05 10:00", "2026-03-05 10:15", "unplanned_stop", "breakdown"),
        interval(PRESS, "2026-03-05 10:15", "2026-03-05 10:45", "planned_stop", "break"),
        interval(PRESS, "2026-03-05 10:45", "2026-03-05 11:00", "unplanned_stop", "breakdown"),
        interval(PRESS, "2026-03-05 11:00", "2026-03-05 21:00", "running"),
        # and through the night: 1 h before the shift ends, 30 min in the morning
        interval(PRESS, "2026-03-05 21:00", "2026-03-05 22:00", "unplanned_stop", "breakdown"),
        interval(PRESS, "2026-03-05 22:00", "2026-03-06 06:00", "planned_stop", "not_scheduled"),
        interval(PRESS, "2026-03-06 06:00", "2026-03-06 06:30", "unplanned_stop", "breakdown"),
        interval(PRESS, "2026-03-06 06:30", "2026-03-06 08:00", "running"),
        # a gap in the data between two breakdown pieces: not known to be one failure
        interval(PRESS, "2026-03-06 08:00", "2026-03-06 08:10", "unplanned_stop", "breakdown"),
        interval(PRESS, "2026-03-06 08:20", "2026-03-06 08:30", "unplanned_stop", "breakdown"),
    ]
    events = failure_events(spark.createDataFrame(rows, SCHEMA)).orderBy("start_time").collect()
    assert [(str(e.start_time), str(e.end_time), e.repair_s) for e in events] == [
        ("2026-03-05 10:00:00", "2026-03-05 11:00:00", 1800.0),
        ("2026-03-05 21:00:00", "2026-03-06 06:30:00", 5400.0),
        ("2026-03-06 08:00:00", "2026-03-06 08:10:00", 600.0),
        ("2026-03-06 08:20:00", "2026-03-06 08:30:00", 600.0),
    ]
