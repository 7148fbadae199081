"""The one Dagster resource: the lake, opened once per process so every step shares one Spark."""

from functools import cache

import dagster as dg

from lakehouse.lake import Lake


@cache
def _open(lake_root: str | None) -> Lake:
    from lakehouse.lake import open_lake
    from lakehouse.settings import get_settings, load_settings

    settings = load_settings(lake_root=lake_root) if lake_root else get_settings()
    return open_lake(settings)


class LakeResource(dg.ConfigurableResource):
    """The lake of the settings (PLANTLAKE_* or plantlake.toml), or of `lake_root` when given."""

    lake_root: str | None = None

    def lake(self) -> Lake:
        return _open(self.lake_root)
