"""Run the build a catalog table declares: read its inputs, call its function, write, remember.

A step is the tables that share one build function (one Dagster asset builds them). A daily
table is rebuilt only for the event_date partitions whose inputs changed since its last build
(read from the Delta logs); a whole table only when one of its inputs moved. What a build read
is committed with what it wrote (Delta commit metadata), so a failed run is simply done again.
"""

from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.catalog import PLANT_MODEL, Build, Read, TableSpec, all_tables, get_table
from lakehouse.lake import Lake
from lakehouse.plant_model import lake_model_path

REBUILD_TAG = "plantlake/rebuild"  # run tag: "all", or UTC days "2026-03-02,2026-03-03"


@dataclass
class Built:
    """What one build wrote: the table, its rows (in the days written), the days, the version."""

    table: str
    rows: int
    days: list[date] = field(default_factory=list)
    version: int | None = None
    seconds: float = 0.0
    note: str = ""
    wrote: bool = True  # False: nothing changed, so nothing was written


@dataclass(frozen=True)
class Step:
    """The tables one build function writes, in catalog order."""

    name: str  # the Dagster op name: "silver_equipment_states"
    build: Build
    tables: tuple[str, ...]

    @property
    def reads(self) -> tuple[str, ...]:
        """Every table the step's tables read, outside the step itself."""
        tables = {t for name in self.tables for t in get_table(name).build.tables_read}
        return tuple(sorted(tables - set(self.tables)))


def _step_name(spec: TableSpec, build: Build) -> str:
    module, function = build.function.split(":")
    if module.startswith("orchestration.builders") and build.writes_itself:
        return f"{spec.layer}_{function}"
    return f"{spec.layer}_{spec.name}"


def steps(layer: str | None = None) -> list[Step]:
    """The steps of the catalog's built tables (tables sharing a writing function are one)."""
    grouped: dict[str, list[TableSpec]] = {}
    for spec in all_tables(layer):
        if spec.build is not None:
            grouped.setdefault(_step_name(spec, spec.build), []).append(spec)
    return [
        Step(name, specs[0].build, tuple(s.full_name for s in specs))
        for name, specs in grouped.items()
    ]


def function(build: Build) -> Callable:
    module, name = build.function.split(":")
    return getattr(importlib.import_module(module), name)


def _takes_lake(fn: Callable) -> bool:
    return next(iter(inspect.signature(fn).parameters), None) == "lake"


# -- what changed -------------------------------------------------------------------------
def model_version(lake: Lake) -> int:
    """A number that changes when the lake's plant model file changes (0: it has none)."""
    import zlib

    path = lake_model_path(lake.root)
    return zlib.crc32(path.read_bytes()) if path.exists() else 0


def input_versions(lake: Lake, build: Build) -> dict[str, int]:
    """The current version of every input (the plant model's checksum for `plant_model`)."""
    versions = {}
    for r in build.reads:
        if r.table == PLANT_MODEL:
            versions[PLANT_MODEL] = model_version(lake)
        elif lake.exists(r.table):
            versions[r.table] = lake.version(r.table)
    return versions


def _daily(table: str) -> bool:
    return table != PLANT_MODEL and "event_date" in get_table(table).partition_by


def days_to_build(lake: Lake, build: Build, consumed: dict[str, int]) -> set[date]:
    """The days whose inputs changed since the versions `consumed` (the last build read).

    A day d of an input read with `before=N` is read by the builds of d … d+N: those are
    rebuilt too (a late counter reading moves the next day's baseline), up to the input's
    last day. Only inputs read by day count; a lookup read whole (equipment, calendar) does
    not rebuild days on its own. An input never read before contributes all its days.
    """
    days: set[date] = set()
    for r in build.reads:
        if r.whole or not _daily(r.table) or not lake.exists(r.table):
            continue
        since = consumed.get(r.table)
        if since == lake.version(r.table):
            continue
        changed = None if since is None else lake.changed_days(r.table, since)
        changed = lake.days(r.table) if changed is None else changed
        if r.before and changed:
            last = max(lake.last_day(r.table) or max(changed), max(changed))
            changed = {
                d + timedelta(days=i)
                for d in changed
                for i in range(r.before + 1)
                if d + timedelta(days=i) <= last
            }
        days |= changed
    if build.day_before:
        days |= {d - timedelta(days=1) for d in days}
    return days


