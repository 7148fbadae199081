"""What each machine does, second by second: states, wear, failures, work orders and parts.

Event-driven and seeded: running spells end in micro-stops, jams, shortages, quality holds,
changeovers at work-order ends, or failures. Wear grows while running at a rate of its own per
machine and maintenance cycle, and a breakdown comes when it crosses a threshold that is itself
uncertain; some failures (electrical faults) come with no warning at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from plant.calendar import Shift
from plant.config import EquipmentSpec, ProductSpec
from plant.kinds import PHYSICS, STATE_CODE

SMALL_STOPS = (  # (state, reason, probability, min minutes, max minutes)
    ("idle", "starved", 0.35, 0.5, 3.0),
    ("idle", "blocked", 0.25, 0.5, 2.5),
    ("unplanned_stop", "jam", 0.25, 3.0, 12.0),
    ("unplanned_stop", "material_shortage", 0.10, 10.0, 30.0),
    ("unplanned_stop", "quality_hold", 0.05, 15.0, 40.0),
)
SUDDEN_MEAN_RUN_S = 12 * 24 * 3600  # electrical faults: about one per 12 days of running
# Per maintenance cycle: a breakdown when wear crosses a threshold ~ N(mean, sd) (%), and wear
# grows at the kind's mean rate times a lognormal(0, sigma) factor of the machine and cycle.
WEAR_THRESHOLD_MEAN_PCT = 100.0
WEAR_THRESHOLD_SD_PCT = 8.0
WEAR_RATE_LOG_SD = 0.35


@dataclass
class Failure:
    time_s: int
    cause: str
    warned: bool  # True when wear (and so vibration and temperature) rose before it
    repair_s: int


@dataclass(frozen=True)
class WearCycle:
    """One maintenance cycle of wear, as the simulator drew it (not the threshold: unobservable).

    A cycle is drawn when maintenance or a breakdown repair is decided (`drawn_s`) and applies
    from when the machine is handed back (`start_s`): wear `start_wear_pct` there, then growing
    by `wear_per_run_s` (%) per running second.
    """

    drawn_s: int
    start_s: float
    start_wear_pct: float
    wear_per_run_s: float


@dataclass
class WorkOrder:
    work_order_id: str
    product_id: str
    qty_planned: int
    released_s: int
    started_s: int | None = None
    completed_s: int | None = None
    qty_done: int = 0


@dataclass
class Timeline:
    """Everything that happened to one machine in [start_s, end_s)."""

    equipment: EquipmentSpec
    start_s: int
    end_s: int
    iv_start: np.ndarray  # interval starts (s), contiguous cover of the horizon
    iv_state: np.ndarray  # state codes
    iv_reason: list[str]
    iv_product: list[str]
    iv_work_order: list[str]
    iv_lot: list[str]
    wear_t: np.ndarray  # wear breakpoints (s) and values (%), for np.interp
    wear_v: np.ndarray
    part_t: np.ndarray  # completion time of each part (s)
    part_product: np.ndarray  # index into products
    part_ideal_s: np.ndarray  # ideal cycle time of each part
    part_lot: np.ndarray  # lot number of each part
    speed_loss: float
    failures: list[Failure] = field(default_factory=list)
    work_orders: list[WorkOrder] = field(default_factory=list)
    wear_cycles: list[WearCycle] = field(default_factory=list)  # in the order they were drawn

    def interval_index(self, t: np.ndarray) -> np.ndarray:
        return np.clip(
            np.searchsorted(self.iv_start, t, side="right") - 1, 0, len(self.iv_start) - 1
        )

    def state_at(self, t: np.ndarray) -> np.ndarray:
        return self.iv_state[self.interval_index(t)]

    def wear_at(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.wear_t, self.wear_v)


class _Builder:
    def __init__(
        self,
        eq: EquipmentSpec,
        products: tuple[ProductSpec, ...],
        rng: np.random.Generator,
        start_s: int,
        wo_prefix: str,
    ):
        self.eq, self.products, self.rng = eq, products, rng
        self.phys = PHYSICS[eq.kind]
        self.starts: list[int] = []
        self.states: list[int] = []
        self.reasons: list[str] = []
        self.prod: list[str] = []
        self.wos: list[str] = []
        self.lots: list[str] = []
        self.wear = float(rng.uniform(0, 55))
        self.wear_rate_s = (
            self.phys.wear_per_run_hour * float(rng.lognormal(0, WEAR_RATE_LOG_SD)) / 3600
        )
        self.threshold = float(rng.normal(WEAR_THRESHOLD_MEAN_PCT, WEAR_THRESHOLD_SD_PCT))
        self.cycles = [WearCycle(start_s, start_s, self.wear, self.wear_rate_s)]
        self.sudden_left = float(rng.exponential(SUDDEN_MEAN_RUN_S))
        self.speed_loss = float(rng.uniform(0.03, 0.12))
        self.wear_t: list[float] = [start_s]
        self.wear_v: list[float] = [self.wear]
        self.part_t: list[np.ndarray] = []
        self.part_p: list[np.ndarray] = []
        self.part_i: list[np.ndarray] = []
        self.part_l: list[np.ndarray] = []
        self.progress = 0.0
        self.failures: list[Failure] = []
        self.orders: list[WorkOrder] = []
        self.wo_prefix = wo_prefix
        self.product_idx = int(rng.integers(len(products)))
        self.lot = int(rng.integers(1000, 9000))
        self.lot_left = int(rng.integers(200, 1500))
        self.pending: tuple[str, str, int] | None = None  # a stop that outlasts its window
        self._new_order(start_s)

    # -- bookkeeping -------------------------------------------------------------------------------
    def add(self, t: int, state: str, reason: str = "") -> None:
        code = STATE_CODE[state]
        wo = self.orders[-1]
        product = self.products[self.product_idx].product_id
        if self.starts and self.starts[-1] == t:
            self.states[-1], self.reasons[-1] = code, reason
            self.prod[-1], self.wos[-1], self.lots[-1] = product, wo.work_order_id, self._lot_name()
            return
        if (
            self.starts
            and self.states[-1] == code
            and self.reasons[-1] == reason
            and self.wos[-1] == wo.work_order_id
        ):
            return
        self.starts.append(t)
        self.states.append(code)
        self.reasons.append(reason)
        self.prod.append(product)
        self.wos.append(wo.work_order_id)
        self.lots.append(self._lot_name())

    def _lot_name(self) -> str:
        return f"LOT-{self.products[self.product_idx].material}-{self.lot}"

    def _new_order(self, t: int) -> None:
        n = len(self.orders) + 1
        cycle = self.products[self.product_idx].ideal_cycle_s[self.eq.kind]
        qty = int(self.rng.integers(4, 14) * 3600 / cycle)  # 4-14 hours of work
        self.orders.append(
            WorkOrder(
                f"{self.wo_prefix}-{n:05d}", self.products[self.product_idx].product_id, qty, t
            )
        )

    def _reset_wear(self, t: float, drawn_s: int) -> None:
        """New wear from t on (maintenance or repair done), decided at drawn_s."""
        self.wear_t += [t, t + 1e-3]
        self.wear_v += [self.wear, 0.0]
        self.wear = 0.0
        self.threshold = float(self.rng.normal(WEAR_THRESHOLD_MEAN_PCT, WEAR_THRESHOLD_SD_PCT))
        self.wear_rate_s = (
            self.phys.wear_per_run_hour * float(self.rng.lognormal(0, WEAR_RATE_LOG_SD)) / 3600
        )
        self.cycles.append(WearCycle(drawn_s, t, 0.0, self.wear_rate_s))

    # -- running -----------------------------------------------------------------------------------
    def run(self, a: int, b: int) -> str:
        """Run from a until something stops the machine or b; returns why it stopped."""
        wo = self.orders[-1]
        if wo.started_s is None:
            wo.started_s = a
        ideal = self.products[self.product_idx].ideal_cycle_s[self.eq.kind]
        cycle = ideal * (1 + self.speed_loss) * (1 + 0.08 * (self.wear / 100) ** 2)
        spell = self.rng.exponential(self.phys.mean_run_min * 60)
        to_wear = max((self.threshold - self.wear) / self.wear_rate_s, 1.0)
        to_order = max((wo.qty_planned - wo.qty_done) * cycle - self.progress, 1.0)
        options = {
            "spell": spell,
            "wear": to_wear,
            "sudden": self.sudden_left,
            "order": to_order,
            "window": b - a,
        }
        why = min(options, key=options.get)
        end = a + max(1, int(options[why]))
        end = min(end, b)
        self.add(a, "running")
        dur = end - a
        first = a + (cycle - self.progress)
        times = np.arange(first, end, cycle)
        n = len(times)
        if n:
            self.part_t.append(times.astype(np.int64))
            self.part_p.append(np.full(n, self.product_idx, np.int16))
            self.part_i.append(np.full(n, ideal))
            lots = np.full(n, self.lot, np.int32)
            if n > self.lot_left:  # a new material lot mid-run
                lots[self.lot_left :] = self.lot + 1
                self.lot += 1
                self.lot_left = int(self.rng.integers(200, 1500)) - (n - self.lot_left)
            else:
                self.lot_left -= n
            self.part_l.append(lots)
            wo.qty_done += n
            self.progress = end - times[-1]
        else:
            self.progress += dur
        self.wear += self.wear_rate_s * dur
        self.wear_t.append(end)
        self.wear_v.append(self.wear)
        self.sudden_left -= dur
        return why if end < b or why == "window" else "window"

    def stop(self, t: int, b: int, state: str, reason: str, seconds: int) -> int:
        """Stop for `seconds` from t; what outlasts the window b continues in the next one."""
        end = t + seconds
        self.add(t, state, reason)
        if end > b:
            self.pending = (state, reason, end)
            return b
        return end


def build_timeline(
    eq: EquipmentSpec,
    shifts: list[Shift],
    products: tuple[ProductSpec, ...],
    rng: np.random.Generator,
    start_s: int,
    end_s: int,
) -> Timeline:
    """Simulate one machine over [start_s, end_s) on its site's shift calendar."""
    # The horizon's start is in the id: two simulations of the same plant never share an order id.
    since = datetime.fromtimestamp(start_s, UTC).strftime("%y%m%d%H%M")
    bld = _Builder(
        eq, products, rng, start_s, f"WO-{eq.site[:3].upper()}-{eq.line}-{eq.name}-{since}"
    )
    bld.add(start_s, "planned_stop", "not_scheduled")
    for sh in shifts:
        if sh.end_s <= start_s or sh.start_s >= end_s:
            continue
        if sh.maintenance_end_s > sh.start_s:
            bld.add(sh.start_s, "planned_stop", "planned_maintenance")
            bld._reset_wear(sh.maintenance_end_s, sh.start_s)
        windows = [(sh.maintenance_end_s, sh.break_start_s), (sh.break_end_s, sh.end_s)]
        for a, b in windows:
            a, b = max(a, start_s), min(b, end_s)
            t = a
            while t < b:
                if bld.pending is not None:
                    state, reason, until = bld.pending
                    bld.pending = None
                    if until > t:
                        t = bld.stop(t, b, state, reason, until - t)
                        continue
                why = bld.run(t, b)
                t = bld.wear_t[-1] if why != "window" else b
                t = int(t)
                if why == "window" or t >= b:
                    break
                if why == "wear":
                    repair = int(bld.rng.uniform(45, 180) * 60)
                    bld.failures.append(Failure(t, "breakdown", True, repair))
                    bld._reset_wear(t + repair, t)
                    t = bld.stop(t, b, "unplanned_stop", "breakdown", repair)
                elif why == "sudden":
                    repair = int(bld.rng.uniform(30, 120) * 60)
                    bld.failures.append(Failure(t, "electrical_fault", False, repair))
                    bld.sudden_left = float(bld.rng.exponential(SUDDEN_MEAN_RUN_S))
                    t = bld.stop(t, b, "unplanned_stop", "electrical_fault", repair)
                elif why == "order":
                    bld.orders[-1].completed_s = t
                    bld.product_idx = (
                        bld.product_idx + 1 + int(bld.rng.integers(len(products) - 1))
                    ) % len(products)
                    bld._new_order(t)
                    bld.progress = 0.0
                    t = bld.stop(
                        t, b, "changeover", "product_change", int(bld.rng.uniform(20, 40) * 60)
                    )
                else:  # the end of a running spell: a small stop
                    probs = np.array([s[2] for s in SMALL_STOPS])
                    state, reason, _, lo, hi = SMALL_STOPS[
                        int(bld.rng.choice(len(SMALL_STOPS), p=probs / probs.sum()))
                    ]
                    t = bld.stop(t, b, state, reason, int(bld.rng.uniform(lo, hi) * 60))
            if b == sh.break_start_s and sh.break_end_s > sh.break_start_s:
                bld.add(max(b, start_s), "planned_stop", "break")
        bld.add(min(sh.end_s, end_s), "planned_stop", "not_scheduled")
    bld.wear_t.append(end_s)
    bld.wear_v.append(bld.wear)
    cat = lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt)  # noqa: E731
    starts = np.array(bld.starts, np.int64)
    keep = starts < end_s
    return Timeline(
        eq,
        start_s,
        end_s,
        starts[keep],
        np.array(bld.states, np.int8)[keep],
        [r for r, k in zip(bld.reasons, keep, strict=True) if k],
        [r for r, k in zip(bld.prod, keep, strict=True) if k],
        [r for r, k in zip(bld.wos, keep, strict=True) if k],
        [r for r, k in zip(bld.lots, keep, strict=True) if k],
        np.array(bld.wear_t, float),
        np.array(bld.wear_v, float),
        cat(bld.part_t, np.int64),
        cat(bld.part_p, np.int16),
        cat(bld.part_i, float),
        cat(bld.part_l, np.int32),
        bld.speed_loss,
        bld.failures,
        bld.orders,
        bld.cycles,
    )
