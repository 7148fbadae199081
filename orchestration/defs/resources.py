"""The Dagster resources: the lake (opened once per process, so every step shares one Spark)
and MLflow (the lake's tracking store and registry), both from the settings."""

from pathlib import Path

import dagster as dg

from lakehouse.lake import Lake

_open_lakes: dict[str, Lake] = {}


def register(lake: Lake) -> None:
    """Let runs in this process use a lake already open (the demo's, a test's)."""
    _open_lakes[str(Path(lake.root).resolve())] = lake


class LakeResource(dg.ConfigurableResource):
    """The lake of the settings (PLANTLAKE_* or plantlake.toml), or of `lake_root` when given."""

    lake_root: str | None = None

    def settings(self):
        from lakehouse.settings import get_settings, load_settings

        return load_settings(lake_root=self.lake_root) if self.lake_root else get_settings()

    def lake_path(self) -> Path:
        """The lake's folder, without opening Spark (what sensors need)."""
        return Path(self.settings().lake_root).resolve()

    def lake(self) -> Lake:
        from lakehouse.lake import open_lake

        settings = self.settings()
        root = str(Path(settings.lake_root).resolve())
        if root not in _open_lakes:
            _open_lakes[root] = open_lake(settings)
        return _open_lakes[root]


class MLflowResource(dg.ConfigurableResource):
    """MLflow's tracking store and model registry: the setting `mlflow_tracking_uri`, else
    SQLite under the lake (`<lake>/_mlflow`). Set up once per run, before the ML assets run."""

    lake_root: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.tracking_uri()

    def tracking_uri(self) -> str:
        from ml import registry

        return registry.configure(self.lake_root)  # the settings' URI, or the lake's SQLite
