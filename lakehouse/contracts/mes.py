"""The MES/ERP source tables plantlake extracts: each one's name, key, how it is extracted and the
columns silver parses from its rows. The extractor (ingestion) and silver (transforms) read this.

Columns are (name, type) with the catalog's type names; `schema` builds the Spark schema only when
asked, so an extractor process never loads Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pyspark.sql.types import StructType


@dataclass(frozen=True)
class SourceTable:
    """One MES/ERP table: `schema.table`, its key columns, extraction mode and parsed columns."""

    name: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    mode: Literal["incremental", "full"] = "incremental"

    @property
    def schema(self) -> StructType:
        """The columns as the Spark schema `from_json` parses a row with."""
        from pyspark.sql import types as T

        from lakehouse.catalog.spec import Column

        return T.StructType(
            [T.StructField(n, Column(n, kind, "").data_type) for n, kind in self.columns]
        )


def _strings(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, "string") for n in names)


_TABLES = (
    SourceTable(
        "mes.equipment",
        ("equipment_id",),
        (
            *_strings(
                "equipment_id",
                "enterprise",
                "site",
                "area",
                "line",
                "cell",
                "name",
                "kind",
                "timezone",
            ),
            ("updated_at", "timestamp"),
        ),
        mode="full",
    ),
    SourceTable(
        "mes.equipment_tags",
        ("equipment_id", "tag"),
        (
            *_strings("equipment_id", "tag", "datatype", "unit"),
            ("low", "double"),
            ("high", "double"),
            *_strings("description", "enum_values"),
            ("updated_at", "timestamp"),
        ),
        mode="full",
    ),
    SourceTable(
        "erp.products",
        ("product_id",),
        (*_strings("product_id", "name"), ("updated_at", "timestamp")),
        mode="full",
    ),
    SourceTable(
        "erp.bill_of_materials",
        ("product_id", "material_id"),
        (*_strings("product_id", "material_id"), ("qty_per_unit", "double")),
        mode="full",
    ),
    SourceTable(
        "erp.routings",
        ("product_id", "equipment_kind"),
        (
            *_strings("product_id", "equipment_kind"),
            ("ideal_cycle_s", "double"),
            ("updated_at", "timestamp"),
        ),
        mode="full",
    ),
    SourceTable(
        "mes.shift_calendar",
        ("shift_id",),
        (
            *_strings("shift_id", "site", "shift_name"),
            ("local_date", "date"),
            ("start_time", "timestamp"),
            ("end_time", "timestamp"),
            ("break_start", "timestamp"),
            ("break_end", "timestamp"),
            ("maintenance_end", "timestamp"),
            ("updated_at", "timestamp"),
        ),
        mode="full",
    ),
    SourceTable(
        "mes.work_orders",
        ("work_order_id",),
        (
            *_strings("work_order_id", "product_id", "equipment_id"),
            ("qty_planned", "bigint"),
            ("status", "string"),
            ("released_at", "timestamp"),
            ("started_at", "timestamp"),
            ("completed_at", "timestamp"),
            ("qty_done", "bigint"),
            ("updated_at", "timestamp"),
        ),
    ),
    SourceTable(
        "mes.operations",
        ("work_order_id", "operation_no"),
        (("work_order_id", "string"), ("operation_no", "bigint"), ("ideal_cycle_s", "double")),
    ),
    SourceTable(  # extracted to bronze for reconciliation; silver counts from the machines
        "mes.production_counts",
        ("equipment_id", "interval_start"),
        (
            ("equipment_id", "string"),
            ("interval_start", "timestamp"),
            ("interval_end", "timestamp"),
            ("produced", "bigint"),
            ("good", "bigint"),
            ("scrap", "bigint"),
            ("rework", "bigint"),
            ("updated_at", "timestamp"),
        ),
    ),
    SourceTable(
        "mes.downtime_events",
        ("event_id",),
        (
            *_strings("event_id", "equipment_id"),
            ("start_time", "timestamp"),
            ("end_time", "timestamp"),
            *_strings("state", "reason_code", "operator_comment", "work_order_id"),
            ("updated_at", "timestamp"),
        ),
    ),
    SourceTable(
        "mes.quality_inspections",
        ("inspection_id",),
        (
            *_strings(
                "inspection_id", "equipment_id", "work_order_id", "material_lot", "characteristic"
            ),
            ("nominal", "double"),
            ("lower_limit", "double"),
            ("upper_limit", "double"),
            ("measured", "double"),
            ("passed", "boolean"),
            ("inspected_at", "timestamp"),
        ),
    ),
)
MES_TABLES: dict[str, SourceTable] = {t.name: t for t in _TABLES}


def mes_table(name: str) -> SourceTable:
    """The contract of MES/ERP table `name` (`schema.table`); KeyError names the known ones."""
    try:
        return MES_TABLES[name]
    except KeyError:
        raise KeyError(
            f"no MES/ERP source table {name!r} in the contract; known: {', '.join(MES_TABLES)}"
        ) from None
