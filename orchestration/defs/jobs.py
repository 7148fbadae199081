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


@dg.schedule(job=refresh_job, cron_schedule="5 * * * *", execution_timezone="UTC")
def hourly_refresh(context: dg.ScheduleEvaluationContext):
    """Every hour, refresh today's partition: new bronze rows in, today's KPIs recomputed."""
    when = context.scheduled_execution_time or datetime.now(UTC)
    day = when.astimezone(UTC).date().isoformat()
    return dg.RunRequest(run_key=f"hourly-{when:%Y%m%dT%H}", partition_key=day)


SCHEDULES = [hourly_refresh]
SENSORS = make_sensors(bronze_job, refresh_job)
JOBS = [bronze_job, refresh_job]
