"""gold.energy: a line meter's counter with a reset, and the good units of the line's last cell."""

from datetime import date, datetime

import pytest

from transforms.gold.energy import energy_by_line

READINGS = "equipment_id string, tag string, event_time timestamp, value double, quality string"
COUNTS = "equipment_id string, interval_start timestamp, product_id string, good bigint"
EQUIPMENT = (
    "equipment_id string, site string, area string, line string, cell string, kind string, "
    "is_current boolean"
)
L1, L2 = "acme.berlin.machining.line1", "acme.berlin.machining.line2"
METER1, METER2 = f"{L1}.meter.energy", f"{L2}.meter.energy"
CNC, PRESS, WASH = f"{L1}.cell1.cnc01", f"{L1}.cell2.press01", f"{L1}.cell3.wash01"
MILL, WASH2 = f"{L2}.cell9.mill01", f"{L2}.cell10.wash01"


def at(text):
    return datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def inputs(spark):
    equipment = spark.createDataFrame(
        [
            (METER1, "berlin", "machining", "line1", "meter", "energy_meter", True),
            (CNC, "berlin", "machining", "line1", "cell1", "cnc_mill", True),
            (PRESS, "berlin", "machining", "line1", "cell2", "press", True),
            (WASH, "berlin", "machining", "line1", "cell3", "washer", True),
            (METER2, "berlin", "machining", "line2", "meter", "energy_meter", True),
            (MILL, "berlin", "machining", "line2", "cell9", "cnc_mill", True),
            (WASH2, "berlin", "machining", "line2", "cell10", "washer", True),  # after cell9
        ],
        EQUIPMENT,
    )
    readings = spark.createDataFrame(
        [
            (METER1, "energy_kwh", at("2026-03-01 23:00"), 100.0, "good"),  # before day_from
            (METER1, "energy_kwh", at("2026-03-02 00:00"), 130.0, "good"),  # +30 on the 2nd
            (METER1, "energy_kwh", at("2026-03-02 06:00"), 160.0, "good"),  # +30
            (METER1, "energy_kwh", at("2026-03-02 06:10"), 5.0, "good"),  # reset: +5 from 0
            (METER1, "energy_kwh", at("2026-03-02 09:00"), 0.0, "bad"),  # skipped
            (METER1, "energy_kwh", at("2026-03-02 12:00"), 20.0, "uncertain"),  # +15
            (METER1, "energy_kwh", at("2026-03-03 00:00"), 30.0, "good"),  # +10 on the 3rd
            (METER1, "energy_kwh", at("2026-03-03 08:00"), 50.0, "good"),  # +20
            (METER1, "energy_kwh", at("2026-03-04 01:00"), 60.0, "good"),  # +10 on the 4th
            (METER1, "power_kw", at("2026-03-02 06:00"), 42.0, "good"),  # another tag
            (CNC, "energy_kwh", at("2026-03-02 06:00"), 999.0, "good"),  # not a meter
            (METER2, "energy_kwh", at("2026-03-02 00:00"), 10.0, "good"),
            (METER2, "energy_kwh", at("2026-03-02 12:00"), 22.0, "good"),  # +12 on the 2nd
        ],
        READINGS,
    )
    counts = spark.createDataFrame(
        [
            (WASH, at("2026-03-02 06:00"), "P-100", 150),
            (WASH, at("2026-03-02 23:59"), "P-100", 250),
            (CNC, at("2026-03-02 06:00"), "P-100", 999),  # not the last cell
            (CNC, at("2026-03-03 06:00"), "P-100", 999),  # the 3rd: nothing left the line
            (WASH2, at("2026-03-02 07:00"), "P-200", 6),
            (MILL, at("2026-03-02 07:00"), "P-200", 1000),  # cell9 comes before cell10
        ],
        COUNTS,
    )
    return readings, counts, equipment


def test_energy_per_line_and_day_with_a_counter_reset(inputs):
    out = energy_by_line(*inputs, day_from="2026-03-02", day_to=date(2026, 3, 3))

    line1, line2 = ("berlin", "machining", "line1"), ("berlin", "machining", "line2")
    assert [tuple(r) for r in out.orderBy("line", "event_date").collect()] == [
        # 130-100 + 160-130 + 5 (reset, from 0) + 20-5 = 30 + 30 + 5 + 15 = 80 kWh;
        # cell3 good 150 + 250 = 400 -> 80 / 400 = 0.2 kWh per good unit
        (*line1, 80.0, 400, pytest.approx(0.2), date(2026, 3, 2)),
        # 30-20 + 50-30 = 10 + 20 = 30 kWh; no good unit from cell3: ratio null
        (*line1, 30.0, 0, None, date(2026, 3, 3)),
        # 22 - 10 = 12 kWh; cell10 good 6 -> 12 / 6 = 2.0
        (*line2, 12.0, 6, 2.0, date(2026, 3, 2)),
    ]


def test_without_a_day_range_every_day_with_a_delta(inputs):
    out = energy_by_line(*inputs)
    # the 1st has only the first reading (no delta): absent; the 4th: 60 - 50 = 10 kWh
    assert [
        (r.line, r.event_date, r.energy_kwh) for r in out.orderBy("line", "event_date").collect()
    ] == [
        ("line1", date(2026, 3, 2), 80.0),
        ("line1", date(2026, 3, 3), 30.0),
        ("line1", date(2026, 3, 4), 10.0),
        ("line2", date(2026, 3, 2), 12.0),
    ]
