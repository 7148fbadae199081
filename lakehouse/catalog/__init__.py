"""The table catalog: every table of the lake declared once, by layer."""

from __future__ import annotations

from lakehouse.catalog import bronze, gold, ops, predictions, silver
from lakehouse.catalog.spec import LAYERS, PLANT_MODEL, Build, CatalogError, Column, Read, TableSpec

__all__ = [
    "CATALOG",
    "LAYERS",
    "PLANT_MODEL",
    "Build",
    "CatalogError",
    "Column",
    "Read",
    "TableSpec",
    "all_tables",
    "get_table",
]


def _collect(*modules) -> dict[str, TableSpec]:
    catalog: dict[str, TableSpec] = {}
    for module in modules:
        for spec in module.TABLES:
            if spec.full_name in catalog:
                raise CatalogError(f"table {spec.full_name} is declared twice")
            catalog[spec.full_name] = spec
    for spec in catalog.values():
        unknown = [t for t in (spec.build.tables_read if spec.build else ()) if t not in catalog]
        if unknown:
            raise CatalogError(
                f"table {spec.full_name}: its build reads {unknown}, not in the catalog"
            )
    return catalog


CATALOG: dict[str, TableSpec] = _collect(bronze, silver, gold, predictions, ops)


def get_table(name: str) -> TableSpec:
    """The declaration of `layer.table`; CatalogError with the known names otherwise."""
    try:
        return CATALOG[name]
    except KeyError:
        raise CatalogError(
            f"no table {name!r} in the catalog; known tables: {', '.join(sorted(CATALOG))}"
        ) from None


def all_tables(layer: str | None = None) -> list[TableSpec]:
    """Every declared table (of one layer), in layer then name order."""
    order = {name: i for i, name in enumerate(LAYERS)}
    specs = [s for s in CATALOG.values() if layer is None or s.layer == layer]
    return sorted(specs, key=lambda s: (order[s.layer], s.name))
