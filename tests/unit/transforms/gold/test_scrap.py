"""gold.scrap_pareto: a line's scrap ranked by machine and product, from hand-made minute counts."""

from datetime import date, datetime

import pytest

from transforms.gold.scrap import scrap_pareto

COUNTS = (
    "equipment_id string, interval_start timestamp, product_id string, work_order_id string, "
    "produced bigint, good bigint, scrap bigint, rework bigint"
)
EQUIPMENT = "equipment_id string, site string, area string, line string, is_current boolean"
L1 = "acme.berlin.machining.line1"
CNC, PRESS, WASH = f"{L1}.cell1.cnc01", f"{L1}.cell2.press01", f"{L1}.cell3.wash01"
D2 = date(2026, 3, 2)


def at(hhmm, day=2):
    return datetime.fromisoformat(f"2026-03-{day:02d} {hhmm}")


def test_scrap_ranked_per_line_and_day_with_cumulative_share(spark):
    equipment = spark.createDataFrame(
        [
            (CNC, "berlin", "machining", "line9", False),  # an old version: ignored
            (CNC, "berlin", "machining", "line1", True),
            (PRESS, "berlin", "machining", "line1", True),
            (WASH, "berlin", "machining", "line1", True),
        ],
        EQUIPMENT,
    )
    counts = spark.createDataFrame(
        [
            # line1 on the 2nd: press01 P-100 scrap 4 + 2 = 6, cnc01 P-100 scrap 3,
            # cnc01 without a product 1 -> line scrap 10
            (PRESS, at("06:00"), "P-100", "WO-1", 50, 44, 4, 2),
            (PRESS, at("07:00"), "P-100", "WO-1", 50, 48, 2, 0),
            (CNC, at("06:00"), "P-100", "WO-1", 60, 57, 3, 0),
            (CNC, at("08:00"), None, None, 5, 4, 1, 0),
            # wash01 scrapped nothing: not listed
            (WASH, at("06:00"), "P-100", "WO-1", 100, 99, 0, 1),
            # 00:00 on the 3rd is the 3rd's: its own ranking
            (CNC, at("00:00", day=3), "P-100", "WO-1", 10, 8, 2, 0),
            # a machine not in silver.equipment has no line: left out
            ("acme.berlin.x.y.z.ghost", at("06:00"), "P-100", "WO-1", 9, 0, 9, 0),
        ],
        COUNTS,
    )
    rows = scrap_pareto(counts, equipment).orderBy("event_date", "rank").collect()
    got = [
        (
            r.event_date,
            r.rank,
            r.equipment_id.rsplit(".", 1)[1],
            r.product_id,
            r.produced,
            r.scrap,
            r.rework,
            r.scrap_rate,
            r.share_of_line_scrap,
            r.cumulative_share,
        )
        for r in rows
    ]
    assert got == [
        # 6 of 10 -> share 0.6, cumulative 0.6; scrap rate 6 / 100
        (D2, 1, "press01", "P-100", 100, 6, 2, 0.06, 0.6, 0.6),
        # 3 of 10 -> 0.3; cumulative (6 + 3) / 10 = 0.9; rate 3 / 60
        (D2, 2, "cnc01", "P-100", 60, 3, 0, 0.05, 0.3, pytest.approx(0.9)),
        # 1 of 10 -> 0.1; cumulative 1.0; rate 1 / 5
        (D2, 3, "cnc01", "unknown", 5, 1, 0, 0.2, 0.1, 1.0),
        (date(2026, 3, 3), 1, "cnc01", "P-100", 10, 2, 0, 0.2, 1.0, 1.0),
    ]
    assert {(r.site, r.area, r.line) for r in rows} == {("berlin", "machining", "line1")}


def test_a_tie_in_scrap_ranks_by_machine_then_product(spark):
    equipment = spark.createDataFrame(
        [
            (CNC, "berlin", "machining", "line1", True),
            (PRESS, "berlin", "machining", "line1", True),
        ],
        EQUIPMENT,
    )
    counts = spark.createDataFrame(
        [
            (PRESS, at("06:00"), "P-100", "WO-1", 10, 8, 2, 0),
            (CNC, at("06:00"), "P-200", "WO-2", 10, 8, 2, 0),
            (CNC, at("07:00"), "P-100", "WO-1", 10, 8, 2, 0),
        ],
        COUNTS,
    )
    rows = scrap_pareto(counts, equipment).orderBy("rank").collect()
    assert [(r.rank, r.equipment_id.rsplit(".", 1)[1], r.product_id) for r in rows] == [
        (1, "cnc01", "P-100"),
        (2, "cnc01", "P-200"),
        (3, "press01", "P-100"),
    ]
    assert [round(r.cumulative_share, 4) for r in rows] == [0.3333, 0.6667, 1.0]
