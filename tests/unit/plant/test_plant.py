"""The simulated plant: deterministic, physically plausible, and true to its own ground truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from plant.backfill import backfill
from plant.calendar import site_shifts
from plant.config import PlantConfigError, load_plant_config, parse_plant_config
from plant.model import PlantModel, oee
from plant.payloads import uns_payload

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
S0 = int(START.timestamp())


@pytest.fixture(scope="module")
def config():
    return load_plant_config()


@pytest.fixture(scope="module")
def week(config):
    """Two weeks of the plant (failures are rare events: more history, more of them)."""
    return PlantModel(config, 7, S0, S0 + 14 * 86400)


def test_the_demo_plant_is_big_enough(config):
    assert {s.timezone for s in config.sites} == {"Europe/Berlin", "America/Chicago"}
    assert len(config.lines) == 5 and config.tag_count >= 1000
    for site, area, line in config.lines:
        kinds = [e.kind for e in config.equipment if (e.site, e.area, e.line) == (site, area, line)]
        assert kinds.count("energy_meter") == 1 and 3 <= len(kinds) - 1 <= 5


def test_same_seed_same_history_and_other_seeds_differ(config, tmp_path):
    a = backfill(config, 3, 1, tmp_path / "a", START)
    b = backfill(config, 3, 1, tmp_path / "b", START)
    c = backfill(config, 4, 1, tmp_path / "c", START)
    day = "uns/date=2026-03-02/part-0.parquet"
    ta, tb, tc = (pq.read_table(p / day) for p in (a.out_dir, b.out_dir, c.out_dir))
    assert ta.equals(tb) and a.readings == b.readings
    assert not ta.equals(tc)
    assert pq.read_table(a.out_dir / "truth/shifts.parquet").equals(
        pq.read_table(b.out_dir / "truth/shifts.parquet")
    )


def test_failures_mostly_follow_rising_vibration_but_not_all(week):
    rising, total, unwarned = 0, 0, 0
    for m in week.machines:
        for f in m.timeline.failures:
            total += 1
            unwarned += not f.warned
            t = m.grid_t
            running = m.timeline.state_at(t) == 0
            before = running & (t >= f.time_s - 4 * 3600) & (t < f.time_s)
            earlier = running & (t >= f.time_s - 48 * 3600) & (t < f.time_s - 24 * 3600)
            if before.sum() > 10 and earlier.sum() > 10:
                rising += np.median(m.analog["vibration_mm_s"][before]) > 1.2 * np.median(
                    m.analog["vibration_mm_s"][earlier]
                )
    assert total >= 10
    assert rising / total >= 0.6, f"{rising}/{total} failures had rising vibration"
    assert rising < total and unwarned >= 1, "some failures come without warning"


def test_scrap_rate_rises_with_tool_wear(week):
    wear = np.concatenate([m.quality.wear_pct for m in week.machines])
    scrap = np.concatenate([m.quality.scrap for m in week.machines])
    low, mid, high = (
        scrap[(wear >= lo) & (wear < hi)].mean() for lo, hi in ((0, 30), (30, 70), (70, 200))
    )
    assert low < mid < high and high > 2 * low


def test_counters_are_monotonic_and_truth_is_consistent(week, config):
    table = week.readings(S0, S0 + 86400)
    for tag in ("parts_total", "parts_good", "parts_scrap"):
        rows = table.filter(pc.equal(table["tag"], tag))
        for eq in set(rows["equipment_id"].to_pylist()):
            values = rows.filter(pc.equal(rows["equipment_id"], eq))["value_double"].to_numpy()
            assert np.all(np.diff(values) > 0), (eq, tag)
    truth = week.truth_shifts()
    for col in ("run_s", "planned_downtime_s"):
        assert pc.all(pc.less_equal(truth[col], truth["planned_s"])).as_py()
    assert pc.all(
        pc.equal(truth["produced"], pc.add(pc.add(truth["good"], truth["scrap"]), truth["rework"]))
    ).as_py()
    k = oee(truth)
    assert all(0 < k[c] < 1 for c in ("availability", "performance", "quality", "oee"))


def test_vectorised_payloads_equal_the_scalar_ones(week):
    table = week.readings(S0 + 6 * 3600, S0 + 6 * 3600 + 600)
    rows = table.to_pylist()
    assert len(rows) > 1000
    for r in rows[:: max(len(rows) // 300, 1)]:
        value = r["value_str"] if r["value_str"] is not None else r["value_double"]
        assert uns_payload(value, r["timestamp"]) == r["payload"], r


def test_shift_calendar_follows_daylight_saving_in_both_zones(config):
    berlin = site_shifts(
        config.site("berlin"),
        int(datetime(2026, 10, 24, tzinfo=UTC).timestamp()),
        int(datetime(2026, 10, 27, tzinfo=UTC).timestamp()),
    )
    chicago = site_shifts(
        config.site("chicago"),
        int(datetime(2026, 3, 7, tzinfo=UTC).timestamp()),
        int(datetime(2026, 3, 9, tzinfo=UTC).timestamp()),
    )
    hours = {s.shift_id: s.planned_s / 3600 for s in [*berlin, *chicago]}
    assert hours["chicago-2026-03-07-third"] == 7  # clocks go forward during the night shift
    assert hours["chicago-2026-03-07-first"] == 8
    assert (
        "berlin-2026-10-24-early" not in hours and "berlin-2026-10-25-early" not in hours
    )  # weekend
    early = next(s for s in berlin if s.shift_id == "berlin-2026-10-26-early")
    assert (
        datetime.fromtimestamp(early.start_s, UTC).hour == 5
    )  # 06:00 CET after the change (was 04:00 UTC in CEST)


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d["sites"][0].update(timezone="Europe/Berlinn"), "sites[0].timezone"),
        (lambda d: d["sites"][1]["shifts"][0].update(start="7am"), "sites[1].shifts[0].start"),
        (
            lambda d: d["sites"][0]["areas"][0]["lines"][0]["equipment"][1].update(kind="robot"),
            "sites[0].areas[0].lines[0].equipment[1].kind",
        ),
        (lambda d: d.pop("enterprise"), "plant.enterprise"),
        (lambda d: d["products"][0]["ideal_cycle_s"].pop("press"), "products[0].ideal_cycle_s"),
    ],
)
def test_bad_plant_yaml_names_the_key(mutate, key):
    import yaml

    from plant.config import DEFAULT_CONFIG

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    mutate(data)
    with pytest.raises(PlantConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_plant_config(data)


def test_backfill_writes_mes_rows_with_updates(config, tmp_path):
    summary = backfill(config, 1, 1, tmp_path / "bf", START)
    orders = pq.read_table(tmp_path / "bf/mes/mes.work_orders/part-0.parquet")
    statuses = orders.group_by("work_order_id").aggregate([("status", "count")])
    assert pc.max(statuses["status_count"]).as_py() >= 2  # released, then running (and completed)
    downtime = pq.read_table(tmp_path / "bf/mes/mes.downtime_events/part-0.parquet")
    assert pc.sum(pc.is_valid(downtime["operator_comment"])).as_py() > 0
    assert summary.readings == sum(
        pq.read_metadata(p).num_rows for p in (tmp_path / "bf/uns").rglob("*.parquet")
    )
    failures = pq.read_table(tmp_path / "bf/truth/failures.parquet")
    assert failures.column_names == ["equipment_id", "time", "cause", "warned", "repair_s"]
    assert failures.num_rows == summary.failures
    if failures.num_rows:  # every failure falls in the backfilled day
        assert pc.min(failures["time"]).as_py() >= START
        assert pc.max(failures["time"]).as_py() < START + timedelta(days=1)
