"""The MES/ERP database writer: applies the schema, then every insert and update as it happens."""

from __future__ import annotations

from collections import defaultdict
from importlib.resources import files

import psycopg
from psycopg import sql

from plant.mes import MesChange

PRIMARY_KEYS = {
    "erp.materials": ("material_id",),
    "erp.products": ("product_id",),
    "erp.bill_of_materials": ("product_id", "material_id"),
    "erp.routings": ("product_id", "equipment_kind"),
    "erp.cost_rates": ("equipment_kind",),
    "mes.equipment": ("equipment_id",),
    "mes.equipment_tags": ("equipment_id", "tag"),
    "mes.shift_calendar": ("shift_id",),
    "mes.work_orders": ("work_order_id",),
    "mes.operations": ("work_order_id", "operation_no"),
    "mes.production_counts": ("equipment_id", "interval_start"),
    "mes.downtime_events": ("event_id",),
    "mes.quality_inspections": ("inspection_id",),
}


def schema_sql() -> str:
    return files("plant").joinpath("sql/mes_erp.sql").read_text()


class MesWriter:
    """Keeps the MES/ERP database in step with the simulation (psycopg 3)."""

    def __init__(self, conninfo: str):
        self.conn = psycopg.connect(conninfo, autocommit=False)
        self.conn.execute(schema_sql())
        self.conn.commit()
        self.rows_written = 0

    def apply(self, changes: list[MesChange]) -> int:
        """Insert or update (by primary key) every change, in one transaction per call."""
        by_table: dict[str, list[MesChange]] = defaultdict(list)
        for c in changes:
            by_table[c.table].append(c)
        with self.conn.transaction():
            for table, rows in by_table.items():
                cols = list(rows[0].row)
                key = PRIMARY_KEYS[table]
                schema, name = table.split(".")
                stmt = sql.SQL(
                    "INSERT INTO {t} ({c}) VALUES ({v}) ON CONFLICT ({k}) DO UPDATE SET {u}"
                ).format(
                    t=sql.Identifier(schema, name),
                    c=sql.SQL(", ").join(map(sql.Identifier, cols)),
                    v=sql.SQL(", ").join(sql.Placeholder() for _ in cols),
                    k=sql.SQL(", ").join(map(sql.Identifier, key)),
                    u=sql.SQL(", ").join(
                        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
                        for c in cols
                        if c not in key
                    ),
                )
                with self.conn.cursor() as cur:
                    cur.executemany(stmt, [[r.row[c] for c in cols] for r in rows])
        self.rows_written += len(changes)
        return len(changes)

    def close(self) -> None:
        self.conn.close()
