"""Jobs, the hourly schedule and the sensors."""

from datetime import UTC, datetime

import dagster as dg

from orchestration.defs.bronze.sensors import make_sensors
from orchestration.defs.partitions import DAILY

bronze_job = dg.define_asset_job(
    "bronze_load",
    selection=dg.AssetSelection.groups("bronze"),
    description="Landing zone → bronze.",
)
refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.groups("silver", "gold"),
    partitions_def=DAILY,
    description="Silver and gold for one day (and the day before, for what crosses midnight).",
)


@dg.schedule(
    job=refresh_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def hourly_refresh(context: dg.ScheduleEvaluationContext):
    """Every hour, refresh today's partition: new bronze rows in, today's KPIs recomputed."""
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


SCHEDULES = [hourly_refresh, weekly_training]
SENSORS = make_sensors(bronze_job, refresh_job)
JOBS = [bronze_job, refresh_job, train_job]
