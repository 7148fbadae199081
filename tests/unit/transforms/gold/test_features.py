"""gold.asset_health_features on hand-made readings, states and counts, arithmetic written out."""

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from pyspark.sql import functions as F

from lakehouse.catalog import get_table
from transforms.gold.features import asset_health_features

CNC = "acme.berlin.machining.line1.cell1.cnc01"
PRESS = "acme.berlin.machining.line1.cell2.press01"
METER = "acme.berlin.machining.line1.meter01"
TABLE = "gold.asset_health_features"


def df(spark, table, rows):
    """Rows given as dicts; absent columns are null."""
    spec = get_table(table)
    return spark.createDataFrame(
        [tuple(r.get(c) for c in spec.column_names) for r in rows], spec.schema
    )


def reading(eq, when, tag, value):
    return {
        "equipment_id": eq,
        "tag": tag,
        "event_time": when,
        "value": value,
        "event_date": when.date(),
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


def count(eq, minute, produced):
    return {
        "equipment_id": eq,
        "interval_start": minute,
        "product_id": "P-100",
        "produced": produced,
        "good": produced,
        "scrap": 0,
        "rework": 0,
        "event_date": minute.date(),
    }


def equipment(spark):
    base = {"enterprise": "acme", "site": "berlin", "area": "machining", "line": "line1"}
    rows = [
        {
            **base,
            "equipment_id": eq,
            "cell": eq.split(".")[-2],
            "name": eq.split(".")[-1],
            "kind": kind,
            "timezone": "Europe/Berlin",
            "valid_from": datetime(2026, 1, 1),
            "is_current": True,
        }
        for eq, kind in ((CNC, "cnc_mill"), (PRESS, "press"), (METER, "energy_meter"))
    ]
    return df(spark, "silver.equipment", rows)


def at(day, h, m=0, s=0):
    return datetime(2026, 3, day, h, m, s)


def test_an_hour_of_features_with_its_24_hours_from_the_day_before(spark):
    # CNC, hourly readings at minute :00 (vibration at 23:00 in two minutes, 3 and 5 mm/s)
    readings = [
        # 01:00 the day before: in the window of 03-02 00:00, 24 h before 03-02 01:00 (out of its)
        reading(CNC, at(1, 1), "vibration_mm_s", 100.0),
        reading(CNC, at(1, 20), "vibration_mm_s", 1.0),
        reading(CNC, at(1, 21), "vibration_mm_s", 2.0),
        # nothing at 22:00
        reading(CNC, at(1, 23), "vibration_mm_s", 3.0),
        reading(CNC, at(1, 23, 1), "vibration_mm_s", 5.0),
        reading(CNC, at(2, 0), "vibration_mm_s", 6.0),
        reading(CNC, at(2, 0, 0, 30), "vibration_mm_s", None),  # a null value is no reading
        reading(CNC, at(2, 1), "vibration_mm_s", 4.0),
        reading(CNC, at(2, 0), "power_kw", 3.0),
        reading(METER, at(2, 0), "power_kw", 50.0),  # an energy meter is no machine
    ]
    for hour, temperature, wear in ((at(1, 20), 50, 10), (at(1, 21), 51, 10.5), (at(1, 23), 53, 11.5), (at(2, 0), 54, 12), (at(2, 1), 55, 12.5)):  # fmt: skip
        readings += [
            reading(CNC, hour, "temperature_c", float(temperature)),
            reading(CNC, hour + timedelta(seconds=10), "tool_wear_pct", wear - 0.25),
            reading(CNC, hour + timedelta(minutes=59), "tool_wear_pct", float(wear)),  # the last
        ]
    states = [
        state(CNC, at(1, 18), at(1, 19, 30), "planned_stop", "planned_maintenance"),
        state(CNC, at(1, 19, 30), at(1, 20, 0), "planned_stop", "changeover"),  # not maintenance
        state(CNC, at(2, 0), at(2, 0, 10), "planned_stop", "planned_maintenance"),  # still open
        state(CNC, at(2, 0, 10), at(2, 0, 20), "unplanned_stop", "jam"),
        state(CNC, at(2, 0, 20), at(2, 1, 30), "running"),
    ]
    states[2]["end_time"] = None
    out = asset_health_features(
        df(spark, "silver.readings", readings),
        df(spark, "silver.equipment_states", states),
        df(spark, "silver.production_counts", [count(CNC, at(2, 0, 30), 7)]),
        equipment(spark),
        day_from=date(2026, 3, 2),
        day_to=date(2026, 3, 2),
    )
    rows = [r.asDict() for r in out.orderBy("hour_start").collect()]
    base = {"equipment_id": CNC, "kind": "cnc_mill", "event_date": date(2026, 3, 2)}
    assert rows == [
        {
            **base,
            "hour_start": at(2, 0),
            "vibration_mean_mm_s": 6.0,
            "vibration_std_mm_s": None,  # one minute
            "vibration_max_mm_s": 6.0,
            # window (03-01 00:00, 03-02 00:00]: minutes 100, 1, 2, 3, 5, 6 → 117 / 6
            "vibration_mean_24h_mm_s": pytest.approx(19.5),
            "vibration_trend_24h_mm_s": pytest.approx(6 - 19.5),
            "vibration_max_24h_mm_s": 100.0,
            # hourly means 100, 1, 2, 4, 6 at hours -23, -4, -3, -1, 0 from 00:00:
            # t̄ = -31/5 = -6.2, v̄ = 113/5 = 22.6
            # Σ(t − t̄)(v − v̄) = (-16.8)(77.4) + (2.2)(-21.6) + (3.2)(-20.6) + (5.2)(-18.6) + (6.2)(-16.6) = -1613.4
            # Σ(t − t̄)² = 282.24 + 4.84 + 10.24 + 27.04 + 38.44 = 362.8
            "vibration_slope_24h_mm_s_per_h": pytest.approx(-1613.4 / 362.8),
            "temperature_mean_c": 54.0,
            "temperature_max_c": 54.0,
            "temperature_mean_24h_c": pytest.approx((50 + 51 + 53 + 54) / 4),
            "temperature_slope_24h_c_per_h": pytest.approx(1.0),  # 50 + 1 °C per hour
            "power_mean_kw": 3.0,
            "tool_wear_pct": 12.0,  # the last reading of the hour (00:59), not 11.75 at 00:00:10
            "tool_wear_rate_24h_pct_per_h": pytest.approx(0.5),  # 10 + 0.5 % per hour
            "run_s": 2400.0,  # running 00:20–01:00
            "unplanned_stops": 1,
            "parts_produced": 7,
            "hours_since_maintenance": pytest.approx(4.5),  # ended 03-01 19:30; the open one not
        },
        {
            **base,
            "hour_start": at(2, 1),
            "vibration_mean_mm_s": 4.0,
            "vibration_std_mm_s": None,
            "vibration_max_mm_s": 4.0,
            # window (03-01 01:00, 03-02 01:00]: minutes 1, 2, 3, 5, 6, 4 → 21 / 6 = 3.5 (the
            # mean of hourly means would be 17 / 5 = 3.4: an hour weighs by its minutes)
            "vibration_mean_24h_mm_s": pytest.approx(3.5),
            "vibration_trend_24h_mm_s": pytest.approx(0.5),
            "vibration_max_24h_mm_s": 6.0,
            # hourly means 1, 2, 4, 6, 4 at hours 0, 1, 3, 4, 5 from 20:00: t̄ = 2.6, v̄ = 3.4
            # Σ(t − t̄)(v − v̄) = 6.24 + 2.24 + 0.24 + 3.64 + 1.44 = 13.8
            # Σ(t − t̄)² = 6.76 + 2.56 + 0.16 + 1.96 + 5.76 = 17.2
            "vibration_slope_24h_mm_s_per_h": pytest.approx(13.8 / 17.2),
            "temperature_mean_c": 55.0,
            "temperature_max_c": 55.0,
            "temperature_mean_24h_c": pytest.approx((50 + 51 + 53 + 54 + 55) / 5),
            "temperature_slope_24h_c_per_h": pytest.approx(1.0),
            "power_mean_kw": None,
            "tool_wear_pct": 12.5,
            "tool_wear_rate_24h_pct_per_h": pytest.approx(0.5),
            "run_s": 1800.0,
            "unplanned_stops": 0,
            "parts_produced": 0,
            "hours_since_maintenance": pytest.approx(5.5),
        },
    ]


# -- a day built alone equals the same day built in a longer span -----------------------------
def plant(spark, first=date(2026, 2, 26), days=6):
    """Two machines with readings every 10 minutes over `days` days, states and counts."""
    rng = np.random.default_rng(3)
    readings, states, counts = [], [], []
    start = datetime.combine(first, datetime.min.time())
    for eq in (CNC, PRESS):
        for i in range(days * 144):
            t = start + timedelta(minutes=10 * i)
            if rng.random() < 0.1:  # gaps
                continue
            readings += [
                reading(eq, t, "vibration_mm_s", float(rng.lognormal(0, 0.3))),
                reading(eq, t, "temperature_c", float(40 + 0.01 * i + rng.normal())),
                reading(eq, t, "power_kw", float(rng.normal(10, 1))),
                reading(eq, t, "tool_wear_pct", 0.002 * (i % 500)),  # a tool change every 500
            ]
        for d in range(days):
            day = start + timedelta(days=d)
            states += [
                state(eq, day, day + timedelta(hours=8), "running"),
                state(eq, day + timedelta(hours=8), day + timedelta(hours=9), "unplanned_stop"),
                state(eq, day + timedelta(hours=9), day + timedelta(hours=23), "running"),
            ]
            counts.append(count(eq, day + timedelta(hours=10), 50 + d))
        m = start + timedelta(days=1, hours=23)  # planned maintenance once, on the 2nd day
        states.append(
            state(eq, m, m + timedelta(minutes=45), "planned_stop", "planned_maintenance")
        )
    return {
        "silver.readings": df(spark, "silver.readings", readings),
        "silver.equipment_states": df(spark, "silver.equipment_states", states),
        "silver.production_counts": df(spark, "silver.production_counts", counts),
        "silver.equipment": equipment(spark),
    }


def build(tables, first, last):
    """The build of days [first, last] given what the catalog declares it reads (as
    orchestration.steps.read_input reads it)."""
    frames = []
    for r in get_table(TABLE).build.reads:
        frame = tables[r.table]
        if not r.whole:
            low, high = first - timedelta(days=r.before), last + timedelta(days=r.after)
            frame = frame.where(F.col("event_date").between(F.lit(low), F.lit(high)))
        if r.tags:
            frame = frame.where(F.col("tag").isin(*r.tags))
        frames.append(frame)
    return asset_health_features(*frames, day_from=first, day_to=last)


def rows_of(out, day):
    rows = out.where(F.col("event_date") == F.lit(day)).collect()
    return {(r.equipment_id, r.hour_start): r.asDict() for r in rows}


def test_a_day_built_alone_equals_the_day_built_within_a_longer_span(spark):
    tables = plant(spark)
    day = date(2026, 3, 1)
    alone = rows_of(build(tables, day, day), day)
    within = rows_of(build(tables, date(2026, 2, 28), date(2026, 3, 3)), day)
    assert len(alone) == 48 and alone.keys() == within.keys()
    for key, row in alone.items():
        assert row == {
            c: pytest.approx(v, rel=1e-9) if isinstance(v, float) else v
            for c, v in within[key].items()
        }, key
    first_hour = alone[(CNC, datetime(2026, 3, 1, 0))]
    # its window reaches into the day before: 24 hours of data, more than the hour's own
    assert first_hour["vibration_max_24h_mm_s"] > first_hour["vibration_max_mm_s"]
    assert first_hour["hours_since_maintenance"] == pytest.approx(24.25)  # ended 02-27 23:45


def test_no_readings_give_no_rows(spark):
    tables = plant(spark, days=1)
    readings = tables["silver.readings"].where("false")
    out = asset_health_features(
        readings,
        tables["silver.equipment_states"],
        tables["silver.production_counts"],
        tables["silver.equipment"],
        day_from=date(2026, 2, 26),
        day_to=date(2026, 2, 26),
    )
    assert out.columns == get_table(TABLE).column_names and out.count() == 0
