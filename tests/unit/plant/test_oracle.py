"""The oracle: failure and defect probabilities from the simulator's own state, calibrated, keyed
as the lake keys its rows, and read without changing a single draw of the simulator."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from plant.config import load_plant_config
from plant.model import PlantModel
from plant.oracle import (
    HourOutsideSimulationError,
    UnknownEquipmentError,
    defect_oracle,
    defect_probability,
    failure_oracle,
    failure_probability,
)

S0 = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())  # a Monday
DAY = 86400
HORIZON_H = 24.0


@pytest.fixture(scope="module")
def config():
    return load_plant_config()


@pytest.fixture(scope="module")
def plants(config):
    """Three 28-day plants: failures are rare (about 90 a plant), so calibration needs many."""
    return [PlantModel(config, seed, S0, S0 + 28 * DAY) for seed in (1, 2, 3)]


@pytest.fixture(scope="module")
def month(plants):
    return plants[0]


def _hours(model: PlantModel) -> pd.DataFrame:
    """Every equipment-hour of the model, as gold.asset_health_features keys them."""
    hours = pd.to_datetime(np.arange(model.start_s, model.end_s, 3600), unit="s")
    return pd.DataFrame(
        [(m.spec.equipment_id, h) for m in model.machines for h in hours],
        columns=["equipment_id", "hour_start"],
    )


def _labels(model: PlantModel, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A failure starts in [T, T + 24 h] (T the hour end); T inside a repair; from the model."""
    end = ((rows["hour_start"] - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).to_numpy() + 3600
    fails = np.zeros(len(rows), bool)
    repairing = np.zeros(len(rows), bool)
    for m in model.machines:
        mine = (rows["equipment_id"] == m.spec.equipment_id).to_numpy()
        for f in m.timeline.failures:
            t = end[mine]
            fails[mine] |= (f.time_s >= t) & (f.time_s <= t + HORIZON_H * 3600)
            repairing[mine] |= (f.time_s < t) & (t < f.time_s + f.repair_s)
    return fails, repairing


def _scored(model: PlantModel):
    rows = _hours(model)
    p = failure_probability(model, rows["equipment_id"], rows["hour_start"], HORIZON_H)
    y, repairing = _labels(model, rows)
    end = rows["hour_start"] + pd.Timedelta(hours=1)
    known = (end + pd.Timedelta(hours=HORIZON_H) <= pd.Timestamp(model.end_s, unit="s")).to_numpy()
    keep = known & ~repairing  # as training and evaluation keep them
    return p[keep], y[keep]


def test_failure_oracle_is_calibrated_and_beats_the_base_rate(plants):
    scored = [_scored(model) for model in plants]
    p, y = (np.concatenate(parts) for parts in zip(*scored, strict=True))
    base = y.mean()
    assert 0.1 < base < 0.3  # failures do happen: about 90 per plant of 17 machines
    # Over 100 simulated 28-day plants the mean prediction minus the observed rate had mean
    # 0.0009 and sd 0.012: failures are few and each labels up to 24 hours, so one plant's rate
    # is noisy. Pooling three: sd about 0.007, and 0.02 is about 3 sd. (A running share of 1
    # misses by +0.035 here, leaving out electrical faults by -0.043.)
    assert abs(p.mean() - base) < 0.02
    brier, brier_base = np.mean((p - y) ** 2), np.mean((base - y) ** 2)
    assert brier < 0.75 * brier_base  # measured: about 0.45 of the base rate's
    assert average_precision_score(y, p) > 2 * base  # measured: PR-AUC about 0.8 at base 0.18


def test_failure_oracle_is_calibrated_when_maintenance_resets_wear(config):
    """The demo plant's maintenance day never falls on a worked day; here it comes every other
    day, so cycles end at maintenance and start afresh inside horizons."""
    every_other_day = dataclasses.replace(
        config,
        sites=tuple(dataclasses.replace(s, maintenance_every_days=2) for s in config.sites),
    )
    model = PlantModel(every_other_day, 5, S0, S0 + 28 * DAY)
    assert any(
        sh.maintenance_end_s > sh.start_s for shifts in model.shifts.values() for sh in shifts
    )
    p, y = _scored(model)
    # 60 such 28-day plants: mean prediction 0.054, observed 0.054, sd of the difference 0.010
    assert abs(p.mean() - y.mean()) < 0.03
    assert np.mean((p - y) ** 2) < np.mean((y.mean() - y) ** 2)
    assert average_precision_score(y, p) > 1.5 * y.mean()


def test_the_state_at_an_hour_end_does_not_depend_on_later_draws(config, month):
    """Two weeks of the same plant are the month's first two: the wear and wear rate read at
    their hour ends are the same; only the running share (a constant per machine, estimated
    from the whole timeline) moves the probabilities a little."""
    fortnight = PlantModel(config, month.seed, S0, S0 + 14 * DAY)
    rows = _hours(fortnight)
    rows = rows[rows["hour_start"] < pd.Timestamp(S0 + 13 * DAY, unit="s")]
    a = failure_oracle(fortnight, rows["equipment_id"], rows["hour_start"])
    b = failure_oracle(month, rows["equipment_id"], rows["hour_start"])
    assert np.array_equal(a["wear_pct"], b["wear_pct"])
    assert np.array_equal(a["wear_per_run_h"], b["wear_per_run_h"])
    assert np.abs(a["p_failure"] - b["p_failure"]).max() < 0.05


def test_the_wear_read_at_a_shift_end_is_the_simulators(month):
    """Where a machine ran until its shift ended, the simulator recorded its wear at that very
    second; the oracle's wear at that hour end is that number."""
    rows, recorded = [], []
    for m in month.machines:
        tl = m.timeline
        for sh in month.shifts[m.spec.site]:
            at = np.flatnonzero(tl.wear_t == sh.end_s)
            if len(at) and sh.end_s < month.end_s:
                rows.append((m.spec.equipment_id, pd.Timestamp(sh.end_s - 3600, unit="s")))
                recorded.append(tl.wear_v[at[0]])
    assert len(rows) > 200
    eq, hours = zip(*rows, strict=True)
    got = failure_oracle(month, list(eq), list(hours))["wear_pct"]
    np.testing.assert_allclose(got, recorded, rtol=0, atol=1e-9)


def test_wear_cycles_are_recorded_as_drawn(month):
    """A new cycle at each breakdown repair and each planned maintenance (weekly, on the first
    worked day), drawn when decided, starting from wear 0 when the work is done."""
    maintained = 0
    for m in month.machines:
        cycles = m.timeline.wear_cycles
        resets = [(f.time_s, f.time_s + f.repair_s) for f in m.timeline.failures]
        resets = [
            r for r, f in zip(resets, m.timeline.failures, strict=True) if f.cause == "breakdown"
        ]
        maintenance = [
            (sh.start_s, sh.maintenance_end_s)
            for sh in month.shifts[m.spec.site]
            if sh.maintenance_end_s > sh.start_s and month.start_s <= sh.start_s < month.end_s
        ]
        maintained += len(maintenance)
        expected = sorted(resets + maintenance)
        assert [(c.drawn_s, c.start_s) for c in cycles[1:]] == expected
        assert all(c.start_wear_pct == 0 for c in cycles[1:])
    assert maintained >= 4 * len(month.machines)  # a month of weekly maintenance


def _lake_quality_rows(model: PlantModel) -> pd.DataFrame:
    """gold.quality_features' keys and counts, derived from the readings as the lake does:
    counter increases (the first reading of a counter counts nothing), the product and work
    order of the latest change strictly before the reading, summed per UTC hour; the lot of the
    latest material_lot change strictly before the hour's end."""
    readings = model.readings(model.start_s, model.end_s, sample_s=60, aux=False)
    r = readings.select(["equipment_id", "tag", "timestamp", "value_double", "value_str"])
    r = r.to_pandas()
    r["timestamp"] = r["timestamp"].dt.tz_localize(None).astype("datetime64[ns]")
    counters = r[r["tag"].isin(["parts_total", "parts_scrap", "parts_rework"])].copy()
    counters["increase"] = counters.groupby(["equipment_id", "tag"])["value_double"].diff()
    counters["increase"] = counters["increase"].fillna(0)
    counters = counters.sort_values("timestamp")
    for tag in ("product_id", "work_order_id"):
        changes = r.loc[r["tag"] == tag, ["equipment_id", "timestamp", "value_str"]]
        counters = pd.merge_asof(
            counters,
            changes.rename(columns={"value_str": tag}).sort_values("timestamp"),
            on="timestamp",
            by="equipment_id",
            allow_exact_matches=False,
        )
    counters["hour_start"] = counters["timestamp"].dt.floor("h")
    counters["amount"] = counters["increase"]
    wide = counters.pivot_table(
        index=["equipment_id", "hour_start", "product_id", "work_order_id"],
        columns="tag",
        values="amount",
        aggfunc="sum",
        fill_value=0,
    ).reset_index()
    wide = wide[wide["parts_total"] > 0]
    wide["hour_end"] = wide["hour_start"] + pd.Timedelta(hours=1)
    lots = r.loc[r["tag"] == "material_lot", ["equipment_id", "timestamp", "value_str"]]
    wide = pd.merge_asof(
        wide.sort_values("hour_end"),
        lots.rename(columns={"timestamp": "hour_end", "value_str": "material_lot"}).sort_values(
            "hour_end"
        ),
        on="hour_end",
        by="equipment_id",
        allow_exact_matches=False,
    )
    return pd.DataFrame(
        {
            "equipment_id": wide["equipment_id"],
            "hour_start": wide["hour_start"],
            "product_id": wide["product_id"],
            "work_order_id": wide["work_order_id"],
            "material_lot": wide["material_lot"],
            "produced": wide["parts_total"].astype(int),
            "defects": (wide["parts_scrap"] + wide["parts_rework"]).astype(int),
        }
    )


def test_defect_oracle_matches_the_lakes_rows_and_is_calibrated(config):
    model = PlantModel(config, 3, S0, S0 + 3 * DAY)
    rows = _lake_quality_rows(model)
    got = defect_oracle(model, rows)
    assert (got["parts"] > 0).all()  # every row of the lake has its parts
    # the lake counts nothing at a counter's first reading: parts of each machine's first
    # counted minute are missing there, and only there
    short = rows[got["parts"] != rows["produced"]]
    first = rows.groupby("equipment_id")["hour_start"].min()
    assert (short["hour_start"] == short["equipment_id"].map(first)).all()
    assert (got.loc[short.index, "parts"] > short["produced"]).all()

    p, n, d = got["p_defect"].to_numpy(), rows["produced"].to_numpy(), rows["defects"].to_numpy()
    predicted, observed = np.average(p, weights=n), d.sum() / n.sum()
    # Given p, each part is defective independently (its own uniform draw): the defect count
    # is a sum of Bernoullis, sd = sqrt(sum n·p·(1 − p)); allow 4 sd (here about 0.0025).
    sd = np.sqrt((n * p * (1 - p)).sum()) / n.sum()
    assert abs(predicted - observed) < 4 * sd
    # per part: defective (weight: defects) and good (weight: the others), as ml.quality scores
    y = np.r_[np.ones(len(p)), np.zeros(len(p))]
    w = np.r_[d, n - d].astype(float)
    score = np.r_[p, p]
    brier = np.average((score - y) ** 2, weights=w)
    assert brier < np.average((observed - y) ** 2, weights=w)
    assert average_precision_score(y, score, sample_weight=w) > 3 * observed
    assert np.array_equal(defect_probability(model, rows), p)


def test_a_row_whose_key_matches_no_part_gets_no_probability(month):
    m = month.machines[0]
    tl = m.timeline
    hour = pd.Timestamp(int(tl.part_t[0]) // 3600 * 3600, unit="s")
    i = int(np.searchsorted(tl.iv_start, tl.part_t[0])) - 1
    row = {
        "equipment_id": m.spec.equipment_id,
        "hour_start": hour,
        "product_id": tl.iv_product[i],
        "work_order_id": tl.iv_work_order[i],
    }
    rows = pd.DataFrame([{**row, "material_lot": "LOT-unobtainium-1"}])
    got = defect_oracle(month, rows)
    assert got["parts"].tolist() == [0] and np.isnan(got["p_defect"].iloc[0])


def test_unknown_equipment_and_hours_outside_the_simulation_are_refused(month):
    hour = pd.to_datetime([S0], unit="s")
    with pytest.raises(
        UnknownEquipmentError, match=re.escape("no machine acme.berlin.nowhere.cnc99")
    ):
        failure_probability(month, ["acme.berlin.nowhere.cnc99"], hour)
    meter = month.meters[0].equipment_id
    with pytest.raises(UnknownEquipmentError, match="energy meter"):
        failure_probability(month, [meter], hour)
    rows = pd.DataFrame(
        {
            "equipment_id": ["acme.berlin.nowhere.cnc99"],
            "hour_start": hour,
            "product_id": ["P-100"],
            "work_order_id": ["WO-1"],
            "material_lot": ["LOT-1"],
        }
    )
    with pytest.raises(UnknownEquipmentError, match="cnc99"):
        defect_probability(month, rows)
    eq = [month.machines[0].spec.equipment_id]
    with pytest.raises(HourOutsideSimulationError, match="outside the simulated horizon"):
        failure_probability(month, eq, pd.to_datetime([S0 + 28 * DAY], unit="s"))


def _digest(model: PlantModel, a: int, b: int) -> str:
    h = hashlib.sha256()
    for table in (
        model.readings(a, b),
        model.readings(a, b, sample_s=60, aux=False),
        model.truth_shifts(),
        model.truth_failures(),
    ):
        for name, column in zip(table.column_names, table.columns, strict=True):
            h.update(name.encode())
            h.update(repr(column.to_pylist()).encode())
    for m in model.machines:
        tl = m.timeline
        for values in (tl.iv_start, tl.iv_state, tl.wear_t, tl.wear_v, tl.part_t, tl.part_lot):
            h.update(repr(np.asarray(values).tolist()).encode())
        h.update(repr(m.quality.p_scrap.tolist()).encode())
    return h.hexdigest()


def test_the_oracles_bookkeeping_changes_no_draw_of_the_simulator(config):
    """Readings, ground truth and timelines of a small plant, hashed with the simulator as it
    was before the wear cycles were recorded (plant/timeline.py of commit b9c7ec6). A change of
    this digest is a change of the simulated plant: deliberate ones update it."""
    model = PlantModel(config, 11, S0, S0 + 3 * DAY)
    assert sum(len(m.timeline.failures) for m in model.machines) > 0
    assert _digest(model, S0 + DAY + 5 * 3600, S0 + DAY + 9 * 3600) == (
        "304a97fad0adc502423d3580402e3b6ccbcc9b28b59a297212a135d49ab4b630"
    )
