"""Jobs, their schedules (hourly scoring, weekly training) and the sensors."""

from datetime import UTC, datetime

import dagster as dg

from orchestration.defs.bronze.sensors import make_sensors
from orchestration.defs.gold.assets import ASSETS as GOLD
from orchestration.defs.ml.assets import SCORING
from orchestration.defs.partitions import DAILY
from orchestration.defs.silver.assets import ASSETS as SILVER

bronze_job = dg.define_asset_job(
    "bronze_load",
    selection=dg.AssetSelection.groups("bronze"),
    description="Landing zone → bronze.",
)
refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.assets(*SILVER, *GOLD),
    description="Silver and gold up to date with bronze: each table rebuilds only the days its "
    "inputs changed on. Tag a run plantlake/rebuild=all (or =2026-03-02,2026-03-03) to rebuild "
    "from bronze.",
)
score_job = dg.define_asset_job(
    "score",
    selection=dg.AssetSelection.assets(*SCORING),
    partitions_def=DAILY,
    description="The champions' predictions and the feature drift of one day.",
)


@dg.schedule(
    job=score_job,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def hourly_scoring(context: dg.ScheduleEvaluationContext):
    """Every hour, score today's partition with the champions (the refresh of the hour done)."""
    when = context.scheduled_execution_time or datetime.now(UTC)
    day = when.astimezone(UTC).date().isoformat()
    return dg.RunRequest(run_key=f"hourly-{when:%Y%m%dT%H}", partition_key=day)


train_job = dg.define_asset_job(
    "train_models",
    selection=dg.AssetSelection.groups("ml"),
    description="Train the maintenance and quality models on all their history; the champion "
    "alias moves only to a version that beats it on the same holdout.",
)


@dg.schedule(
    job=train_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def weekly_training(context: dg.ScheduleEvaluationContext):
    """Every Monday 03:00 UTC: retrain both models on the weeks of features the lake holds."""
    when = context.scheduled_execution_time or datetime.now(UTC)
    return dg.RunRequest(run_key=f"weekly-{when:%Y%m%d}")


SCHEDULES = [hourly_scoring, weekly_training]
SENSORS = make_sensors(bronze_job, refresh_job)
JOBS = [bronze_job, refresh_job, score_job, train_job]
