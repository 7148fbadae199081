"""The ceiling of the plant's ML models: failure and defect probabilities from the simulator's
own latent state (true wear, wear rate, part by part scrap probability), for the rows the lake's
gold.asset_health_features and gold.quality_features hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from plant.calendar import site_shifts
from plant.kinds import PHYSICS, STATE_CODE
from plant.model import MachineModel, PlantModel
from plant.timeline import (
    SUDDEN_MEAN_RUN_S,
    WEAR_RATE_LOG_SD,
    WEAR_THRESHOLD_MEAN_PCT,
    WEAR_THRESHOLD_SD_PCT,
)

QUALITY_KEYS = ("equipment_id", "hour_start", "product_id", "work_order_id", "material_lot")
REPAIRS = ("breakdown", "electrical_fault")
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(32)  # E[f(z)], z ~ N(0, 1)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


class UnknownEquipmentError(LookupError):
    """An equipment id that is not one of the simulated plant's machines."""


class HourOutsideSimulationError(ValueError):
    """An hour whose end lies outside the horizon the plant was simulated for."""


@dataclass(frozen=True)
class _Windows:
    """Disjoint sorted time windows [start, end) and the seconds they cover up to any time."""

    start: np.ndarray
    end: np.ndarray
    before: np.ndarray  # seconds covered by the windows before each one

    @classmethod
    def of(cls, start: np.ndarray, end: np.ndarray) -> _Windows:
        keep = end > start
        start, end = np.asarray(start, float)[keep], np.asarray(end, float)[keep]
        order = np.argsort(start, kind="stable")
        start, end = start[order], end[order]
        return cls(start, end, np.concatenate([[0.0], np.cumsum(end - start)[:-1]]))

    def covered(self, t: np.ndarray) -> np.ndarray:
        """Seconds of the windows before t."""
        t = np.asarray(t, float)
        if not len(self.start):
            return np.zeros(t.shape)
        k = np.searchsorted(self.start, t, side="right") - 1
        kk = np.clip(k, 0, None)
        inside = np.clip(t - self.start[kk], 0, self.end[kk] - self.start[kk])
        return np.where(k < 0, 0.0, self.before[kk] + inside)

    def between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.clip(self.covered(b) - self.covered(a), 0, None)


@dataclass(frozen=True)
class _Machine:
    """What the oracle needs of one machine."""

    running: _Windows
    scheduled: _Windows  # production windows of the calendar: shifts less breaks, maintenance
    maintenance_start: np.ndarray  # planned maintenance (shift start) and its end, in time order
    maintenance_end: np.ndarray
    running_share: float  # running seconds per scheduled second outside repairs


def _machine(model: PlantModel, m: MachineModel, until_s: int) -> _Machine:
    tl = m.timeline
    ends = np.append(tl.iv_start[1:], tl.end_s)
    running = _Windows.of(
        tl.iv_start[tl.iv_state == STATE_CODE["running"]],
        ends[tl.iv_state == STATE_CODE["running"]],
    )
    # The simulated shifts, then the calendar beyond the simulated horizon (it holds no draws).
    shifts = [
        *model.shifts[m.spec.site],
        *(
            sh
            for sh in site_shifts(model.config.site(m.spec.site), model.start_s, until_s)
            if sh.start_s >= model.end_s
        ),
    ]
    scheduled = _Windows.of(
        np.array([w for sh in shifts for w in (sh.maintenance_end_s, sh.break_end_s)]),
        np.array([w for sh in shifts for w in (sh.break_start_s, sh.end_s)]),
    )
    maintained = [sh for sh in shifts if sh.maintenance_end_s > sh.start_s]
    repair = np.array([r in REPAIRS for r in tl.iv_reason], bool)
    repair_s = float((ends - tl.iv_start)[repair].sum())
    scheduled_s = float(scheduled.between(np.array(tl.start_s), np.array(tl.end_s)))
    run_s = float(running.between(np.array(tl.start_s), np.array(tl.end_s)))
    share = run_s / (scheduled_s - repair_s) if scheduled_s > repair_s else 0.0
    return _Machine(
        running,
        scheduled,
        np.array([sh.start_s for sh in maintained], float),
        np.array([sh.maintenance_end_s for sh in maintained], float),
        share,
    )


