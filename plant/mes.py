"""MES and ERP rows of the simulated plant, as the database holds them (schema in sql/mes_erp.sql).

Rows change as the plant runs: a work order is released, started and completed; a downtime
event is opened when the machine stops and closed, with the operator's comment, when it runs
again. Each change is one row version with its `updated_at`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from lakehouse.contracts.vocabulary import STATES
from plant.kinds import PHYSICS
from plant.model import PlantModel

COST_RATE_EUR_H = {"cnc_mill": 95.0, "press": 120.0, "injection_moulder": 140.0, "packer": 45.0}
COMMENTS = {
    "breakdown": "bearing replaced, spindle realigned",
    "electrical_fault": "drive tripped, contactor replaced",
    "jam": "cleared jammed part",
    "material_shortage": "waited for material from the warehouse",
    "quality_hold": "held for first-article inspection",
}
INSPECT_EVERY = 50  # every 50th part is measured


@dataclass(frozen=True)
class MesChange:
    """One insert or update of one row; an update re-sends the whole row."""

    table: str  # "mes.work_orders", "erp.products", …
    op: str  # "insert" | "update"
    row: dict
    at_s: int  # when the change happens in plant time (epoch seconds)


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def master_data(model: PlantModel) -> list[MesChange]:
    """ERP materials, products, BOM, routings, cost rates; MES equipment, its tags, shift calendar."""
    at = model.start_s
    when = _ts(at)
    out = []
    materials = sorted({p.material for p in model.config.products})
    for m in materials:
        out.append(
            MesChange(
                "erp.materials",
                "insert",
                {
                    "material_id": m,
                    "description": m.replace("-", " "),
                    "unit": "kg",
                    "updated_at": when,
                },
                at,
            )
        )
    for p in model.config.products:
        out.append(
            MesChange(
                "erp.products",
                "insert",
                {"product_id": p.product_id, "name": p.name, "updated_at": when},
                at,
            )
        )
        out.append(
            MesChange(
                "erp.bill_of_materials",
                "insert",
                {
                    "product_id": p.product_id,
                    "material_id": p.material,
                    "qty_per_unit": 0.35,
                    "unit": "kg",
                    "updated_at": when,
                },
                at,
            )
        )
        for kind, cycle in sorted(p.ideal_cycle_s.items()):
            out.append(
                MesChange(
                    "erp.routings",
                    "insert",
                    {
                        "product_id": p.product_id,
                        "equipment_kind": kind,
                        "ideal_cycle_s": cycle,
                        "updated_at": when,
                    },
                    at,
                )
            )
    for kind in sorted(PHYSICS):
        out.append(
            MesChange(
                "erp.cost_rates",
                "insert",
                {"equipment_kind": kind, "eur_per_hour": COST_RATE_EUR_H[kind], "updated_at": when},
                at,
            )
        )
    for eq in model.config.equipment:
        out.append(
            MesChange(
                "mes.equipment",
                "insert",
                {
                    "equipment_id": eq.equipment_id,
                    "enterprise": eq.enterprise,
                    "site": eq.site,
                    "area": eq.area,
                    "line": eq.line,
                    "cell": eq.cell,
                    "name": eq.name,
                    "kind": eq.kind,
                    "timezone": eq.timezone,
                    "updated_at": when,
                },
                at,
            )
        )
        for tag in eq.tags:
            out.append(
                MesChange(
                    "mes.equipment_tags",
                    "insert",
                    {
                        "equipment_id": eq.equipment_id,
                        "tag": tag.name,
                        "datatype": tag.datatype,
                        "unit": tag.unit,
                        "low": tag.low,
                        "high": tag.high,
                        "description": tag.description,
                        # an Enum's names in code order (OPC UA EnumStrings): 0 → first
                        "enum_values": ",".join(tag.enum_values) or None,
                        "updated_at": when,
                    },
                    at,
                )
            )
    for site, shifts in model.shifts.items():
        for sh in shifts:
            out.append(
                MesChange(
                    "mes.shift_calendar",
                    "insert",
                    {
                        "shift_id": sh.shift_id,
                        "site": site,
                        "shift_name": sh.name,
                        "local_date": sh.local_date,
                        "start_time": _ts(sh.start_s),
                        "end_time": _ts(sh.end_s),
                        "break_start": _ts(sh.break_start_s),
                        "break_end": _ts(sh.break_end_s),
                        "maintenance_end": _ts(sh.maintenance_end_s),
                        "updated_at": when,
                    },
                    at,
                )
            )
    return out


def _activity(model: PlantModel) -> Iterator[MesChange]:
    for m in model.machines:
        eq = m.spec.equipment_id
        tl = m.timeline
        for wo in tl.work_orders:
            row = {
                "work_order_id": wo.work_order_id,
                "product_id": wo.product_id,
                "equipment_id": eq,
                "qty_planned": wo.qty_planned,
                "status": "released",
                "released_at": _ts(wo.released_s),
                "started_at": None,
                "completed_at": None,
                "qty_done": None,
            }
            yield MesChange(
                "mes.work_orders",
                "insert",
                {**row, "updated_at": _ts(wo.released_s)},
                wo.released_s,
            )
            if wo.started_s is not None:
                row |= {"status": "running", "started_at": _ts(wo.started_s)}
                yield MesChange(
                    "mes.work_orders",
                    "update",
                    {**row, "updated_at": _ts(wo.started_s)},
                    wo.started_s,
                )
            if wo.completed_s is not None:
                row |= {
                    "status": "completed",
                    "completed_at": _ts(wo.completed_s),
                    "qty_done": wo.qty_done,
                }
                yield MesChange(
                    "mes.work_orders",
                    "update",
                    {**row, "updated_at": _ts(wo.completed_s)},
                    wo.completed_s,
                )
            yield MesChange(
                "mes.operations",
                "insert",
                {
                    "work_order_id": wo.work_order_id,
                    "operation_no": 10,
                    "equipment_id": eq,
                    "ideal_cycle_s": next(
                        p.ideal_cycle_s[m.spec.kind]
                        for p in model.config.products
                        if p.product_id == wo.product_id
                    ),
                    "updated_at": _ts(wo.released_s),
                },
                wo.released_s,
            )
        ends = np.append(tl.iv_start[1:], tl.end_s)
        for i, (s, e) in enumerate(zip(tl.iv_start, ends, strict=True)):
            state = STATES[tl.iv_state[i]]
            if state not in ("unplanned_stop", "changeover") or e <= s:
                continue
            event_id = f"DT-{eq}-{int(s)}"
            row = {
                "event_id": event_id,
                "equipment_id": eq,
                "start_time": _ts(s),
                "end_time": None,
                "state": state,
                "reason_code": tl.iv_reason[i],
                "operator_comment": None,
                "work_order_id": tl.iv_work_order[i],
            }
            yield MesChange("mes.downtime_events", "insert", {**row, "updated_at": _ts(s)}, int(s))
            if e < tl.end_s:
                row |= {
                    "end_time": _ts(e),
                    "operator_comment": COMMENTS.get(tl.iv_reason[i], "product changeover"),
                }
                yield MesChange(
                    "mes.downtime_events", "update", {**row, "updated_at": _ts(e)}, int(e)
                )
        # production counts per equipment and quarter hour
        q = m.quality
        bucket = (tl.part_t // 900) * 900
        for b in np.unique(bucket):
            sel = bucket == b
            produced = int(sel.sum())
            scrap, rework = int((sel & q.scrap).sum()), int((sel & q.rework).sum())
            yield MesChange(
                "mes.production_counts",
                "insert",
                {
                    "equipment_id": eq,
                    "interval_start": _ts(b),
                    "interval_end": _ts(b + 900),
                    "produced": produced,
                    "good": produced - scrap - rework,
                    "scrap": scrap,
                    "rework": rework,
                    "updated_at": _ts(b + 900),
                },
                int(b + 900),
            )
        nominal = 25.0
        for k in range(INSPECT_EVERY - 1, len(tl.part_t), INSPECT_EVERY):
            t = int(tl.part_t[k])
            sigma = 0.01 + 0.05 * q.p_scrap[k]
            measured = nominal + float(np.random.default_rng([model.seed, k, t]).normal(0, sigma))
            if q.scrap[k]:
                measured = nominal + 0.09 * (1 if measured >= nominal else -1)
            yield MesChange(
                "mes.quality_inspections",
                "insert",
                {
                    "inspection_id": f"QI-{eq}-{t}-{k}",
                    "equipment_id": eq,
                    "work_order_id": tl.iv_work_order[int(tl.interval_index(np.array([t]))[0])],
                    "material_lot": f"LOT-{next(p.material for p in model.config.products if p.product_id == tl.iv_product[int(tl.interval_index(np.array([t]))[0])])}-{int(tl.part_lot[k])}",
                    "characteristic": "bore_diameter_mm",
                    "nominal": nominal,
                    "lower_limit": nominal - 0.05,
                    "upper_limit": nominal + 0.05,
                    "measured": round(measured, 4),
                    "passed": bool(not q.scrap[k]),
                    "inspected_at": _ts(t),
                    "updated_at": _ts(t),
                },
                t,
            )


def activity(model: PlantModel) -> list[MesChange]:
    """Every MES change over the horizon, in the order it happens."""
    return sorted(_activity(model), key=lambda c: c.at_s)
