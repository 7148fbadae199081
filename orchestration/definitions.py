"""All Dagster definitions of plantlake: `dagster dev -m orchestration.definitions`."""

import dagster as dg

from orchestration.defs import bronze, gold, jobs, ml, ops, silver  # noqa: F401
from orchestration.defs.bronze.assets import bronze_loader
from orchestration.defs.gold.assets import ASSETS as GOLD
from orchestration.defs.ml.assets import ASSETS as ML
from orchestration.defs.ops.assets import ASSETS as OPS
from orchestration.defs.resources import LakeResource, MLflowResource
from orchestration.defs.silver.assets import ASSETS as SILVER

defs = dg.Definitions(
    assets=[bronze_loader, *SILVER, *GOLD, *ML, *OPS],
    jobs=jobs.JOBS,
    schedules=jobs.SCHEDULES,
    sensors=jobs.SENSORS,
    resources={"lake": LakeResource(), "mlflow": MLflowResource()},
    # One process per run: every step shares the run's SparkSession (no JVM per step).
    executor=dg.in_process_executor,
)
