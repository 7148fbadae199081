"""The whole simulated plant over a time horizon: readings, MES/ERP rows and ground truth.

Same config, seed and horizon give the same plant to the bit.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lakehouse.contracts.vocabulary import STATES
from plant.calendar import Shift, site_shifts
from plant.config import EquipmentSpec, PlantConfig
from plant.kinds import STATE_CODE
from plant.payloads import payloads_from_text, render_values
from plant.signals import PartQuality, analog_values, aux_values, part_quality
from plant.timeline import Timeline, build_timeline

GRID_S = 10  # analog signals are computed on this grid
READING_SCHEMA = pa.schema(
    [
        ("equipment_id", pa.string()),
        ("tag", pa.string()),
        ("topic", pa.string()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("value_double", pa.float64()),
        ("value_str", pa.string()),
        ("quality", pa.string()),
        ("payload", pa.binary()),
    ]
)


def _stable(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def _last_per_bucket(t: np.ndarray, every_s: int) -> np.ndarray:
    """Indices of the last of the sorted times `t` in each `every_s`-second bucket."""
    bucket = t.astype(np.int64) // every_s
    return np.flatnonzero(np.r_[bucket[1:] != bucket[:-1], True]) if len(t) else np.zeros(0, int)


@dataclass
class MachineModel:
    spec: EquipmentSpec
    timeline: Timeline
    grid_t: np.ndarray
    analog: dict[str, np.ndarray]
    aux_t: np.ndarray
    aux: np.ndarray
    quality: PartQuality
    counter_base: int


class PlantModel:
    """Every machine and meter of the plant over [start_s, end_s)."""

    def __init__(self, config: PlantConfig, seed: int, start_s: int, end_s: int):
        self.config, self.seed, self.start_s, self.end_s = config, seed, start_s, end_s
        self.shifts: dict[str, list[Shift]] = {
            s.name: site_shifts(s, start_s, end_s) for s in config.sites
        }
        self.machines: list[MachineModel] = []
        self.meters: list[EquipmentSpec] = []
        grid = np.arange(start_s, end_s, GRID_S, dtype=np.int64)
        aux_t = np.arange(start_s, end_s, 60, dtype=np.int64)
        for spec in config.equipment:
            if spec.kind == "energy_meter":
                self.meters.append(spec)
                continue
            key = _stable(spec.equipment_id)
            rng = np.random.default_rng([seed, key, 1])
            tl = build_timeline(spec, self.shifts[spec.site], config.products, rng, start_s, end_s)
            sig_rng = np.random.default_rng([seed, key, 2, start_s])
            analog = analog_values(tl, config.products, grid.astype(float), sig_rng)
            n_aux = sum(t.name.startswith("aux_") for t in spec.tags)
            aux = aux_values(aux_t.astype(float), n_aux, sig_rng)
            q = part_quality(
                tl, grid.astype(float), analog, np.random.default_rng([seed, key, 3, start_s])
            )
            base = int(np.random.default_rng([seed, key, 4]).integers(100_000, 900_000))
            self.machines.append(MachineModel(spec, tl, grid, analog, aux_t, aux, q, base))

    # -- readings ----------------------------------------------------------------------------------
    def readings(
        self, a: int, b: int, *, sample_s: int | None = None, aux: bool = True
    ) -> pa.Table:
        """Every reading with a source timestamp in [a, b), as the UNS publisher sends it.

        A historian export instead: `sample_s` samples the analog tags (and the meters) no more
        often than every `sample_s` seconds, and `aux=False` leaves out the auxiliary temperature
        tags; states, product and work-order changes and part counters stay event by event.
        """
        floor = max((sample_s or GRID_S) // GRID_S, 1)
        pairs: dict[tuple[str, str], int] = {}  # (equipment id, tag) -> code
        strings: dict[str, int] = {}  # string values -> code
        chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

        def add(
            eq: str, tag: str, t: np.ndarray, vd: np.ndarray | None, vs: list | None = None
        ) -> None:
            n = len(t)
            if n == 0:
                return
            code = pairs.setdefault((eq, tag), len(pairs))
            if vs is not None:
                codes = np.array([strings.setdefault(v, len(strings)) for v in vs], np.int32)
                vd = np.full(n, np.nan)
            else:
                codes = np.full(n, -1, np.int32)
            chunks.append((t.astype(np.int64) * 1000, np.full(n, code, np.int32), vd, codes))

        line_power: dict[tuple, np.ndarray] = {}
        for m in self.machines:
            eq = m.spec.equipment_id
            g = (m.grid_t >= a) & (m.grid_t < b)
            for tag in m.spec.tags:
                if tag.name in m.analog:
                    step = max(tag.sample_s // GRID_S, floor)
                    sel = np.flatnonzero(g)[::step]
                    add(eq, tag.name, m.grid_t[sel], np.round(m.analog[tag.name][sel], 4))
            line = (m.spec.site, m.spec.area, m.spec.line)
            line_power[line] = line_power.get(line, 0) + m.analog["power_kw"][g]
            ga = (m.aux_t >= a) & (m.aux_t < b)
            for i in range(m.aux.shape[0] if aux else 0):
                add(eq, f"aux_temperature_{i + 1:02d}", m.aux_t[ga], np.round(m.aux[i][ga], 3))
            tl = m.timeline
            idx = np.flatnonzero((tl.iv_start >= a) & (tl.iv_start < b))
            starts = tl.iv_start[idx]
            add(eq, "state", starts, None, [STATES[s] for s in tl.iv_state[idx]])
            for tag, values in (
                ("reason_code", tl.iv_reason),
                ("product_id", tl.iv_product),
                ("work_order_id", tl.iv_work_order),
                ("material_lot", tl.iv_lot),
            ):
                changed = [k for k, i in enumerate(idx) if i == 0 or values[i] != values[i - 1]]
                add(eq, tag, starts[changed], None, [values[idx[k]] for k in changed])
            p = (tl.part_t >= a) & (tl.part_t < b)
            q = m.quality
            first = int(np.searchsorted(tl.part_t, a))
            total = m.counter_base + first + np.arange(1, p.sum() + 1)
            pt = tl.part_t[p]
            last = _last_per_bucket(pt, sample_s) if sample_s else slice(None)
            add(eq, "parts_total", pt[last], total.astype(float)[last])
            for tag, mask in (
                ("parts_scrap", q.scrap),
                ("parts_rework", q.rework),
                ("parts_good", ~(q.scrap | q.rework)),
            ):
                cum = np.cumsum(mask)
                sel = p & mask
                base = m.counter_base if tag == "parts_good" else m.counter_base // 50
                t_sel, v_sel = tl.part_t[sel], (base + cum[sel]).astype(float)
                last = _last_per_bucket(t_sel, sample_s) if sample_s else slice(None)
                add(eq, tag, t_sel[last], v_sel[last])
        grid = self.machines[0].grid_t if self.machines else np.zeros(0, np.int64)
        g = (grid >= a) & (grid < b)
        for meter in self.meters:
            line = (meter.site, meter.area, meter.line)
            rng = np.random.default_rng([self.seed, _stable(meter.equipment_id), a])
            power = line_power.get(line, np.zeros(g.sum())) + 5.0 + rng.normal(0, 0.3, g.sum())
            t = grid[g]
            energy = self._meter_energy(line, a) + np.cumsum(power) * GRID_S / 3600
            t, power, energy = t[::floor], power[::floor], energy[::floor]
            add(meter.equipment_id, "power_kw", t, np.round(power, 3))
            every = max(6 // floor, 1)
            add(meter.equipment_id, "energy_kwh", t[::every], np.round(energy[::every], 3))
            add(meter.equipment_id, "voltage_v", t, np.round(400 + rng.normal(0, 1.5, len(t)), 2))
            add(
                meter.equipment_id,
                "power_factor",
                t,
                np.round(np.clip(0.8 + power / (power.max(initial=0) + 1) * 0.15, 0, 1), 4),
            )
        if not chunks:
            return READING_SCHEMA.empty_table()
        ts = np.concatenate([c[0] for c in chunks])
        pair = np.concatenate([c[1] for c in chunks])
        vd = np.concatenate([c[2] for c in chunks])
        sc = np.concatenate([c[3] for c in chunks])
        order = np.lexsort((pair, ts))
        ts, pair, vd, sc = ts[order], pair[order], vd[order], sc[order]
        keys = list(pairs)
        eq_names = pa.array([k[0] for k in keys], pa.string())
        tag_names = pa.array([k[1] for k in keys], pa.string())
        topic_names = pa.array([f"{k[0].replace('.', '/')}/{k[1]}" for k in keys], pa.string())
        pair_arr = pa.array(pair)
        string_values = pa.array(list(strings), pa.string())
        is_str = sc >= 0
        vs_full = (
            pa.compute.if_else(
                pa.array(is_str),
                string_values.take(pa.array(np.where(is_str, sc, 0))),
                pa.scalar(None, pa.string()),
            )
            if len(strings)
            else pa.nulls(len(ts), pa.string())
        )
        vd_arr = pa.array(vd, pa.float64(), from_pandas=True)
        # numbers are rendered from their double, strings quoted: as the live publisher does
        text = pa.compute.if_else(pa.array(is_str), render_values(vs_full), render_values(vd_arr))
        return pa.table(
            [
                eq_names.take(pair_arr),
                tag_names.take(pair_arr),
                topic_names.take(pair_arr),
                pa.array(ts, pa.timestamp("ms", tz="UTC")),
                vd_arr,
                vs_full,
                pa.repeat(pa.scalar("good"), len(ts)),
                payloads_from_text(text, ts),
            ],
            schema=READING_SCHEMA,
        )

    def _meter_energy(self, line: tuple, until: int) -> float:
        """Energy counted by the line's meter before `until` (kWh), from the start of the horizon."""
        total = 1_000_000.0 + _stable(*line) % 100_000
        for m in self.machines:
            if (m.spec.site, m.spec.area, m.spec.line) == line:
                g = m.grid_t < until
                total += (m.analog["power_kw"][g].sum()) * GRID_S / 3600
        grid = self.machines[0].grid_t
        return total + 5.0 * (grid < until).sum() * GRID_S / 3600

    # -- ground truth ------------------------------------------------------------------------------
    def truth_shifts(self) -> pa.Table:
        """Per machine and shift: planned, downtime and run time, counts, ideal time, OEE."""
        rows = []
        for m in self.machines:
            tl = m.timeline
            ends = np.append(tl.iv_start[1:], tl.end_s)
            planned_dt = (tl.iv_state == STATE_CODE["planned_stop"]) & np.array(
                [r != "not_scheduled" for r in tl.iv_reason]
            )
            running = tl.iv_state == STATE_CODE["running"]
            q = m.quality
            for sh in self.shifts[m.spec.site]:
                s, e = max(sh.start_s, tl.start_s), min(sh.end_s, tl.end_s)
                if e <= s:
                    continue
                overlap = np.clip(ends, s, e) - np.clip(tl.iv_start, s, e)
                p = (tl.part_t >= s) & (tl.part_t < e)
                produced = int(p.sum())
                scrap, rework = int((p & q.scrap).sum()), int((p & q.rework).sum())
                rows.append(
                    {
                        "equipment_id": m.spec.equipment_id,
                        "site": m.spec.site,
                        "line": m.spec.line,
                        "shift_id": sh.shift_id,
                        "shift_start": s * 1000,
                        "shift_end": e * 1000,
                        "planned_s": e - s,
                        "planned_downtime_s": int(overlap[planned_dt].sum()),
                        "run_s": int(overlap[running].sum()),
                        "produced": produced,
                        "good": produced - scrap - rework,
                        "scrap": scrap,
                        "rework": rework,
                        "ideal_time_s": float(tl.part_ideal_s[p].sum()),
                    }
                )
        table = pa.Table.from_pylist(rows)
        pbt = pa.compute.subtract(table["planned_s"], table["planned_downtime_s"])
        table = table.set_column(
            table.schema.get_field_index("shift_start"),
            "shift_start",
            pa.compute.cast(table["shift_start"], pa.timestamp("ms", tz="UTC")),
        )
        table = table.set_column(
            table.schema.get_field_index("shift_end"),
            "shift_end",
            pa.compute.cast(table["shift_end"], pa.timestamp("ms", tz="UTC")),
        )
        return table.append_column("planned_busy_s", pbt)

    def truth_failures(self) -> pa.Table:
        rows = [
            {
                "equipment_id": m.spec.equipment_id,
                "time": f.time_s * 1000,
                "cause": f.cause,
                "warned": f.warned,
                "repair_s": f.repair_s,
            }
            for m in self.machines
            for f in m.timeline.failures
        ]
        schema = pa.schema(
            [
                ("equipment_id", pa.string()),
                ("time", pa.timestamp("ms", tz="UTC")),
                ("cause", pa.string()),
                ("warned", pa.bool_()),
                ("repair_s", pa.int64()),
            ]
        )
        if not rows:
            return schema.empty_table()
        return pa.Table.from_pylist(rows).cast(schema)


def oee(truth: pa.Table) -> dict[str, float]:
    """ISO 22400-2 OEE of a set of truth rows, from summed times and counts."""
    pbt = float(pa.compute.sum(truth["planned_busy_s"]).as_py() or 0)
    run = float(pa.compute.sum(truth["run_s"]).as_py() or 0)
    ideal = float(pa.compute.sum(truth["ideal_time_s"]).as_py() or 0)
    produced = float(pa.compute.sum(truth["produced"]).as_py() or 0)
    good = float(pa.compute.sum(truth["good"]).as_py() or 0)
    availability = run / pbt if pbt else 0.0
    performance = ideal / run if run else 0.0
    quality = good / produced if produced else 0.0
    return {
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "oee": availability * performance * quality,
    }
