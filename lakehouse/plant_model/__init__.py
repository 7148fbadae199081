"""The plant model: which source address is which equipment and tag, with what meaning.

A lake uses one model file, copied into it by `plantlake model use FILE` (or named by the
setting `plant_model`); every process that builds silver reads that one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lakehouse.plant_model.schema import PlantModel, PlantModelError, load_plant_model

__all__ = [
    "PlantModel",
    "PlantModelError",
    "install_model",
    "lake_model_path",
    "load_plant_model",
    "model_for_lake",
]

LAKE_MODEL_FILE = Path("_model") / "plant-model.yaml"


def lake_model_path(lake_root: str | Path) -> Path:
    """Where a lake keeps the plant model it is built with."""
    return Path(lake_root) / LAKE_MODEL_FILE


def install_model(lake_root: str | Path, source: str | Path) -> PlantModel:
    """Validate `source` and make it the lake's plant model (an atomic replace)."""
    model = load_plant_model(source)
    target = lake_model_path(lake_root)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return model


def model_for_lake(lake_root: str | Path, configured: str | Path | None = None) -> PlantModel:
    """The plant model of a lake: the configured file, else the one installed in the lake."""
    path = Path(configured) if configured else lake_model_path(lake_root)
    if not path.exists():
        raise PlantModelError(
            f"no plant model for the lake at {lake_root}: describe your plant in a model file "
            "(docs/connect-your-plant.md) and run `plantlake model use FILE`, or set plant_model"
        )
    return load_plant_model(path)
