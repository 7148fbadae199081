"""gold.spc: individuals chart and rule hits on hand-made series, with the arithmetic written out."""

from datetime import datetime, timedelta

import pytest

from transforms.gold.spc import spc_points

SCHEMA = (
    "inspection_id string, equipment_id string, characteristic string, measured double, "
    "inspected_at timestamp"
)
T0 = datetime(2026, 3, 2, 6, 0, 0)
CNC = "acme.berlin.machining.line1.cell1.cnc01"


def inspections(spark, series):
    """series: {characteristic: [values]}; point i of a series is inspected at T0 + i minutes."""
    rows = [
        (f"{ch}-{i:02d}", CNC, ch, float(v), T0 + timedelta(minutes=i))
        for ch, values in series.items()
        for i, v in enumerate(values, start=1)
    ]
    return spark.createDataFrame(rows, SCHEMA)


def hits(out):
    """{(characteristic, point number): rules} for the points that violate a rule."""
    return {
        (r.characteristic, int(r.inspection_id[-2:])): r.rules_violated
        for r in out.collect()
        if r.out_of_control
    }


def test_we1_and_n3_at_known_points_with_the_limits_of_the_baseline(spark):
    # points 1-5 are the baseline: 10, 12, 10, 12, 10
    #   centre = 54 / 5 = 10.8; moving ranges 2, 2, 2, 2 -> mean 2; sigma = 2 / 1.128 = 1.77305
    #   ucl = 10.8 + 3 * 1.77305 = 16.11915; lcl = 10.8 - 5.31915 = 5.48085
    #   1 sigma band 9.02695..12.57305, 2 sigma band 7.25390..14.34610
    # point 6 = 20 > ucl: WE1
    # points 7-12 = 7, 8, 9, 10, 11, 12: five rises in a row, six points increasing: N3 at point 12
    #   (7 is below 2 sigma but alone among 5, 6, 7; 7, 8, 9 are below 1 sigma: 3 of 5, not 4)
    # points 7 and 8 share a timestamp: the inspection id orders them (input rows shuffled)
    values = [10, 12, 10, 12, 10, 20, 7, 8, 9, 10, 11, 12]
    rows = [
        (f"i{i:02d}", CNC, "bore_diameter_mm", float(v), T0 + timedelta(minutes=min(i, 7)))
        for i, v in enumerate(values, start=1)
    ]
    df = spark.createDataFrame(rows[::-1], SCHEMA)

    out = spc_points(df, baseline_points=5)

    sigma = 2 / 1.128
    expected = [
        {
            "inspection_id": f"i{i:02d}",
            "equipment_id": CNC,
            "characteristic": "bore_diameter_mm",
            "inspected_at": T0 + timedelta(minutes=min(i, 7)),
            "measured": float(v),
            "centre_line": pytest.approx(10.8),
            "sigma": pytest.approx(sigma),
            "ucl": pytest.approx(10.8 + 3 * sigma),
            "lcl": pytest.approx(10.8 - 3 * sigma),
            "baseline_points": 5,
            "rules_violated": {6: ["WE1"], 12: ["N3"]}.get(i, []),
            "out_of_control": i in (6, 12),
        }
        for i, v in enumerate(values, start=1)
    ]
    assert [r.asDict() for r in out.orderBy("inspection_id").collect()] == expected


def test_we2_we3_we4_and_n4(spark):
    # a baseline of 4 points -0.846, 0.846, 0.846, -0.846: centre 0;
    # moving ranges 1.692, 0, 1.692 -> mean 1.128 -> sigma 1.0: zones at ±1, ±2, ±3
    base = [-0.846, 0.846, 0.846, -0.846]
    series = {
        # 5: 2.5, 6: 0.5, 7: 2.5 -> 2 of 3 beyond +2 sigma at 7; at 8 (0.5) only one of 6, 7, 8 is
        "we2": [*base, 2.5, 0.5, 2.5, 0.5],
        # 5-9: 1.5, 1.5, 0.5, 1.5, 1.5 -> 4 of 5 beyond +1 sigma at 9 (at 8: 3 of 4..8)
        "we3": [*base, 1.5, 1.5, 0.5, 1.5, 1.5],
        # 5-13: nine points at 0.5 above the centre (point 4 is below): 8 in a row at 12 and 13
        "we4": [*base, *[0.5] * 9],
        # points 3..16: 0.846, -0.846, 0.5, -0.5, … alternate (13 diffs, 12 sign changes): N4 at 16;
        # diff 3 (0.846 - 0.846 = 0) breaks any run before it
        "n4": [*base, *[0.5, -0.5] * 6],
    }
    out = spc_points(inspections(spark, series), baseline_points=4)

    assert hits(out) == {
        ("we2", 7): ["WE2"],
        ("we3", 9): ["WE3"],
        ("we4", 12): ["WE4"],
        ("we4", 13): ["WE4"],
        ("n4", 16): ["N4"],
    }
    limits = {r.characteristic: (r.centre_line, r.sigma) for r in out.collect()}
    assert limits == {c: (pytest.approx(0.0, abs=1e-12), pytest.approx(1.0)) for c in series}


def test_short_series_use_the_points_they_have(spark):
    # 3 points with the default baseline of 25: baseline_points = 3; centre (1 + 3 + 2) / 3 = 2,
    # moving ranges 2, 1 -> sigma 1.5 / 1.128; one point alone: centre = its value, no sigma, no rule
    out = spc_points(inspections(spark, {"short": [1, 3, 2], "single": [5]}))
    last = {
        r.characteristic: (r.baseline_points, r.centre_line, r.sigma, r.ucl, r.out_of_control)
        for r in out.collect()
    }
    s = 1.5 / 1.128
    assert last == {
        "short": (3, 2.0, pytest.approx(s), pytest.approx(2 + 3 * s), False),
        "single": (1, 5.0, None, None, False),
    }
    assert {tuple(r.rules_violated) for r in out.collect()} == {()}


def test_a_baseline_of_one_point_is_refused(spark):
    with pytest.raises(ValueError, match="at least 2"):
        spc_points(inspections(spark, {"x": [1.0]}), baseline_points=1)
