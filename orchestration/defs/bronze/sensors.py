"""Sensors on bronze: start the loader when landing files arrive, and refresh silver and gold
when bronze moved (read from the Delta logs, no Spark needed)."""

import json
from pathlib import Path

import dagster as dg

from orchestration.defs.bronze.assets import landing_root
from orchestration.defs.resources import LakeResource

BRONZE_TABLES = ("mqtt_messages", "sparkplug_messages", "opcua_values", "mes_rows")


def newest_landing_file(root: Path) -> float:
    """The modification time of the newest landed Parquet file (0 when there is none)."""
    newest = 0.0
    if root.is_dir():
        for path in root.rglob("*.parquet"):
            newest = max(newest, path.stat().st_mtime)
    return newest


def latest_version(table_dir: Path) -> int:
    """The table's latest Delta version from its log (-1 when it has none)."""
    log_dir = table_dir / "_delta_log"
    versions = [int(p.stem) for p in log_dir.glob("*.json") if p.stem.isdigit()]
    return max(versions, default=-1)


IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def run_in_flight(context: dg.SensorEvaluationContext, job_name: str) -> bool:
    """True while a run of `job_name` is queued or running (no instance, as in tests: False)."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:
        return False
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT), limit=1)
    return bool(runs)


def make_sensors(bronze_job, refresh_job) -> list:
    @dg.sensor(
        job=bronze_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
    )
    def landing_files_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
        """Start the bronze loader when files newer than the last run's arrive in the landing zone."""
        root = landing_root(lake.lake_path())
        newest = newest_landing_file(root)
        seen = float(context.cursor or 0)
        if newest <= seen:
            return dg.SkipReason(f"no new files in {root}")
        if run_in_flight(context, bronze_job.name):
            # the loader reads every file not yet in its checkpoint: the next run takes these
            return dg.SkipReason("a bronze_load run is queued or running; new files wait for it")
        context.update_cursor(str(newest))
        return dg.RunRequest(run_key=f"landing-{newest}")

    @dg.sensor(
        job=refresh_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
    )
    def bronze_changes_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
        """One refresh of silver and gold when bronze moved: each table rebuilds the days its
        inputs changed on (late data included), so one run covers them all."""
        root = lake.lake_path()
        versions = {name: latest_version(root / "bronze" / name) for name in BRONZE_TABLES}
        cursor = json.loads(context.cursor) if context.cursor else {}
        if versions == cursor:
            return dg.SkipReason("bronze did not change")
        if run_in_flight(context, refresh_job.name):
            return dg.SkipReason("a refresh run is queued or running; it or the next takes these")
        context.update_cursor(json.dumps(versions, sort_keys=True))
        return dg.RunRequest(run_key=f"bronze-{json.dumps(versions, sort_keys=True)}")

    return [landing_files_sensor, bronze_changes_sensor]
