"""Materialize through Dagster from Python (the demo, the tests and the benchmarks use it).

Runs a job in this process against a Dagster instance under the lake (`<lake>/_dagster`,
unless DAGSTER_HOME is set), so `dagster dev` on the same instance shows the runs.
"""

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
from rich.console import Console

from lakehouse.lake import Lake


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    passed: bool
    severity: str
    summary: str
    carried: bool = False  # the result of an earlier run, nothing having been written since


@dataclass
class Run:
    """What one Dagster run did: tables materialized, steps skipped or failed, check outcomes."""

    success: bool
    seconds: float
    materialized: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    failure: str = ""
    metadata: dict[str, dict] = field(default_factory=dict)  # per asset materialized
    day: date | None = None  # the partition of a daily run

    @property
    def written(self) -> list[str]:
        """The assets whose tables this run wrote (the others' inputs had not changed)."""
        return [a for a in self.materialized if self.metadata[a].get("written", True)]

    def days(self, asset: str = "silver/readings") -> list[date]:
        """The days an asset's materialization wrote (its `days` metadata)."""
        text = self.metadata.get(asset, {}).get("days", "")
        return [date.fromisoformat(d) for d in text.split(", ") if d and d not in ("all", "none")]


def dagster_instance(lake: Lake) -> dg.DagsterInstance:
    """The persistent instance: DAGSTER_HOME, or `<lake>/_dagster` (SQLite storage)."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    home = Path(lake.root) / "_dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(home))


def _execute(
    lake: Lake, job_name: str, tags: dict[str, str] | None = None, day: date | None = None
) -> Run:
    from orchestration.definitions import defs
    from orchestration.defs.resources import LakeResource, MLflowResource, register

    register(lake)
    started = time.perf_counter()
    console = Console(stderr=True)
    # a run takes minutes: on a terminal a spinner says what runs (nothing in logs and pipes)
    status = console.status(f"Dagster job {job_name} running…") if console.is_terminal else None
    with status or nullcontext(), dagster_instance(lake) as instance:
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance,
            resources={
                "lake": LakeResource(lake_root=str(lake.root)),
                "mlflow": MLflowResource(lake_root=str(lake.root)),
            },
            tags=tags or {},
            partition_key=day.isoformat() if day else None,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        run = Run(result.success, time.perf_counter() - started, day=day)
        _collect(run, result)
    return run


def materialize(lake: Lake, *, rebuild: bool | list[date] = False) -> Run:
    """One `refresh` run: silver and gold up to date with bronze (the days that changed).

    `rebuild=True` rebuilds everything from bronze, `rebuild=[days]` those days (and what
    reads them).
    """
    from orchestration.steps import REBUILD_TAG

    tags = {}
    if rebuild is True:
        tags[REBUILD_TAG] = "all"
    elif rebuild:
        tags[REBUILD_TAG] = ",".join(d.isoformat() for d in sorted(set(rebuild)))
    return _execute(lake, "refresh", tags)


def _collect(run: Run, result) -> None:
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
                    "carried_from_run" in evaluation.metadata,
                )
            )


def materialize_scores(lake: Lake, days: list[date]) -> list[Run]:
    """One `score` run per day: the champions' predictions and the feature drift of that day."""
    return [_execute(lake, "score", day=day) for day in sorted(set(days))]


def materialize_training(lake: Lake) -> tuple[Run, dict[str, dict]]:
    """One `train_models` run (both models); returns the run and each model asset's metadata."""
    run = _execute(lake, "train_models")
    return run, run.metadata
