"""The live plant: the same model as the backfill, stepped forward on a clock.

`advance(seconds)` returns the readings and MES changes of the next `seconds` of plant time;
`snapshot()` gives every tag's current value for the OPC UA server's 1 Hz updates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from lakehouse.contracts.vocabulary import STATES
from plant.config import PlantConfig
from plant.kinds import STATE_CODE
from plant.mes import MesChange, activity, master_data
from plant.model import PlantModel, oee


@dataclass(frozen=True)
class Reading:
    equipment_id: str
    tag: str
    timestamp: datetime  # source timestamp, UTC
    value: float | int | bool | str
    quality: str  # "good" | "uncertain" | "bad"


class Simulation:
    """A plant that runs from `start` for up to `horizon_days` of plant time."""

    def __init__(self, config: PlantConfig, seed: int, start: datetime, horizon_days: float = 2.0):
        self.config = config
        self.start_s = int(start.timestamp())
        self.model = PlantModel(
            config, seed, self.start_s, self.start_s + int(horizon_days * 86400)
        )
        self._now = float(self.start_s)
        self._changes = activity(self.model)
        self._next_change = 0
        self._counters = {}

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self._now, UTC)

    @property
    def end_s(self) -> int:
        return self.model.end_s

    def master_data(self) -> list[MesChange]:
        return master_data(self.model)

    def advance(self, seconds: float) -> tuple[pa.Table, list[MesChange]]:
        """Step the clock; the readings (as the UNS publisher sends them) and MES changes in between."""
        a = self._now
        b = min(a + seconds, self.end_s)
        readings = self.model.readings(int(np.ceil(a)), int(np.ceil(b)))
        changes = []
        while self._next_change < len(self._changes) and self._changes[self._next_change].at_s < b:
            changes.append(self._changes[self._next_change])
            self._next_change += 1
        self._now = b
        return readings, changes

    def snapshot(self) -> list[Reading]:
        """Every tag's value now: analog values interpolated, states and counters as they stand."""
        t = self._now
        ts = self.now
        out: list[Reading] = []
        for m in self.model.machines:
            eq = m.spec.equipment_id
            for name, values in m.analog.items():
                out.append(Reading(eq, name, ts, float(np.interp(t, m.grid_t, values)), "good"))
            for i in range(m.aux.shape[0]):
                out.append(
                    Reading(
                        eq,
                        f"aux_temperature_{i + 1:02d}",
                        ts,
                        float(np.interp(t, m.aux_t, m.aux[i])),
                        "good",
                    )
                )
            tl = m.timeline
            k = int(tl.interval_index(np.array([t]))[0])
            out.append(Reading(eq, "state", ts, STATES[tl.iv_state[k]], "good"))
            for tag, values in (
                ("reason_code", tl.iv_reason),
                ("product_id", tl.iv_product),
                ("work_order_id", tl.iv_work_order),
                ("material_lot", tl.iv_lot),
            ):
                out.append(Reading(eq, tag, ts, values[k], "good"))
            done = int(np.searchsorted(tl.part_t, t, side="right"))
            q = m.quality
            scrap, rework = int(q.scrap[:done].sum()), int(q.rework[:done].sum())
            out.append(Reading(eq, "parts_total", ts, m.counter_base + done, "good"))
            out.append(
                Reading(eq, "parts_good", ts, m.counter_base + done - scrap - rework, "good")
            )
            out.append(Reading(eq, "parts_scrap", ts, m.counter_base // 50 + scrap, "good"))
            out.append(Reading(eq, "parts_rework", ts, m.counter_base // 50 + rework, "good"))
        for meter in self.model.meters:
            line = (meter.site, meter.area, meter.line)
            power = 5.0 + sum(
                float(np.interp(t, m.grid_t, m.analog["power_kw"]))
                for m in self.model.machines
                if (m.spec.site, m.spec.area, m.spec.line) == line
            )
            out.append(Reading(meter.equipment_id, "power_kw", ts, power, "good"))
            out.append(
                Reading(
                    meter.equipment_id,
                    "energy_kwh",
                    ts,
                    self.model._meter_energy(line, int(t)),
                    "good",
                )
            )
            out.append(Reading(meter.equipment_id, "voltage_v", ts, 400.0, "good"))
            out.append(Reading(meter.equipment_id, "power_factor", ts, 0.9, "good"))
        return out

    def truth(self):
        """Ground truth (per machine and shift) and its OEE, up to now."""
        truth = self.model.truth_shifts()
        truth = truth.filter(
            pa.compute.less_equal(
                truth["shift_end"], pa.scalar(self.now, pa.timestamp("ms", tz="UTC"))
            )
        )
        return truth, oee(truth)


__all__ = ["STATE_CODE", "MesChange", "Reading", "Simulation"]