def _machines_of(model: PlantModel, equipment_id: np.ndarray) -> dict[str, MachineModel]:
    machines = {m.spec.equipment_id: m for m in model.machines}
    unknown = sorted(set(equipment_id.tolist()) - set(machines), key=str)
    if unknown:
        meters = {m.equipment_id for m in model.meters}
        what = [
            f"{e} (an energy meter: it has no failures or parts)" if e in meters else str(e)
            for e in unknown
        ]
        raise UnknownEquipmentError(
            f"the simulated plant has no machine {', '.join(what)}; its machines are "
            f"{', '.join(sorted(machines))}"
        )
    return machines


def _epoch_s(hour_start) -> np.ndarray:
    """UTC epoch seconds of datetimes (naive ones are UTC)."""
    t = pd.DatetimeIndex(pd.to_datetime(hour_start, utc=True))
    return ((t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(np.int64)


def _wear_failure(wear: np.ndarray, wear_per_run_s: np.ndarray, run_s: np.ndarray) -> np.ndarray:
    """P(threshold ≤ wear + rate · run | threshold > wear), threshold ~ N(mean, sd)."""
    sf = lambda x: norm.sf(x, WEAR_THRESHOLD_MEAN_PCT, WEAR_THRESHOLD_SD_PCT)  # noqa: E731
    alive = sf(wear)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 1 - sf(wear + wear_per_run_s * run_s) / alive
    return np.where(alive > 0, np.clip(p, 0, 1), 1.0)


def _fresh_wear_failure(mean_per_run_s: float, run_s: np.ndarray) -> np.ndarray:
    """P(a new cycle, from wear 0 at a rate not yet seen, breaks down within `run_s` running)."""
    rate = mean_per_run_s * np.exp(WEAR_RATE_LOG_SD * _NODES)  # lognormal(0, sd) factor
    p = norm.cdf(rate[None, :] * run_s[:, None], WEAR_THRESHOLD_MEAN_PCT, WEAR_THRESHOLD_SD_PCT)
    return p @ _WEIGHTS


def failure_oracle(
    model: PlantModel, equipment_id, hour_start, horizon_h: float = 24.0
) -> pd.DataFrame:
    """Per (equipment, hour): P(a breakdown or electrical fault starts within `horizon_h` hours
    after the hour ends), from the machine's latent state at the hour's end, and its parts.

    `model` must be the PlantModel the data came from (same config, seed, start and end).
    Known at the hour end T: the true wear w and wear rate r of the current maintenance cycle
    (a cycle decided by then, such as a maintenance under way, counts), the repair under way,
    the shift calendar. Not known: the breakdown threshold (only its N(100, 8) law, given it
    was not reached: θ > w), anything drawn later. With R the expected running seconds from
    T (or the end of a repair under way) to min(T + horizon, next planned maintenance) and
    R_all the same to T + horizon (scheduled seconds × the machine's running share):

    - p_wear = P(θ ≤ w + r·R | θ > w), and for each maintenance cycle starting inside the
      horizon the chance that it breaks down from wear 0 at an unseen rate (negligible unless
      the horizon is long);
    - p_electrical = 1 − exp(−R_all / SUDDEN_MEAN_RUN_S) (memoryless: the same hazard per
      running second whatever happened before);
    - p_failure = 1 − (1 − p_wear)(1 − p_electrical).

    Columns: wear_pct, wear_per_run_h (%/h), run_before_maintenance_s (R), run_s (R_all),
    p_wear, p_electrical, p_failure; one row per input row, in order.

    >>> failure_oracle(model, ["acme.berlin.machining.line1.cell1.cnc01"], ["2026-03-02T09:00"])
    ... # one row: wear at 10:00, P(a failure starts in [10:00, 10:00 next day]), its parts
    """
    eq = np.asarray(equipment_id, dtype=object)
    hour = _epoch_s(hour_start)
    if eq.shape != hour.shape:
        raise ValueError(f"{eq.size} equipment ids but {hour.size} hours: give one per row")
    machines = _machines_of(model, eq)
    end_s = hour + 3600
    outside = (end_s < model.start_s) | (end_s > model.end_s)
    if outside.any():
        first = pd.Timestamp(int(hour[outside][0]), unit="s")
        raise HourOutsideSimulationError(
            f"the hour starting {first} UTC ends outside the simulated horizon "
            f"{pd.Timestamp(model.start_s, unit='s')} – {pd.Timestamp(model.end_s, unit='s')} "
            "UTC: give the PlantModel built with the data's own start and end"
        )
    horizon_s = horizon_h * 3600
    until = model.end_s + int(horizon_s) + 2 * 86400
    out = {
        k: np.zeros(len(eq))
        for k in ("wear_pct", "wear_per_run_h", "run_before_maintenance_s", "run_s", "p_wear")
    }
    for e, m in machines.items():
        rows = np.flatnonzero(eq == e)
        if not len(rows):
            continue
        mm = _machine(model, m, until)
        tl = m.timeline
        t = end_s[rows].astype(float)
        # the cycle in force: the last one decided at or before T (maintenance under way: the new)
        drawn = np.array([c.drawn_s for c in tl.wear_cycles], float)
        c = np.searchsorted(drawn, t, side="right") - 1
        c_start = np.array([tl.wear_cycles[i].start_s for i in c])
        rate = np.array([tl.wear_cycles[i].wear_per_run_s for i in c])
        wear0 = np.array([tl.wear_cycles[i].start_wear_pct for i in c])
        wear = wear0 + rate * mm.running.between(c_start, np.maximum(t, c_start))
        # a repair under way: nothing runs before it ends (its length was drawn when it began)
        f_t = np.array([f.time_s for f in tl.failures], float)
        f_end = np.array([f.time_s + f.repair_s for f in tl.failures], float)
        latest_end = np.append(-np.inf, f_end)[np.searchsorted(f_t, t, side="left")]
        ready = np.maximum(t, latest_end)
        horizon_end = t + horizon_s
        j = np.searchsorted(mm.maintenance_start, t, side="right")
        next_m = np.append(mm.maintenance_start, np.inf)[j]
        share = mm.running_share
        run_before = share * mm.scheduled.between(ready, np.minimum(horizon_end, next_m))
        survive = 1 - _wear_failure(wear, rate, run_before)
        # each later maintenance inside the horizon starts a cycle of its own
        mean_rate = PHYSICS[m.spec.kind].wear_per_run_hour / 3600
        starts = np.append(mm.maintenance_start, np.inf)
        ends = np.append(mm.maintenance_end, np.inf)
        while True:
            inside = starts[j] < horizon_end
            if not inside.any():
                break
            seg_end = np.minimum(horizon_end, starts[np.minimum(j + 1, len(starts) - 1)])
            r = share * mm.scheduled.between(np.maximum(ready, ends[j]), seg_end)
            survive = survive * np.where(inside, 1 - _fresh_wear_failure(mean_rate, r), 1.0)
            j = np.where(inside, j + 1, j)
        out["wear_pct"][rows] = wear
        out["wear_per_run_h"][rows] = rate * 3600
        out["run_before_maintenance_s"][rows] = run_before
        out["run_s"][rows] = share * mm.scheduled.between(ready, horizon_end)
        out["p_wear"][rows] = 1 - survive
    frame = pd.DataFrame(out)
    frame["p_electrical"] = 1 - np.exp(-frame["run_s"] / SUDDEN_MEAN_RUN_S)
    frame["p_failure"] = 1 - (1 - frame["p_wear"]) * (1 - frame["p_electrical"])
    return frame


def failure_probability(
    model: PlantModel, equipment_id, hour_start, horizon_h: float = 24.0
) -> np.ndarray:
    """P(a failure starts within `horizon_h` hours after each hour ends): see failure_oracle.

    >>> failure_probability(model, features["equipment_id"], features["hour_start"])
    """
    return failure_oracle(model, equipment_id, hour_start, horizon_h)["p_failure"].to_numpy()


def _part_keys(m: MachineModel) -> pd.DataFrame:
    """Every part of a machine with the lake's key of its quality row and its P(defect).

    As silver.production_counts and gold.quality_features key them: the UTC hour the part was
    counted in (its own: counters are published per part, or sampled on a grid that divides
    the hour, such as the history's 60 s), the product and work order in force before it was
    counted (a change at the same second applies to later parts), and the lot of the last
    material_lot reading before the hour's end, "LOT-<material>-<number>" (the same for every
    part of the hour, whichever lot the part itself used).
    """
    tl = m.timeline
    t = tl.part_t
    k = np.clip(np.searchsorted(tl.iv_start, t, side="left") - 1, 0, None)
    hour = t // 3600 * 3600
    lot_at = np.clip(np.searchsorted(tl.iv_start, hour + 3600, side="left") - 1, 0, None)
    return pd.DataFrame(
        {
            "equipment_id": m.spec.equipment_id,
            "hour_s": hour,
            "product_id": np.asarray(tl.iv_product, dtype=object)[k],
            "work_order_id": np.asarray(tl.iv_work_order, dtype=object)[k],
            "material_lot": np.asarray(tl.iv_lot, dtype=object)[lot_at],
            "p_defect": np.minimum(1.5 * m.quality.p_scrap, 1.0),
        }
    )


def defect_oracle(model: PlantModel, rows: pd.DataFrame) -> pd.DataFrame:
    """Per row of gold.quality_features: the mean P(defect) = min(1.5 · p_scrap, 1) of the
    simulated parts that fall under its key, and how many they are.

    A part is scrap if u < p_scrap and rework if p_scrap ≤ u < 1.5 · p_scrap (u uniform), so
    its chance of being defective is min(1.5 · p_scrap, 1). `rows` needs the columns
    equipment_id, hour_start (UTC), product_id, work_order_id, material_lot. Columns of the
    result: p_defect (NaN where no part matches), parts (compare with the row's `produced` for
    coverage; the lake misses e.g. the parts of a counter's first reading); index of `rows`.

    >>> defect_oracle(model, quality_features[["equipment_id", "hour_start", ...]])
    """
    missing = [c for c in QUALITY_KEYS if c not in rows.columns]
    if missing:
        raise ValueError(f"the quality rows lack the key columns {missing}")
    eq = rows["equipment_id"].to_numpy(dtype=object)
    machines = _machines_of(model, eq)
    if not len(rows):
        return pd.DataFrame({"p_defect": np.zeros(0), "parts": np.zeros(0, np.int64)}, rows.index)
    parts = pd.concat([_part_keys(machines[e]) for e in sorted(set(eq.tolist()))])
    keys = ["equipment_id", "hour_s", "product_id", "work_order_id", "material_lot"]
    per_key = (
        parts.groupby(keys, sort=False)["p_defect"].agg(p_defect="mean", parts="size").reset_index()
    )
    wanted = pd.DataFrame(
        {
            "equipment_id": eq,
            "hour_s": _epoch_s(rows["hour_start"]),
            **{c: rows[c].fillna("").astype(str).to_numpy() for c in keys[2:]},
        }
    )
    matched = wanted.merge(per_key, on=keys, how="left", validate="many_to_one")
    return pd.DataFrame(
        {
            "p_defect": matched["p_defect"].to_numpy(),
            "parts": matched["parts"].fillna(0).astype(np.int64).to_numpy(),
        },
        index=rows.index,
    )


def defect_probability(model: PlantModel, rows: pd.DataFrame) -> np.ndarray:
    """P(a part is defective) per row of gold.quality_features (NaN where no part matches);
    see defect_oracle for the keys and the number of parts matched.

    >>> defect_probability(model, quality_features)
    """
    return defect_oracle(model, rows)["p_defect"].to_numpy()
