"""gold.downtime_pareto: stops per line, day, state and reason from hand-made intervals."""

from datetime import date, datetime

from transforms.gold.downtime import downtime_pareto

STATES = (
    "equipment_id string, start_time timestamp, end_time timestamp, duration_s double, "
    "state string, reason_code string"
)
EQUIPMENT = (
    "equipment_id string, site string, area string, line string, cell string, kind string, "
    "valid_from timestamp, valid_to timestamp, is_current boolean"
)
L1 = "acme.berlin.machining.line1"
L2 = "acme.berlin.machining.line2"
CNC, PRESS, MILL = f"{L1}.cell1.cnc01", f"{L1}.cell2.press01", f"{L2}.cell1.mill01"
V0, V1 = datetime(2025, 1, 1), datetime(2026, 3, 1)


def interval(eq, start, end, state, reason):
    s, e = datetime.fromisoformat(start), end and datetime.fromisoformat(end)
    return (eq, s, e, e and (e - s).total_seconds(), state, reason)


def test_pareto_counts_and_minutes_per_line_day_state_and_reason(spark):
    equipment = spark.createDataFrame(
        [
            # cnc01 was on line2 until March; only the current version places it
            (CNC, "berlin", "machining", "line2", "cell1", "cnc_mill", V0, V1, False),
            (CNC, "berlin", "machining", "line1", "cell1", "cnc_mill", V1, None, True),
            (PRESS, "berlin", "machining", "line1", "cell2", "press", V0, None, True),
            (MILL, "berlin", "machining", "line2", "cell1", "cnc_mill", V0, None, True),
        ],
        EQUIPMENT,
    )
    states = spark.createDataFrame(
        [
            interval(CNC, "2026-03-02 08:00", "2026-03-02 08:10", "unplanned_stop", "jam"),
            interval(PRESS, "2026-03-02 09:00", "2026-03-02 09:05", "unplanned_stop", "jam"),
            interval(CNC, "2026-03-02 10:00", "2026-03-02 10:30", "changeover", "product_change"),
            interval(CNC, "2026-03-02 11:00", "2026-03-02 11:03", "idle", None),  # -> unknown
            interval(PRESS, "2026-03-02 11:00", "2026-03-02 11:01", "idle", ""),  # -> unknown
            # starts 23:50 on the 2nd, ends on the 3rd: all 20 min on the 2nd
            interval(PRESS, "2026-03-02 23:50", "2026-03-03 00:10", "unplanned_stop", "jam"),
            interval(PRESS, "2026-03-03 06:00", None, "unplanned_stop", "breakdown"),  # open
            interval(MILL, "2026-03-02 08:00", "2026-03-02 08:45", "unplanned_stop", "breakdown"),
            # not stops
            interval(CNC, "2026-03-02 06:00", "2026-03-02 08:00", "running", ""),
            interval(CNC, "2026-03-02 12:00", "2026-03-02 12:30", "planned_stop", "break"),
        ],
        STATES,
    )
    out = downtime_pareto(states, equipment)

    d2, d3 = date(2026, 3, 2), date(2026, 3, 3)
    rows = sorted(tuple(r) for r in out.collect())
    assert rows == [
        # line1, 2nd: jams 10 + 5 + 20 = 35 min in 3 stops; changeover 30 min;
        # idle without reason 3 + 1 = 4 min in 2 stops
        ("berlin", "machining", "line1", "changeover", "product_change", 1, 30.0, d2),
        ("berlin", "machining", "line1", "idle", "unknown", 2, 4.0, d2),
        ("berlin", "machining", "line1", "unplanned_stop", "breakdown", 1, 0.0, d3),  # open: 0 min
        ("berlin", "machining", "line1", "unplanned_stop", "jam", 3, 35.0, d2),
        ("berlin", "machining", "line2", "unplanned_stop", "breakdown", 1, 45.0, d2),
    ]


def test_stops_of_unknown_equipment_are_kept_without_a_line(spark):
    equipment = spark.createDataFrame([], EQUIPMENT)
    states = spark.createDataFrame(
        [interval(CNC, "2026-03-02 08:00", "2026-03-02 08:06", "unplanned_stop", "jam")], STATES
    )
    rows = [tuple(r) for r in downtime_pareto(states, equipment).collect()]
    assert rows == [(None, None, None, "unplanned_stop", "jam", 1, 6.0, date(2026, 3, 2))]
