"""Silver assets: one per build step of the catalog's silver tables (see `orchestration.steps`)."""

from orchestration.defs import tables

ASSETS = tables.layer_assets("silver")
