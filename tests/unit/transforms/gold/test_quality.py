"""gold.quality: first-pass yield, scrap and rework rate from hand-made minute counts."""

from datetime import date, datetime

import pytest

from transforms.gold.quality import quality_by_product

COUNTS = (
    "equipment_id string, interval_start timestamp, product_id string, work_order_id string, "
    "produced bigint, good bigint, scrap bigint, rework bigint"
)
EQUIPMENT = "equipment_id string, site string, area string, line string, is_current boolean"
L1 = "acme.berlin.machining.line1"
CNC, PRESS = f"{L1}.cell1.cnc01", f"{L1}.cell2.press01"


def at(hhmm, day=2):
    return datetime.fromisoformat(f"2026-03-{day:02d} {hhmm}")


def test_fpy_scrap_and_rework_per_product_line_and_day(spark):
    equipment = spark.createDataFrame(
        [
            (CNC, "berlin", "machining", "line9", False),  # an old version: ignored
            (CNC, "berlin", "machining", "line1", True),
            (PRESS, "berlin", "machining", "line1", True),
        ],
        EQUIPMENT,
    )
    counts = spark.createDataFrame(
        [
            # P-100 on line1 on the 2nd, both machines: produced 60 + 40 = 100,
            # good 55 + 35 = 90, scrap 2 + 2 = 4, rework 3 + 3 = 6
            (CNC, at("06:00"), "P-100", "WO-1", 60, 55, 2, 3),
            (PRESS, at("06:01"), "P-100", "WO-1", 40, 35, 2, 3),
            # 23:59 belongs to the 2nd, 00:00 to the 3rd
            (CNC, at("23:59"), "P-200", "WO-2", 10, 8, 1, 1),
            (CNC, at("00:00", day=3), "P-200", "WO-2", 5, 5, 0, 0),
            # P-300 made nothing that day (a changeover minute): ratios null, not 0 or an error
            (PRESS, at("07:00"), "P-300", "WO-3", 0, 0, 0, 0),
            # no product recorded: 'unknown'
            (PRESS, at("08:00"), None, None, 4, 3, 1, 0),
        ],
        COUNTS,
    )
    out = quality_by_product(counts, equipment)

    line1 = ("berlin", "machining", "line1")
    d2, d3 = date(2026, 3, 2), date(2026, 3, 3)
    approx = pytest.approx
    assert [tuple(r) for r in out.orderBy("product_id", "event_date").collect()] == [
        # 90 / 100, 4 / 100, 6 / 100
        ("P-100", *line1, 100, 90, 4, 6, approx(0.9), approx(0.04), approx(0.06), d2),
        # 8 / 10, 1 / 10, 1 / 10
        ("P-200", *line1, 10, 8, 1, 1, approx(0.8), approx(0.1), approx(0.1), d2),
        ("P-200", *line1, 5, 5, 0, 0, 1.0, 0.0, 0.0, d3),
        ("P-300", *line1, 0, 0, 0, 0, None, None, None, d2),
        # 3 / 4, 1 / 4, 0 / 4
        ("unknown", *line1, 4, 3, 1, 0, 0.75, 0.25, 0.0, d2),
    ]
