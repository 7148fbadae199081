"""Sensors on bronze: start the loader when landing files arrive, and refresh the days that new
bronze rows touched (read from the Delta logs, no Spark needed)."""

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from lakehouse.settings import get_settings
from orchestration.defs.bronze.assets import landing_root

READING_TABLES = ("mqtt_messages", "sparkplug_messages", "opcua_values", "mes_rows")


def newest_landing_file(root: Path) -> float:
    """The modification time of the newest landed Parquet file (0 when there is none)."""
    newest = 0.0
    if root.is_dir():
        for path in root.rglob("*.parquet"):
            newest = max(newest, path.stat().st_mtime)
    return newest


def touched_days(table_dir: Path, after_version: int) -> tuple[int, set[str]]:
    """The table's latest version and the event_date partitions its commits since `after_version`
    added files to."""
    log_dir = table_dir / "_delta_log"
    latest, days = after_version, set()
    if not log_dir.is_dir():
        return latest, days
    for commit in sorted(log_dir.glob("*.json")):
        version = int(commit.stem)
        if version <= after_version:
            continue
        latest = max(latest, version)
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            day = action.get("add", {}).get("partitionValues", {}).get("event_date")
            if day:
                days.add(day)
    return latest, days


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
    def landing_files_sensor(context: dg.SensorEvaluationContext):
        """Start the bronze loader when files newer than the last run's arrive in the landing zone."""
        root = landing_root(Path(get_settings().lake_root).resolve())
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
    def bronze_changes_sensor(context: dg.SensorEvaluationContext):
        """Refresh silver and gold for each day that new bronze rows fell on (late data included)."""
        lake_root = Path(get_settings().lake_root).resolve()
        cursor = json.loads(context.cursor) if context.cursor else {}
        days: set[str] = set()
        for name in READING_TABLES:
            latest, touched = touched_days(lake_root / "bronze" / name, cursor.get(name, -1))
            cursor[name] = latest
            days |= touched
        context.update_cursor(json.dumps(cursor))
        today = datetime.now(UTC).date().isoformat()
        for day in sorted(d for d in days if d <= today):
            yield dg.RunRequest(
                run_key=f"bronze-{day}-{json.dumps(cursor, sort_keys=True)}", partition_key=day
            )

    return [landing_files_sensor, bronze_changes_sensor]
