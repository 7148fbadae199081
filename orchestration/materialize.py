"""Materialize silver and gold through Dagster from Python (the demo and the tests use it).

Runs the `refresh` job in this process, one run per daily partition, against a Dagster instance
under the lake (`<lake>/_dagster`, unless DAGSTER_HOME is set) so `dagster dev` shows the runs.
"""

import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg

from lakehouse.lake import Lake


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    passed: bool
    severity: str
    summary: str


@dataclass
class PartitionRun:
    day: date
    success: bool
    seconds: float
    materialized: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    failure: str = ""
    metadata: dict[str, dict] = field(default_factory=dict)  # per asset materialized


def dagster_instance(lake: Lake) -> dg.DagsterInstance:
    """The persistent instance: DAGSTER_HOME, or `<lake>/_dagster` (SQLite storage)."""
    if "DAGSTER_HOME" not in os.environ:
        home = Path(lake.root) / "_dagster"
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():
            config.write_text("telemetry:\n  enabled: false\n")
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def materialize_days(lake: Lake, days: list[date], *, rebuild: bool = False) -> list[PartitionRun]:
    """One `refresh` run per day; `rebuild` tags the runs as a backfill (days rebuilt from bronze)."""
    from orchestration.definitions import defs
    from orchestration.defs.resources import LakeResource, register

    register(lake)
    job = defs.resolve_job_def("refresh")
    instance = dagster_instance(lake)
    runs = []
    for day in sorted(set(days)):
        started = time.perf_counter()
        tags = {"dagster/backfill": "plantlake-demo"} if rebuild else {}
        result = job.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            resources={"lake": LakeResource(lake_root=str(lake.root))},
            tags=tags,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        run = PartitionRun(day, result.success, time.perf_counter() - started)
        _collect(run, result)
        runs.append(run)
    return runs


def _collect(run: PartitionRun, result) -> None:
    """What a run materialized, skipped and failed, and its check outcomes."""
    for event in result.all_events:
        kind = event.event_type_value
        if kind == "ASSET_MATERIALIZATION":
            asset = event.asset_key.to_user_string()
            run.materialized.append(asset)
            run.metadata[asset] = {
                k: v.value for k, v in event.event_specific_data.materialization.metadata.items()
            }
        elif kind == "STEP_SKIPPED":
            run.skipped.append(event.step_key)
        elif kind == "STEP_FAILURE":
            run.failure += f"{event.step_key}: {event.message}\n"
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            summary = evaluation.metadata.get("summary")
            run.checks.append(
                CheckOutcome(
                    evaluation.asset_key.to_user_string(),
                    evaluation.passed,
                    evaluation.severity.value.lower(),
                    summary.value if summary else evaluation.description or "",
                )
            )


def materialize_training(lake: Lake) -> tuple[PartitionRun, dict[str, dict]]:
    """One `train_models` run (both models); returns the run and each model asset's metadata."""
    from orchestration.definitions import defs
    from orchestration.defs.resources import LakeResource, register

    register(lake)
    started = time.perf_counter()
    result = defs.resolve_job_def("train_models").execute_in_process(
        instance=dagster_instance(lake),
        resources={"lake": LakeResource(lake_root=str(lake.root))},
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    run = PartitionRun(date.today(), result.success, time.perf_counter() - started)
    _collect(run, result)
    return run, run.metadata