def runs_of_days(days: set[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs, so a late day does not rebuild the days between."""
    runs: list[tuple[date, date]] = []
    for d in sorted(days):
        if runs and d == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


# -- reading the inputs and calling the function -----------------------------------------
def read_input(lake: Lake, r: Read, first: date | None, last: date | None) -> DataFrame:
    """The rows of one input a build of days [first, last] needs."""
    df = lake.read(r.table)
    if first is not None and not r.whole and _daily(r.table):
        low, high = first - timedelta(days=r.before), last + timedelta(days=r.after)
        df = df.where(F.col("event_date").between(F.lit(low), F.lit(high)))
    if r.tags:
        df = df.where(F.col("tag").isin(*r.tags))
    return df


def call(lake: Lake, build: Build, first: date | None = None, last: date | None = None):
    """Call the build's pure function with its inputs (and day_from/day_to when it takes them)."""
    fn = function(build)
    args, kwargs = [], {}
    for r in build.reads:
        if r.table == PLANT_MODEL:
            continue
        frame = read_input(lake, r, first, last)
        if r.arg:
            kwargs[r.arg] = frame
        else:
            args.append(frame)
    params = inspect.signature(fn).parameters
    if first is not None and "day_from" in params:
        kwargs.update(day_from=first, day_to=last)
    return fn(*args, **kwargs)


# -- running a step -------------------------------------------------------------------------
def written(lake: Lake, table: str, days: list[date], started: float, note: str = "") -> Built:
    """What the last commit wrote, from the Delta log (no Spark job to count it)."""
    commit = lake.last_commit(table)
    rows = commit.rows_written or 0
    return Built(table, rows, days, commit.version, time.perf_counter() - started, note)


def _unchanged(lake: Lake, table: str, started: float, note: str) -> Built:
    return Built(table, 0, [], lake.version(table), time.perf_counter() - started, note, False)


def _build_days(lake: Lake, table: str, build: Build, started: float) -> Built:
    versions = input_versions(lake, build)
    days = days_to_build(lake, build, lake.progress(table))
    if not days:
        return _unchanged(lake, table, started, "no input day changed")
    fn = function(build)
    frames = []
    # a builder that reads for itself may widen its days (an interval still open): one span,
    # so that two runs never build the same day twice
    spans = [(min(days), max(days))] if _takes_lake(fn) else runs_of_days(days)
    for first, last in spans:
        if _takes_lake(fn):
            df, wanted = fn(lake, first, last)
            days |= set(wanted)
        else:
            df = call(lake, build, first, last)
        frames.append(df)
    df = frames[0]
    for more in frames[1:]:
        df = df.unionByName(more)
    days_written = sorted(days)
    with lake.recorded(table, versions):
        lake.replace_partitions(
            table, df.where(F.col("event_date").isin(days_written)), days_written
        )
    return written(lake, table, days_written, started, f"{len(days_written)} day(s) rebuilt")


def _build_whole(lake: Lake, table: str, build: Build, started: float) -> Built:
    versions = input_versions(lake, build)
    if lake.progress(table) == versions:
        return _unchanged(lake, table, started, "no input changed")
    fn = function(build)
    df = fn(lake) if _takes_lake(fn) else call(lake, build)
    with lake.recorded(table, versions):
        lake.overwrite(table, df)
    return written(lake, table, [], started, "rebuilt whole")


def run_step(lake: Lake, step: Step, *, rebuild: str | None = None) -> list[Built]:
    """Bring the step's tables up to date; `rebuild` ("all" or "2026-03-02,…") is passed to
    the steps that read bronze (the others follow the days those rewrite)."""
    for t in (*step.reads, *step.tables):
        lake.create(t)
    if step.build.writes_itself:
        return function(step.build)(lake, rebuild=parse_rebuild(rebuild))
    built = []
    for table in step.tables:
        started = time.perf_counter()
        build = get_table(table).build
        maker = _build_days if build.days else _build_whole
        built.append(maker(lake, table, build, started))
    return built


def parse_rebuild(value: str | None) -> bool | list[date]:
    """The `plantlake/rebuild` tag: False (incremental), True ("all") or the days named."""
    if not value:
        return False
    if value.strip() == "all":
        return True
    try:
        return sorted({date.fromisoformat(v.strip()) for v in value.split(",") if v.strip()})
    except ValueError:
        raise ValueError(
            f"run tag {REBUILD_TAG}={value!r}: give 'all' or UTC days such as 2026-03-02,2026-03-03"
        ) from None
