"""Benchmark: plantlake's Spark transforms against DuckDB on the same bronze Delta data (issue 17).

The lake holds N days of the simulated plant in bronze as the demo builds it (the last day in full
detail, the days before a historian export every 60 s), built into silver and gold by the `refresh`
job. The chain bronze UNS → silver.readings → silver.equipment_states → silver.production_counts →
gold.oee_shift is rebuilt by the project's own steps (`orchestration.steps.run_step`, as the job
runs them), for the busiest day (once untimed first: the JVM's warm-up) and for the whole lake, on
the engine `open_lake` gives. DuckDB, in a process of its own, builds the same days of the same
tables from the same Delta files (read with `deltalake`) with SQL that mirrors `transforms/` (the
UNS mapping generated from the lake's plant model), and writes them as Delta too; both must give
the same row counts and sums per table. Then every gold example query of the catalog (those of
docs/tables.md) runs warm on both, and a fresh process of each answers one gold query
(`plantlake sql … -f json`, without an engine).

Then the same through the warm engine: the lake's `plantlake engine` (Spark Connect) is started
on a free port (its start, spawn → serving, is timed), every gold example runs warm through it
from one client process (`open_lake()` connects it; an untimed pass over all of them first, as the
just-started engine's JVM is not warm yet), then `plantlake sql` answers the same gold query with
it up, each a fresh process; the engine is stopped at the end. Figures are printed beside those
the issue recorded and its goals; exit status 1 when the engines disagree, 3 when the figures
through the engine could not be taken.

    .venv/bin/python benchmarks/engine.py [--days 15] [--lake DIR]
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# The chain, one table per step of the `refresh` job (the readings step also writes
# silver.unmapped_addresses: both engines build it, and it is compared too).
CHAIN = ("silver.readings", "silver.equipment_states", "silver.production_counts", "gold.oee_shift")
COMPARED = (
    "silver.readings",
    "silver.unmapped_addresses",
    "silver.equipment_states",
    "silver.production_counts",
    "gold.oee_shift",
)
# What must agree per table: row count and sums of its main columns.
MEASURES = {
    "silver.readings": (
        "count(*)",
        "sum(value)",
        "count(value_str)",
        "count_if(quality = 'good')",
        "sum(epoch(event_time))",
    ),
    "silver.unmapped_addresses": ("count(*)", "sum(value_count)"),
    "silver.equipment_states": (
        "count(*)",
        "sum(duration_s)",
        "count(end_time)",
        "count_if(reason_source = 'mes')",
    ),
    "silver.production_counts": (
        "count(*)",
        "sum(produced)",
        "sum(good)",
        "sum(scrap)",
        "sum(rework)",
        "sum(ideal_time_s)",
    ),
    "gold.oee_shift": (
        "count(*)",
        "sum(planned_s)",
        "sum(planned_downtime_s)",
        "sum(run_s)",
        "sum(produced)",
        "sum(good)",
        "sum(ideal_time_s)",
        "sum(oee)",
    ),
}
RELATIVE_TOLERANCE = 1e-9  # sums of doubles differ in the last digits with the order of addition

LAST_DAY = date(2026, 3, 2)  # the demo's day, in full detail; the history runs up to it
SEED = 1
HISTORY_SAMPLE_S = 60
QUERY_REPEATS = 5
START_REPEATS = 3
FIRST_ANSWER_TABLE = "gold.oee_shift"  # its first example answers in the start → answer runs
CHAIN_RATIO_GOAL = 4.0
QUERY_MEDIAN_GOAL_MS = 150.0  # the gold example queries' median, warm (through the engine too)
START_GOAL_S = 12.0  # `plantlake sql` start → answer without an engine
ENGINE_START_GOAL_S = 2.0  # … with the lake's warm engine up
ENGINE_READY_TIMEOUT_S = 300.0
# Untimed passes over every gold example through a just-started engine before the timed runs: a
# warm engine has run for a while (its JVM compiled the planner's hot code); the local session's
# JVM has run the chain before its queries are timed. One pass took the median from ~480 to
# ~360 ms in a 1-day trial.
ENGINE_WARM_UP_PASSES = 1
# Issue 17's figures ("today"): Spark, DuckDB, ratio.
TODAY = {
    "start": ("33.6 s", "1.09 s", "31×"),
    "query": ("130–750 ms (median 287)", "4–31 ms", "~40×"),
    "one_day": ("109 s", "5.6 s", "19×"),
    "whole": ("145 s", "12.3 s", "12×"),
    "memory": ("3.6–9.2 GB", "1.6–3.0 GB", ""),
}

console = Console(width=None if sys.stdout.isatty() else 180)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _date_literal(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def _days_literal(days: list[date]) -> str:
    return ", ".join(_date_literal(d) for d in days) or "NULL"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def delta_path(lake_root: Path, table: str) -> Path:
    """Where the lake keeps a catalog table (lakehouse.lake's layout: <root>/<layer>/<name>)."""
    layer, name = table.split(".")
    return Path(lake_root) / layer / name


# -- peak memory -------------------------------------------------------------------------------
class PeakMemory:
    """The peak resident memory of processes and their descendants, sampled in a thread."""

    def __init__(self, *pids: int, every_s: float = 0.2):
        self.pids, self.every_s = pids, every_s
        self.peak_bytes = 0
        self.started_jvm = False  # a `java` process ran in the tree (a local Spark session)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _tree_bytes(self) -> int:
        processes = []
        for pid in self.pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                root = psutil.Process(pid)
                processes += [root, *root.children(recursive=True)]
        total = 0
        for p in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
                self.started_jvm = self.started_jvm or p.name() == "java"
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._tree_bytes())
            self._stop.wait(self.every_s)


def _gb(n_bytes: int | None) -> str:
    return "–" if not n_bytes else f"{n_bytes / 1e9:.1f} GB"


# -- the lake ----------------------------------------------------------------------------------
def build_lake(lake, days: int) -> None:
    """`days` days of the simulated plant up to LAST_DAY in bronze, as the demo puts them there
    (the last day in full detail, the ones before a historian export), and silver and gold built
    from them by the `refresh` job."""
    import plant
    from ingestion.backfill import load_mes_backfill, load_uns_backfill
    from lakehouse.plant_model import install_model
    from orchestration.materialize import materialize
    from plant.backfill import backfill
    from plant.config import load_plant_config

    lake.create_all()
    install_model(lake.root, plant.MODEL_FILE)
    out = lake.root / "_backfill" / f"seed={SEED}"
    first = LAST_DAY - timedelta(days=days - 1)
    started = time.perf_counter()
    summary = backfill(
        load_plant_config(),
        SEED,
        days,
        out,
        _midnight(first),
        sample_s=HISTORY_SAMPLE_S,
        aux=False,
        detail_from=_midnight(LAST_DAY),
    )
    console.print(f"  plant history: {summary}")
    load_uns_backfill(lake, out / "uns")
    load_mes_backfill(lake, out / "mes")
    console.print(f"  loaded into bronze ({time.perf_counter() - started:.0f} s)")
    run = materialize(lake)
    if not run.success:
        raise SystemExit(f"building silver and gold of the benchmark lake failed:\n{run.failure}")
    console.print(f"  silver and gold built by the refresh job in {run.seconds:.0f} s")


def lake_is_built(lake) -> bool:
    """The benchmark's lake was built there before (its gold.oee_shift has been built)."""
    return lake.exists("gold.oee_shift") and bool(lake.progress("gold.oee_shift"))


def readings_per_day(con, lake_root: Path) -> dict[date, int]:
    """Bronze UNS messages per event_date."""
    con.register("_bronze_days", delta_dataset(lake_root, "bronze.mqtt_messages"))
    rows = con.sql("SELECT event_date, count(*) FROM _bronze_days GROUP BY 1").fetchall()
    con.unregister("_bronze_days")
    return dict(rows)


# -- the Spark side: the refresh job's own steps -----------------------------------------------
@dataclass
class StepTime:
    table: str  # the chain table the step builds
    seconds: float
    jobs: int | None = None  # Spark jobs the step ran (None: the engine does not say)
    commits: int = 0  # Delta commits the step made


@dataclass
class ChainRun:
    seconds: float
    steps: list[StepTime]
    days: dict[str, list[date]]  # per table, the days it wrote
    peak_bytes: int = 0


def chain_steps() -> list:
    """The steps of the `refresh` job that build the chain's tables, in build order."""
    from orchestration.steps import steps

    by_table = {t: s for s in steps() for t in s.tables}
    return [by_table[t] for t in CHAIN]


def _spark_context(lake):
    """The SparkContext, or None on an engine that has none (Spark Connect)."""
    from pyspark.errors import PySparkException

    try:
        return lake.spark.sparkContext
    except (PySparkException, AttributeError):
        return None


@dataclass(frozen=True)
class Engine:
    """What runs the Spark side, and the processes whose memory is its own."""

    name: str
    pids: tuple[int, ...]


def engine_in_use(lake) -> Engine:
    """A local session (this process and its JVM), or the lake's warm Spark Connect engine
    (whose process counts too, when it runs on this machine)."""
    from lakehouse import engine as warm

    context = _spark_context(lake)
    if context is not None:
        return Engine(f"a local Spark session, {context.master}", (os.getpid(),))
    address = warm.running(lake.root)
    if address is None:
        return Engine("a Spark Connect engine (not of this machine's lake)", (os.getpid(),))
    return Engine(f"the lake's Spark Connect engine at {address.url}", (os.getpid(), address.pid))


def spark_chain(lake, rebuild: str, engine: Engine) -> ChainRun:
    """Run the chain's steps as the refresh job does: silver.readings rebuilt from bronze
    (`rebuild`: "all" or days), the others rebuilding the days their inputs changed on."""
    from orchestration.steps import run_step

    context = _spark_context(lake)
    timings, days = [], {}
    started = time.perf_counter()
    with PeakMemory(*engine.pids) as memory:
        for step in chain_steps():
            versions = {t: lake.version(t) for t in step.tables}
            group = f"engine-bench-{step.name}-{time.monotonic_ns()}"
            if context is not None:
                context.setJobGroup(group, step.name)
            t0 = time.perf_counter()
            built = run_step(lake, step, rebuild=rebuild)
            seconds = time.perf_counter() - t0
            jobs = None
            if context is not None:
                jobs = len(context.statusTracker().getJobIdsForGroup(group))
                context.setLocalProperty("spark.jobGroup.id", None)
            commits = sum(lake.version(t) - v for t, v in versions.items())
            timings.append(StepTime(step.tables[0], seconds, jobs, commits))
            days.update({b.table: sorted(b.days) for b in built})
    return ChainRun(time.perf_counter() - started, timings, days, memory.peak_bytes)


# -- the DuckDB side ---------------------------------------------------------------------------
class ReferenceUnsupported(ValueError):
    """The lake holds data the DuckDB reference does not map (it reads UNS messages only)."""


def delta_dataset(lake_root: Path, table: str):
    """A catalog table's Delta files as a pyarrow dataset (deltalake: no Spark, no DuckDB
    delta extension)."""
    import deltalake

    return deltalake.DeltaTable(str(delta_path(lake_root, table))).to_pyarrow_dataset()


def duckdb_connection():
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # as Spark's session: dates of timestamps are UTC dates
    return con


def lake_view(table: str) -> str:
    """The DuckDB name of a lake table: lake_silver_readings."""
    return "lake_" + table.replace(".", "_")


class _Sql(str):
    """SQL text that arithmetic combines into SQL text, so that plantlake's unit conversions
    (lambdas over a number or a Spark column) give their DuckDB expression as they are."""

    def _op(self, op: str, other, swap: bool = False) -> _Sql:
        a, b = (str(other), str(self)) if swap else (str(self), str(other))
        return _Sql(f"({a} {op} {b})")

    def __add__(self, other):
        return self._op("+", other)

    def __radd__(self, other):
        return self._op("+", other, swap=True)

    def __sub__(self, other):
        return self._op("-", other)

    def __rsub__(self, other):
        return self._op("-", other, swap=True)

    def __mul__(self, other):
        return self._op("*", other)

    def __rmul__(self, other):
        return self._op("*", other, swap=True)

    def __truediv__(self, other):
        return self._op("/", other)

    def __rtruediv__(self, other):
        return self._op("/", other, swap=True)


def _values_cte(name: str, columns: list[tuple[str, str]], rows: list[tuple]) -> str:
    """A CTE of literal rows with typed columns (an empty one when there are no rows)."""

    def literal(v) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, int | float):
            return repr(float(v)) if isinstance(v, float) else str(v)
        return _quote(str(v))

    typed = ", ".join(f"CAST(c{i} AS {t}) AS {c}" for i, (c, t) in enumerate(columns))
    if not rows:
        nulls = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in columns)
        return f"{name} AS (SELECT {nulls} WHERE false)"
    values = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    return f"{name} AS (SELECT {typed} FROM (VALUES {values}) AS v({aliases}))"


def _unquoted(text: str) -> str:
    """transforms.silver.signals._unquoted: a JSON string's text without its quotes."""
    return (
        f"CASE WHEN starts_with({text}, '\"') AND ends_with({text}, '\"') AND length({text}) >= 2 "
        f"THEN substr({text}, 2, length({text}) - 2) ELSE {text} END"
    )


def _value_key(text: str) -> str:
    """transforms.silver.signals._value_key: booleans lower case, whole numbers without '.0'."""
    t = f"trim({text})"
    return (
        f"CASE WHEN lower({t}) IN ('true', 'false') THEN lower({t}) "
        rf"WHEN regexp_matches({t}, '^-?\d+\.0+$') THEN regexp_extract({t}, '^(-?\d+)', 1) "
        f"ELSE {t} END"
    )


class UnsMapping:
    """transforms.silver.signals for UNS messages (mqtt_values, then _resolve) as DuckDB SQL,
    generated from the lake's plant model: each message's rule, equipment, tag and role, or the
    reason it maps to nothing. Rules that read every payload field are not supported."""

    def __init__(self, rules):
        self.rules = rules
        self.compiled = rules.of("uns")
        for r in self.compiled:
            if r.rule.mqtt.fields == "all":
                raise ReferenceUnsupported(
                    f"rule '{r.rule.label}' reads every payload field (fields: all); the DuckDB "
                    "reference maps one value field per message"
                )
        fields = []
        for r in self.compiled:
            m = r.rule.mqtt
            fields += [f for f in (m.value, m.timestamp, m.quality, m.unit) if f]
        self.fields = list(dict.fromkeys(fields))
        self.key_sets: list[tuple[str, ...]] = []
        for r in self.compiled:
            keys = tuple(sorted(r.rule.selector()))
            if keys not in self.key_sets:
                self.key_sets.append(keys)

    # one JSON parse per message: every field any rule reads
    def _field(self, name: str) -> str:
        return f"(_j[{self.fields.index(name) + 1}] ->> '$')"

    def _field_missing(self, name: str) -> str:
        return f"(_j IS NOT NULL AND _j[{self.fields.index(name) + 1}] IS NULL)"

    def _by_rule(self, pick: Callable) -> str:
        whens = " ".join(f"WHEN {r.index} THEN {pick(r)}" for r in self.compiled)
        return f"(CASE rule {whens} END)" if self.compiled else "NULL"

    def _render(self, template, r) -> str:
        parts = []
        for kind, v in template.pieces():
            parts.append(_quote(v) if kind == "text" else f'_m{r.index}."{v}"')
        return "(" + " || ".join(parts) + ")" if parts else "''"

    def _event_time(self, r) -> str:
        m = r.rule.mqtt
        if m.timestamp is None:
            return "received_at"
        raw = self._field(m.timestamp)
        if m.timestamp_format == "epoch_ms":
            return f"CAST(make_timestamp(TRY_CAST({raw} AS BIGINT) * 1000) AS TIMESTAMPTZ)"
        if m.timestamp_format == "epoch_s":
            micros = f"CAST(trunc(TRY_CAST({raw} AS DOUBLE) * 1e6) AS BIGINT)"
            return f"CAST(make_timestamp({micros}) AS TIMESTAMPTZ)"
        return f"coalesce(source_timestamp, TRY_CAST({raw} AS TIMESTAMPTZ))"

    def _role(self, r) -> str:
        """The first of the rule's tag names or globs that the tag matches (its role index)."""
        whens = []
        for name, (glob, j) in zip(r.rule.tags, r.roles, strict=True):
            if any(c in name for c in "*?"):
                whens.append(f"WHEN regexp_matches(_tag_src, {_quote(glob)}) THEN {j}")
            else:
                whens.append(f"WHEN _tag_src = {_quote(name)} THEN {j}")
        return f"CASE {' '.join(whens)} END"

    def _roles_cte(self) -> str:
        from lakehouse.plant_model.roles import ROLES

        rows = [
            (
                j,
                ROLES[s.role].silver_tag or s.name,
                None if s.role == "analog" else ROLES[s.role].text,
                s.unit or ROLES[s.role].unit,
                s.source_unit,
                s.role == "state",
                s.low,
                s.high,
            )
            for j, s in enumerate(self.rules.roles)
        ]
        columns = [
            ("role_index", "INTEGER"),
            ("spec_tag", "VARCHAR"),
            ("is_text", "BOOLEAN"),
            ("unit", "VARCHAR"),
            ("source_unit", "VARCHAR"),
            ("is_state", "BOOLEAN"),
            ("low", "DOUBLE"),
            ("high", "DOUBLE"),
        ]
        return _values_cte("roles", columns, rows)

    def _state_values_cte(self) -> str:
        rows = [
            (j, key, state)
            for j, s in enumerate(self.rules.roles)
            if s.role == "state"
            for key, state in s.value_map().items()
        ]
        columns = [("role_index", "INTEGER"), ("value_key", "VARCHAR"), ("state", "VARCHAR")]
        return _values_cte("state_values", columns, rows)

    def _lookup_ctes(self) -> list[str]:
        ctes = []
        for i, keys in enumerate(self.key_sets):
            cols = ", ".join(keys)
            ctes.append(
                f"lookup{i} AS (SELECT {cols}, min(equipment_id) AS _eq, count(*) AS _n "
                f"FROM {lake_view('silver.equipment')} WHERE is_current GROUP BY {cols})"
            )
        return ctes

    def _lookup_joins(self) -> str:
        joins = []
        for i, keys in enumerate(self.key_sets):
            on = " AND ".join(f'k."_sel_{k}" = lookup{i}.{k}' for k in keys)
            joins.append(f"LEFT JOIN lookup{i} ON k._kset = {i} AND {on}")
        return "\n".join(joins)

    def sql(self, bronze_where: str) -> str:
        """Every value of bronze.mqtt_messages (rows where `bronze_where`), with the columns of
        transforms.silver.signals.ADDRESSED."""
        paths = ", ".join(_quote('$."' + f.replace('"', '\\"') + '"') for f in self.fields)
        rule = " ".join(
            f"WHEN regexp_matches(_topic, {_quote(r.regex)}) THEN {r.index}" for r in self.compiled
        )
        rule = f"CASE {rule} END" if self.compiled else "NULL"
        matches = ", ".join(
            f"CASE WHEN rule = {r.index} THEN regexp_extract(_topic, {_quote(r.regex)}, "
            f"[{', '.join(_quote(n) for n in r.names)}]) END AS _m{r.index}"
            for r in self.compiled
            if r.names
        )
        m = lambda r: r.rule.mqtt  # noqa: E731
        value = self._by_rule(lambda r: self._field(m(r).value))
        missing = self._by_rule(lambda r: self._field_missing(m(r).value))
        quality = self._by_rule(
            lambda r: f"lower({self._field(m(r).quality)})" if m(r).quality else "'good'"
        )
        unit_in = self._by_rule(lambda r: self._field(m(r).unit) if m(r).unit else "NULL")
        tag_src = self._by_rule(lambda r: self._render(r.rule.tag_template(), r))
        kset = self._by_rule(lambda r: str(self.key_sets.index(tuple(sorted(r.rule.selector())))))
        all_keys = sorted({k for keys in self.key_sets for k in keys})
        selectors = [
            self._by_rule(
                lambda r, k=k: (
                    self._render(r.rule.selector()[k], r) if k in r.rule.selector() else "NULL"
                )
            )
            + f' AS "_sel_{k}"'
            for k in all_keys
        ]
        label = self._by_rule(lambda r: _quote(r.rule.label))
        eq = "coalesce(" + ", ".join(f"lookup{i}._eq" for i in range(len(self.key_sets))) + ")"
        n = "coalesce(" + "".join(f"lookup{i}._n, " for i in range(len(self.key_sets))) + "0)"
        # Everything the topic decides (rule, tag, equipment, role) once per distinct topic:
        # a plant sends millions of messages on a few thousand topics.
        ctes = [
            self._roles_cte(),
            self._state_values_cte(),
            *self._lookup_ctes(),
            f"""messages AS (
    SELECT topic AS _topic, payload, source_timestamp, received_at, ingested_at
    FROM {lake_view("bronze.mqtt_messages")} WHERE {bronze_where}
)""",
            f"""topics AS (
    SELECT _topic, CAST({rule} AS INTEGER) AS rule FROM (SELECT DISTINCT _topic FROM messages)
)""",
            f"""topics_keyed AS (
    SELECT *, {tag_src} AS _tag_src, {kset} AS _kset{"".join(", " + s for s in selectors)}
    FROM (SELECT *{", " + matches if matches else ""} FROM topics)
)""",
            f"""topics_roled AS (
    SELECT *, CAST({self._by_rule(self._role)} AS INTEGER) AS _role FROM topics_keyed
)""",
            f"""topic_map AS (
    SELECT k._topic, k.rule, k._tag_src, k._role, {eq} AS _eq, {n} AS _n, r.spec_tag, r.is_text,
           r.unit, r.source_unit, r.is_state, r.low, r.high
    FROM topics_roled k
    {self._lookup_joins()}
    LEFT JOIN roles r ON k._role = r.role_index
)""",
            f"""ruled AS (
    SELECT m.*, t.* EXCLUDE (_topic),
           TRY(json_extract(decode(m.payload), [{paths}])) AS _j
    FROM messages m LEFT JOIN topic_map t USING (_topic)
)""",
            f"""valued AS (
    SELECT *, 'uns' AS source, _topic AS address,
           CAST(coalesce({self._by_rule(self._event_time)},
                         CASE WHEN rule IS NULL THEN coalesce(source_timestamp, received_at) END)
                AS TIMESTAMPTZ) AS event_time,
           {value} AS value_text,
           coalesce({missing}, false) AS _no_value_field,
           coalesce({quality}, 'good') AS quality,
           CAST({unit_in} AS VARCHAR) AS unit_in
    FROM ruled
)""",
            f"""specced AS (
    SELECT *, {_unquoted("value_text")} AS _plain FROM valued
)""",
            f"""stated AS (
    SELECT s.*, coalesce(trim(s._plain), '') = '' AS _blank,
           CASE WHEN s.is_state THEN v.state ELSE s._plain END AS _mapped
    FROM specced s LEFT JOIN state_values v
      ON s.is_state AND v.role_index = s._role AND v.value_key = CASE WHEN s.is_state THEN {_value_key("s._plain")} END
)""",
            """valued_state AS (
    SELECT *, CASE WHEN _blank THEN NULL ELSE _mapped END AS _value FROM stated
)""",
        ]
        reason = f"""CASE
        WHEN rule IS NULL THEN 'no signal rule matches the address'
        WHEN event_time IS NULL THEN 'no readable timestamp'
        WHEN _no_value_field THEN 'the payload has no value field of rule ''' || {label} || ''''
        WHEN _tag_src IS NULL THEN 'the message carries no tag field'
        WHEN _role IS NULL
            THEN 'rule ''' || {label} || ''' declares no tag matching ''' || _tag_src || ''''
        WHEN _n = 0
            THEN 'no equipment of the plant model or MES matches rule ''' || {label} || ''''
        WHEN _n > 1
            THEN 'rule ''' || {label} || ''' matches ' || CAST(_n AS VARCHAR) || ' equipment'
        WHEN coalesce(is_state, false) AND NOT _blank AND _value IS NULL
            THEN 'state value ''' || _plain || ''' is not in the value map of rule '''
                 || {label} || ''''
    END"""
        return (
            "WITH "
            + ",\n".join(ctes)
            + f"""
SELECT source, address, rule, _eq AS equipment_id, coalesce(spec_tag, _tag_src) AS tag, event_time,
       CASE WHEN coalesce(is_state, false) THEN _value ELSE value_text END AS value_text,
       quality, coalesce(unit_in, source_unit) AS unit_in, unit, is_text, low, high, ingested_at,
       {reason} AS reason
FROM valued_state"""
        )


def _convert_sql(value: str, unit_in: str, unit: str) -> str:
    """transforms.silver.readings._convert with plantlake's own conversion table."""
    from lakehouse.plant_model.units import UNIT_CONVERSIONS

    whens = " ".join(
        f"WHEN {unit_in} = {_quote(a)} AND {unit} = {_quote(b)} THEN {fn(_Sql(value))}"
        for (a, b), fn in UNIT_CONVERSIONS.items()
    )
    return f"CASE {whens} ELSE {value} END"


def _convertible_sql(unit_in: str, unit: str) -> str:
    from lakehouse.plant_model.units import UNIT_CONVERSIONS

    pairs = [f"({unit_in} = {_quote(a)} AND {unit} = {_quote(b)})" for a, b in UNIT_CONVERSIONS]
    return "coalesce(" + " OR ".join(pairs or ["false"]) + ", false)"


def readings_sql(days_where: str) -> str:
    """transforms.silver.readings.conform_readings over `addressed` (mapped values only)."""
    from lakehouse.contracts.sources import source_rank_sql
    from transforms.silver.readings import TEXT_TYPES

    text_types = ", ".join(_quote(t) for t in TEXT_TYPES)
    return f"""
WITH typed AS (
    SELECT l.equipment_id, l.tag, l.event_time, l.value_text, l.quality, l.source, l.ingested_at,
           l.low, l.high, t.datatype, t.enum_values,
           coalesce(l.is_text, t.datatype IN ({text_types}), false) AS _is_text,
           coalesce(l.unit, t.unit) AS _unit_tag,
           coalesce(l.unit_in, l.unit, t.unit) AS _unit_in,
           CASE WHEN lower(l.value_text) = 'true' THEN CAST(1 AS DOUBLE)
                WHEN lower(l.value_text) = 'false' THEN CAST(0 AS DOUBLE)
                ELSE TRY_CAST(l.value_text AS DOUBLE) END AS _number,
           TRY_CAST(l.value_text AS INTEGER) AS _code
    FROM addressed l LEFT JOIN {lake_view("silver.tags")} t USING (equipment_id, tag)
    WHERE l.reason IS NULL AND {days_where}
), valued AS (
    SELECT equipment_id, tag, event_time,
           CASE WHEN _is_text THEN NULL ELSE {_convert_sql("_number", "_unit_in", "_unit_tag")}
           END AS value,
           CASE WHEN datatype = 'Enum' AND _code IS NOT NULL AND len(enum_values) > _code
                    THEN enum_values[_code + 1]
                WHEN starts_with(value_text, '"') AND ends_with(value_text, '"')
                    THEN substr(value_text, 2, length(value_text) - 2)
                ELSE value_text END AS value_str,
           CASE WHEN {_convertible_sql("_unit_in", "_unit_tag")} THEN _unit_tag ELSE _unit_in
           END AS unit,
           CASE WHEN quality IN ('good', 'uncertain', 'bad') THEN quality ELSE 'uncertain'
           END AS _quality,
           low, high, source, ingested_at
    FROM typed
), checked AS (
    SELECT *, CASE WHEN _quality = 'good' AND coalesce(value < low OR value > high, false)
                   THEN 'uncertain' ELSE _quality END AS quality
    FROM valued
)
SELECT equipment_id, tag, event_time, value, value_str, unit, quality, source, ingested_at,
       CAST(event_time AS DATE) AS event_date
FROM checked
QUALIFY row_number() OVER (
    PARTITION BY equipment_id, tag, event_time
    ORDER BY CASE quality WHEN 'good' THEN 0 WHEN 'uncertain' THEN 1 ELSE 2 END,
             {source_rank_sql()}, ingested_at ASC NULLS FIRST) = 1
"""


def unmapped_sql(days_where: str) -> str:
    """transforms.silver.signals.unmapped_addresses over `addressed`."""
    return f"""
SELECT * FROM (
    SELECT coalesce(CAST(event_time AS DATE), CAST(ingested_at AS DATE)) AS event_date, source,
           address, reason, count(*) AS value_count, min(event_time) AS first_seen,
           max(event_time) AS last_seen, arg_max(value_text, ingested_at) AS example_value,
           max(ingested_at) AS last_ingested_at
    FROM addressed WHERE reason IS NOT NULL GROUP BY 1, 2, 3, 4
) WHERE {days_where}
"""


def _seconds(a: str, b: str) -> str:
    """transforms.gold.oee._seconds: b − a in seconds, as Spark computes it."""
    return f"(CAST(epoch_us({b}) AS DOUBLE) / 1e6 - CAST(epoch_us({a}) AS DOUBLE) / 1e6)"


def _from(day: date) -> str:
    return f"CAST({_date_literal(day)} AS TIMESTAMPTZ)"


def states_sql(readings: str, first: date, last: date) -> str:
    """transforms.silver.states.equipment_states with MES downtime reasons."""
    from transforms.silver.states import CONTEXT_TAGS

    tags = ("state", *CONTEXT_TAGS)
    pivot = ", ".join(f"first(value_str) FILTER (WHERE tag = {_quote(t)}) AS {t}" for t in tags)
    filled = ", ".join(f"last_value({t} IGNORE NULLS) OVER upto AS {t}" for t in CONTEXT_TAGS)
    return f"""
WITH good AS (
    SELECT equipment_id, event_time, tag, value_str FROM {readings}
    WHERE tag IN ({", ".join(_quote(t) for t in tags)}) AND quality != 'bad'
      AND NOT (tag = 'state' AND coalesce(trim(value_str), '') = '')
), wide AS (
    SELECT equipment_id, event_time, {pivot} FROM good GROUP BY equipment_id, event_time
), filled AS (
    SELECT equipment_id, event_time, state, {filled} FROM wide
    WINDOW upto AS (PARTITION BY equipment_id ORDER BY event_time
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), intervals AS (
    SELECT equipment_id, event_time AS start_time,
           lead(event_time) OVER (PARTITION BY equipment_id ORDER BY event_time) AS end_time,
           state,
           CASE WHEN state = 'running' THEN '' ELSE coalesce(reason_code, '') END AS _tag_reason,
           product_id, work_order_id
    FROM filled WHERE state IS NOT NULL
), dated AS (
    SELECT i.*, d.reason_code AS _mes_reason
    FROM intervals i
    LEFT JOIN {lake_view("silver.downtime_events")} d USING (equipment_id, start_time)
    WHERE i.start_time >= {_from(first)} AND CAST(i.start_time AS DATE) <= {_date_literal(last)}
)
SELECT equipment_id, start_time, end_time,
       CAST(epoch_us(end_time) - epoch_us(start_time) AS DOUBLE) / 1e6 AS duration_s, state,
       CASE WHEN _tag_reason != '' OR state = 'running' THEN _tag_reason
            ELSE coalesce(_mes_reason, _tag_reason) END AS reason_code,
       product_id, work_order_id,
       CASE WHEN _tag_reason != '' THEN 'tag'
            WHEN state != 'running' AND _mes_reason IS NOT NULL THEN 'mes' END AS reason_source,
       CAST(start_time AS DATE) AS event_date
FROM dated
"""


def counts_sql(readings: str, first: date, last: date) -> str:
    """transforms.silver.counts.production_counts, with work orders and the model's cycle times."""
    from transforms.silver.counts import COUNTERS

    counters = ", ".join(_quote(t) for t in COUNTERS)
    sums = ", ".join(
        f"CAST(trunc(sum(CASE WHEN tag = {_quote(tag)} THEN increase ELSE 0.0 END)) AS BIGINT) "
        f"AS {name}"
        for tag, name in COUNTERS.items()
    )
    return f"""
WITH rows AS (
    SELECT * FROM {readings}
    WHERE tag IN ({counters}, 'product_id', 'work_order_id') AND quality != 'bad'
), counters AS (
    SELECT equipment_id, event_time, tag,
           CASE WHEN lag(value) OVER by_tag IS NULL THEN 0.0
                WHEN value >= lag(value) OVER by_tag THEN value - lag(value) OVER by_tag
                ELSE value END AS increase,
           CAST(NULL AS VARCHAR) AS product_id, CAST(NULL AS VARCHAR) AS work_order_id,
           0 AS _order
    FROM rows WHERE tag IN ({counters})
    WINDOW by_tag AS (PARTITION BY equipment_id, tag ORDER BY event_time)
), context AS (
    SELECT equipment_id, event_time, CAST(NULL AS VARCHAR) AS tag,
           CAST(NULL AS DOUBLE) AS increase,
           first(value_str) FILTER (WHERE tag = 'product_id') AS product_id,
           first(value_str) FILTER (WHERE tag = 'work_order_id') AS work_order_id,
           1 AS _order
    FROM rows WHERE tag IN ('product_id', 'work_order_id') GROUP BY equipment_id, event_time
), timeline AS (
    SELECT equipment_id, event_time, tag, increase,
           last_value(product_id IGNORE NULLS) OVER upto AS product_id,
           last_value(work_order_id IGNORE NULLS) OVER upto AS work_order_id
    FROM (SELECT * FROM counters UNION ALL SELECT * FROM context)
    WINDOW upto AS (PARTITION BY equipment_id ORDER BY event_time, _order
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), grouped AS (
    SELECT equipment_id, date_trunc('minute', event_time) AS interval_start, product_id,
           work_order_id, {sums}
    FROM timeline
    WHERE tag IS NOT NULL AND event_time >= {_from(first)}
      AND CAST(event_time AS DATE) <= {_date_literal(last)}
    GROUP BY equipment_id, interval_start, product_id, work_order_id
), has AS (
    SELECT equipment_id, bool_or(tag = 'parts_total') AS _has_total,
           bool_or(tag = 'parts_good') AS _has_good
    FROM rows GROUP BY equipment_id
), totals AS (
    SELECT g.* EXCLUDE (produced), h._has_good,
           CASE WHEN h._has_total THEN g.produced ELSE g.good + g.scrap + g.rework END AS produced
    FROM grouped g LEFT JOIN has h USING (equipment_id)
), counted AS (
    SELECT * EXCLUDE (good, _has_good),
           CASE WHEN _has_good THEN good ELSE greatest(0, produced - scrap - rework) END AS good
    FROM totals
), costed AS (
    SELECT c.*, coalesce(wo._wo, ct._model_product, r._route, anyp._model_any) AS ideal_cycle_s
    FROM counted c
    LEFT JOIN (SELECT equipment_id, kind FROM {lake_view("silver.equipment")} WHERE is_current) k
      ON k.equipment_id = c.equipment_id
    LEFT JOIN (SELECT product_id, equipment_kind, ideal_cycle_s AS _route
               FROM {lake_view("silver.routings")}) r
      ON r.product_id = c.product_id AND r.equipment_kind = k.kind
    LEFT JOIN (SELECT work_order_id, ideal_cycle_s AS _wo FROM {lake_view("silver.work_orders")}) wo
      ON wo.work_order_id = c.work_order_id
    LEFT JOIN (SELECT equipment_id, product_id, ideal_cycle_s AS _model_product
               FROM {lake_view("silver.ideal_cycle_times")}) ct
      ON ct.equipment_id = c.equipment_id AND ct.product_id = c.product_id
    LEFT JOIN (SELECT equipment_id, ideal_cycle_s AS _model_any
               FROM {lake_view("silver.ideal_cycle_times")} WHERE product_id = '*') anyp
      ON anyp.equipment_id = c.equipment_id
)
SELECT equipment_id, interval_start, product_id, work_order_id, produced, good, scrap, rework,
       ideal_cycle_s, ideal_cycle_s * produced AS ideal_time_s,
       ideal_cycle_s * good AS good_ideal_time_s, CAST(interval_start AS DATE) AS event_date
FROM costed
"""


def oee_sql(states: str, counts: str, readings: str, first: date, last: date) -> str:
    """transforms.gold.oee.oee_shift_as_far_as_data (with the calendar's planned windows)."""
    from transforms.gold.oee import NOT_SCHEDULED

    def total(value: str, cond: str) -> str:
        return f"coalesce(sum(CASE WHEN {cond} THEN {value} END), 0.0)"

    not_scheduled = (
        f"(state = 'planned_stop' AND coalesce(reason_code, '') = {_quote(NOT_SCHEDULED)})"
    )
    keys = "equipment_id, site, area, line, shift_id, shift_name, local_date"
    quantities = ", ".join(f"sum(c.{q}) AS {q}" for q in ("produced", "good", "scrap", "rework"))
    counts_out = ", ".join(
        f"CAST(coalesce(q.{c}, 0) AS BIGINT) AS {c}"
        for c in ("produced", "good", "scrap", "rework")
    )
    return f"""
WITH reach AS (
    SELECT equipment_id, max(event_time) AS _as_of FROM {readings} GROUP BY equipment_id
), machines AS (
    SELECT e.equipment_id, e.site, e.area, e.line, r._as_of
    FROM {lake_view("silver.equipment")} e JOIN reach r ON r.equipment_id = e.equipment_id
    WHERE e.is_current AND (e.kind IS NULL OR e.kind != 'energy_meter')
), frame AS (
    SELECT m.*, s.shift_id, s.shift_name, s.local_date, s.start_time AS shift_start,
           s.end_time AS shift_end, least(s.end_time, m._as_of) AS _end
    FROM machines m JOIN {lake_view("silver.shift_calendar")} s ON s.site = m.site
    WHERE s.start_time >= {_from(first)} AND CAST(s.start_time AS DATE) <= {_date_literal(last)}
      AND s.start_time < m._as_of
), windows_clipped AS (
    SELECT f.equipment_id, f.shift_id, greatest(p.start_time, f.shift_start) AS _ws,
           least(p.end_time, f._end) AS _we
    FROM frame f JOIN {lake_view("silver.planned_downtime")} p ON p.shift_id = f.shift_id
    WHERE (p.equipment_id IS NULL OR p.equipment_id = f.equipment_id)
      AND greatest(p.start_time, f.shift_start) < least(p.end_time, f._end)
), windows_reach AS (
    SELECT *, max(_we) OVER (PARTITION BY equipment_id, shift_id ORDER BY _ws, _we
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS _reach
    FROM windows_clipped
), windows_island AS (
    SELECT *, sum(CASE WHEN _reach IS NULL OR _ws > _reach THEN 1 ELSE 0 END)
                  OVER (PARTITION BY equipment_id, shift_id ORDER BY _ws, _we
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _island
    FROM windows_reach
), windows AS (
    SELECT equipment_id, shift_id, _island, min(_ws) AS _ws, max(_we) AS _we
    FROM windows_island GROUP BY equipment_id, shift_id, _island
), window_s AS (
    SELECT equipment_id, shift_id, sum({_seconds("_ws", "_we")}) AS _window_s
    FROM windows GROUP BY equipment_id, shift_id
), st AS (
    SELECT equipment_id AS _st_eq, start_time AS _s,
           coalesce(end_time, lead(start_time) OVER (PARTITION BY equipment_id ORDER BY start_time))
               AS _st_end,
           state, reason_code
    FROM {states}
), joined AS (
    SELECT f.*, st._s, st.state, st.reason_code,
           greatest(st._s, f.shift_start) AS _a,
           least(coalesce(st._st_end, f._as_of), f._end) AS _b
    FROM frame f LEFT JOIN st
      ON f.equipment_id = st._st_eq AND st._s < f._end
     AND coalesce(st._st_end, f._as_of) > f.shift_start
), in_window AS (
    SELECT j.equipment_id, j.shift_id, j._s,
           sum({_seconds("greatest(j._a, w._ws)", "least(j._b, w._we)")}) AS _in_window_s
    FROM joined j JOIN windows w
      ON w.equipment_id = j.equipment_id AND w.shift_id = j.shift_id
     AND w._ws < j._b AND w._we > j._a
    WHERE j._s IS NOT NULL
    GROUP BY j.equipment_id, j.shift_id, j._s
), timed AS (
    SELECT j.*, coalesce(i._in_window_s, 0.0) AS _in_window_s,
           greatest(0.0, {_seconds("j._a", "j._b")}) AS _in_shift,
           {not_scheduled} AS _not_scheduled
    FROM joined j LEFT JOIN in_window i
      ON i.equipment_id = j.equipment_id AND i.shift_id = j.shift_id AND i._s = j._s
), times AS (
    SELECT {keys}, shift_start, shift_end, _end, _as_of,
           {total("_in_shift - _in_window_s", "state = 'planned_stop' AND NOT _not_scheduled")} AS _stop_s,
           {total("_in_shift - _in_window_s", "_not_scheduled")} AS _not_scheduled_s,
           {total("_in_window_s", "_not_scheduled")} AS _not_scheduled_in_window_s,
           {total("_in_window_s", "state = 'running'")} AS _run_in_window_s,
           {total("_in_shift", "state = 'running'")} AS run_s,
           {total("_in_shift - _in_window_s", "state = 'unplanned_stop'")} AS unplanned_downtime_s,
           {total("_in_shift - _in_window_s", "state = 'idle'")} AS idle_s,
           {total("_in_shift - _in_window_s", "state = 'changeover'")} AS changeover_s
    FROM timed
    GROUP BY {keys}, shift_start, shift_end, _end, _as_of
), planned AS (
    SELECT t.*, coalesce(w._window_s, 0.0) - t._run_in_window_s - t._not_scheduled_in_window_s
                + t._stop_s AS planned_downtime_s
    FROM times t LEFT JOIN window_s w ON w.equipment_id = t.equipment_id AND w.shift_id = t.shift_id
), quantities AS (
    SELECT f.equipment_id, f.shift_id, {quantities},
           sum(coalesce(c.ideal_time_s, 0.0)) AS ideal_time_s,
           sum(coalesce(c.good_ideal_time_s, 0.0)) AS good_ideal_time_s
    FROM frame f JOIN {counts} c
      ON c.equipment_id = f.equipment_id AND c.interval_start >= f.shift_start
     AND c.interval_start < f._end
    GROUP BY f.equipment_id, f.shift_id
), shaped AS (
    SELECT p.equipment_id, p.site, p.area, p.line, p.shift_id, p.shift_name, p.local_date,
           p.shift_start, p.shift_end,
           {_seconds("p.shift_start", "p._end")} - p._not_scheduled_s
               - p._not_scheduled_in_window_s AS planned_s,
           p.planned_downtime_s, p.run_s, p.unplanned_downtime_s, p.idle_s, p.changeover_s,
           {counts_out},
           coalesce(q.ideal_time_s, 0.0) AS ideal_time_s,
           coalesce(q.good_ideal_time_s, 0.0) AS good_ideal_time_s,
           p.shift_end <= p._as_of AS is_complete, CAST(p.shift_start AS DATE) AS event_date
    FROM planned p LEFT JOIN quantities q
      ON q.equipment_id = p.equipment_id AND q.shift_id = p.shift_id
), busy AS (
    SELECT *, planned_s - planned_downtime_s AS planned_busy_s FROM shaped
), ratios AS (
    SELECT *,
           CASE WHEN planned_busy_s > 0 THEN run_s / planned_busy_s END AS availability,
           CASE WHEN run_s > 0 THEN ideal_time_s / run_s END AS performance,
           CASE WHEN produced > 0 THEN good / produced END AS quality
    FROM busy
)
SELECT equipment_id, site, area, line, shift_id, shift_name, local_date, shift_start, shift_end,
       planned_s, planned_downtime_s, planned_busy_s, run_s, unplanned_downtime_s, idle_s,
       changeover_s, produced, good, scrap, rework, ideal_time_s, good_ideal_time_s,
       availability, performance, quality,
       CASE WHEN planned_busy_s > 0 THEN coalesce(availability, 0.0) * coalesce(performance, 0.0)
                                         * coalesce(quality, 0.0) END AS oee,
       (planned_busy_s - run_s) / 60 AS availability_loss_min,
       (run_s - ideal_time_s) / 60 AS performance_loss_min,
       (ideal_time_s - good_ideal_time_s) / 60 AS quality_loss_min,
       is_complete, event_date
FROM ratios
"""


class Reference:
    """The chain in DuckDB over the lake's Delta files, for the days each table was rebuilt.

    Each table's inputs are read as the refresh job's steps read them (the catalog's `Read`
    windows): the rows this run built for the days it rebuilt, the lake's rows for the others.
    Each table is written as Delta under `out` (its time counted), as Spark writes its own.
    """

    def __init__(self, lake_root: Path, out: Path, days: dict[str, list[date]], whole: bool):
        from lakehouse.plant_model import model_for_lake
        from transforms.silver.signals import compile_rules

        self.lake_root, self.out, self.days, self.whole = Path(lake_root), Path(out), days, whole
        self.con = duckdb_connection()
        tables = {
            "bronze.mqtt_messages",
            "silver.equipment",
            "silver.tags",
            "silver.downtime_events",
            "silver.routings",
            "silver.work_orders",
            "silver.ideal_cycle_times",
            "silver.shift_calendar",
            "silver.planned_downtime",
            *COMPARED,
        }
        for t in sorted(tables):
            self.con.register(lake_view(t), delta_dataset(self.lake_root, t))
        self.mapping = UnsMapping(compile_rules(model_for_lake(self.lake_root)))
        self.write_seconds = 0.0  # of the step being built

    def run(self) -> tuple[dict[str, float], dict[str, float]]:
        """Build and write every table of the chain: seconds per step, and of those the
        seconds spent writing Delta (the readings step writes silver.unmapped_addresses too)."""
        seconds, writes = {}, {}
        for table, build in (
            ("silver.readings", self.readings),
            ("silver.equipment_states", self.states),
            ("silver.production_counts", self.counts),
            ("gold.oee_shift", self.oee),
        ):
            if not self.days.get(table):
                raise ValueError(f"Spark rebuilt no day of {table}: nothing to compare with")
            self.write_seconds = 0.0
            started = time.perf_counter()
            build()
            seconds[table] = time.perf_counter() - started
            writes[table] = self.write_seconds
        return seconds, writes

    def _in_days(self, table: str, column: str = "event_date") -> str:
        return f"{column} IN ({_days_literal(self.days[table])})"

    def _create(self, table: str, sql: str) -> None:
        """Make `new_<table>` from `sql`, write it as Delta, and the view of the table as the
        next step reads it: these rows for the rebuilt days, the lake's for the others."""
        import deltalake

        from lakehouse.catalog import get_table

        new, spec = "new_" + lake_view(table), get_table(table)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {new} AS {sql}")
        started = time.perf_counter()
        deltalake.write_deltalake(
            str(delta_path(self.out, table)),
            self.con.sql(f"SELECT {', '.join(spec.column_names)} FROM {new}").to_arrow_table(),
            partition_by=list(spec.partition_by) or None,
            mode="overwrite",
        )
        self.write_seconds += time.perf_counter() - started
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW now_{lake_view(table)} AS SELECT * FROM {new} "
            f"UNION ALL BY NAME SELECT * FROM {lake_view(table)} "
            f"WHERE NOT {self._in_days(table)}"
        )

    def _input(self, table: str, reading: str, first: date, last: date) -> str:
        """The rows of `reading` the build of `table` for [first, last] reads (catalog Read)."""
        from lakehouse.catalog import get_table

        read = next(r for r in get_table(table).build.reads if r.table == reading)
        low, high = first - timedelta(days=read.before), last + timedelta(days=read.after)
        where = f"event_date BETWEEN {_date_literal(low)} AND {_date_literal(high)}"
        if read.tags:
            where += f" AND tag IN ({', '.join(_quote(t) for t in read.tags)})"
        return f"(SELECT * FROM now_{lake_view(reading)} WHERE {where})"

    def readings(self) -> None:
        """builders.readings: a rebuild from bronze (all of it, or the days and the day after)."""
        days = self.days["silver.readings"]
        bronze_where = "true"
        if not self.whole:
            bronze_where = (
                f"event_date BETWEEN {_date_literal(days[0])} "
                f"AND {_date_literal(days[-1] + timedelta(days=1))}"
            )
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE addressed AS {self.mapping.sql(bronze_where)}"
        )
        readings_days = (
            "true" if self.whole else self._in_days("silver.readings", "CAST(l.event_time AS DATE)")
        )
        self._create("silver.readings", readings_sql(readings_days))
        unmapped_days = "true" if self.whole else self._in_days("silver.unmapped_addresses")
        self._create("silver.unmapped_addresses", unmapped_sql(unmapped_days))

    def states(self) -> None:
        """builders.equipment_states: one span over the days, its readings a day before and two
        after."""
        table = "silver.equipment_states"
        first, last = self.days[table][0], self.days[table][-1]
        readings = self._input(table, "silver.readings", first, last)
        sql = f"SELECT * FROM ({states_sql(readings, first, last)}) WHERE {self._in_days(table)}"
        self._create(table, sql)

    def _by_runs(self, table: str, build: Callable[[date, date], str]) -> str:
        """steps._build_days: one build per run of consecutive days, the rows of those days."""
        from orchestration.steps import runs_of_days

        parts = [build(first, last) for first, last in runs_of_days(set(self.days[table]))]
        union = " UNION ALL ".join(f"SELECT * FROM ({p})" for p in parts)
        return f"SELECT * FROM ({union}) WHERE {self._in_days(table)}"

    def counts(self) -> None:
        table = "silver.production_counts"
        self._create(
            table,
            self._by_runs(
                table,
                lambda first, last: counts_sql(
                    self._input(table, "silver.readings", first, last), first, last
                ),
            ),
        )

    def oee(self) -> None:
        table = "gold.oee_shift"
        self._create(
            table,
            self._by_runs(
                table,
                lambda first, last: oee_sql(
                    self._input(table, "silver.equipment_states", first, last),
                    self._input(table, "silver.production_counts", first, last),
                    self._input(table, "silver.readings", first, last),
                    first,
                    last,
                ),
            ),
        )


def check_reference_input(lake_root: Path) -> None:
    """The reference maps UNS messages only: refuse a lake with Sparkplug or OPC UA values."""
    for table in ("bronze.sparkplug_messages", "bronze.opcua_values"):
        if delta_path(lake_root, table).exists() and delta_dataset(lake_root, table).count_rows():
            raise ReferenceUnsupported(
                f"{table} holds rows: the DuckDB reference maps UNS messages only, so its "
                "silver.readings could not match; use a lake of UNS history (this benchmark's)"
            )


def run_reference_job(job_file: Path) -> None:
    """(In the DuckDB process) build the chain a job file describes; print the seconds as JSON."""
    job = json.loads(job_file.read_text())
    days = {t: [date.fromisoformat(d) for d in ds] for t, ds in job["days"].items()}
    reference = Reference(Path(job["lake"]), Path(job["out"]), days, job["whole"])
    seconds, writes = reference.run()
    print(json.dumps({"seconds": seconds, "write_seconds": writes}))


@dataclass
class ReferenceRun:
    seconds: float
    steps: dict[str, float]
    writes: dict[str, float]  # of each step's seconds, those writing Delta
    peak_bytes: int
    out: Path


def duckdb_chain(
    lake_root: Path, out: Path, days: dict[str, list[date]], whole: bool
) -> ReferenceRun:
    """The chain in a DuckDB process of its own (no JVM in it), for the same days as Spark's."""
    out.mkdir(parents=True, exist_ok=True)
    job = out / "job.json"
    job.write_text(
        json.dumps(
            {
                "lake": str(lake_root),
                "out": str(out),
                "whole": whole,
                "days": {t: [d.isoformat() for d in ds] for t, ds in days.items()},
            }
        )
    )
    command = [sys.executable, str(Path(__file__).resolve()), "--reference-job", str(job)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakMemory(process.pid) as memory:
        stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the DuckDB reference failed:\n{stderr[-4000:]}")
    times = json.loads(stdout.strip().splitlines()[-1])
    steps = times["seconds"]
    return ReferenceRun(sum(steps.values()), steps, times["write_seconds"], memory.peak_bytes, out)


# -- equality -------------------------------------------------------------------------------
@dataclass
class Comparison:
    table: str
    measures: list[tuple[str, float | None, float | None, bool]]  # name, Spark, DuckDB, agree

    @property
    def agrees(self) -> bool:
        return all(ok for *_, ok in self.measures)


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    return abs(a - b) <= RELATIVE_TOLERANCE * max(abs(a), abs(b)) + 1e-6


def compare(
    con, lake_root: Path, reference_out: Path, days: dict[str, list[date]]
) -> list[Comparison]:
    """Row counts and sums per table: the lake's rows (Spark's) of the days each table was
    rebuilt against the DuckDB reference's."""
    results = []
    for table in COMPARED:
        where = f"event_date IN ({_days_literal(days.get(table, []))})"
        measures = ", ".join(MEASURES[table])
        values = []
        for side, root in (("spark", lake_root), ("duckdb", reference_out)):
            name = f"_cmp_{side}"
            con.register(name, delta_dataset(root, table))
            values.append(con.sql(f"SELECT {measures} FROM {name} WHERE {where}").fetchall()[0])
            con.unregister(name)
        rows = [
            (m, s, d, _close(s, d))
            for m, s, d in zip(MEASURES[table], values[0], values[1], strict=True)
        ]
        results.append(Comparison(table, rows))
    return results


# -- gold example queries --------------------------------------------------------------------
# Spark SQL functions the examples use that DuckDB spells or shapes otherwise, as DuckDB macros.
SPARK_FUNCTIONS = {
    "date_sub": "spark_date_sub(d, n) AS CAST(d - to_days(CAST(n AS INTEGER)) AS DATE)",
    "add_months": "spark_add_months(d, n) AS CAST(d + to_months(CAST(n AS INTEGER)) AS DATE)",
    "explode": "spark_explode(a) AS unnest(a)",
    "timestampdiff": (
        "spark_timestampdiff(unit, a, b) AS CAST(trunc((epoch_us(b) - epoch_us(a)) / "
        "CASE unit WHEN 'second' THEN 1e6 WHEN 'minute' THEN 6e7 WHEN 'hour' THEN 3.6e9 "
        "WHEN 'day' THEN 8.64e10 END) AS BIGINT)"
    ),
}


def duckdb_dialect(sql: str) -> str:
    """A Spark SQL example as DuckDB runs it: the functions of SPARK_FUNCTIONS renamed."""
    sql = re.sub(
        r"\btimestampdiff\(\s*(\w+)\s*,",
        lambda m: f"spark_timestampdiff('{m.group(1).lower()}',",
        sql,
        flags=re.IGNORECASE,
    )
    names = "|".join(n for n in SPARK_FUNCTIONS if n != "timestampdiff")
    return re.sub(rf"\b({names})\s*\(", r"spark_\1(", sql, flags=re.IGNORECASE)


def order_by_outside(sql: str) -> str:
    """The query with its last top-level ORDER BY (and what follows) applied to it as a
    subquery: Spark resolves ORDER BY names to the select list's aliases first, DuckDB to the
    table's columns, which an aggregate query cannot order by."""
    depth, last = 0, None
    for m in re.finditer(r"[()]|\bORDER\s+BY\b", sql, flags=re.IGNORECASE):
        if m.group(0) == "(":
            depth += 1
        elif m.group(0) == ")":
            depth -= 1
        elif depth == 0:
            last = m.start()
    return sql if last is None else f"SELECT * FROM ({sql[:last]}) AS example\n{sql[last:]}"


def duckdb_example(con, sql: str) -> tuple[str, str]:
    """The example as DuckDB runs it, and what had to change beyond the function names."""
    import duckdb

    duck = duckdb_dialect(sql)
    try:
        con.sql(duck)  # binds the query (no rows are read)
    except duckdb.BinderException:
        return order_by_outside(duck), "ORDER BY on the select list"
    return duck, ""


def gold_examples() -> list[tuple[str, str]]:
    """(table, SQL) of every gold example query the catalog declares (docs/tables.md's)."""
    from lakehouse.catalog import all_tables

    return [(spec.full_name, sql) for spec in all_tables("gold") for sql in spec.examples]


def _example_title(sql: str) -> str:
    first = sql.strip().splitlines()[0]
    return first.lstrip("- ").strip() if first.startswith("--") else first[:60]


def gold_connection(lake_root: Path):
    """DuckDB with every gold table of the lake as a view `gold.<name>` over its Delta files."""
    from lakehouse.catalog import all_tables

    con = duckdb_connection()
    for definition in SPARK_FUNCTIONS.values():
        con.execute(f"CREATE MACRO {definition}")
    con.execute("CREATE SCHEMA gold")
    for spec in all_tables("gold"):
        if (delta_path(lake_root, spec.full_name) / "_delta_log").is_dir():
            con.register(lake_view(spec.full_name), delta_dataset(lake_root, spec.full_name))
            con.execute(
                f"CREATE VIEW {spec.full_name} AS SELECT * FROM {lake_view(spec.full_name)}"
            )
    return con


@dataclass
class QueryTime:
    table: str
    title: str
    spark_ms: float | None
    duckdb_ms: float | None
    spark_rows: int | None
    duckdb_rows: int | None
    error: str = ""
    note: str = ""  # how the DuckDB text differs beyond the renamed functions
    engine_ms: float | None = None  # through the warm engine, from a client process
    engine_rows: int | None = None


def _times_ms(run: Callable[[], int], repeats: int) -> tuple[list[float], int]:
    rows = run()  # warm: the first run is not counted
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rows = run()
        times.append((time.perf_counter() - t0) * 1000)
    return times, rows


def _median_ms(run: Callable[[], int], repeats: int) -> tuple[float, int]:
    times, rows = _times_ms(run, repeats)
    return statistics.median(times), rows


def gold_queries(lake, con) -> list[QueryTime]:
    """Each example warm on both engines, one after the other: the median of QUERY_REPEATS."""
    import duckdb
    from pyspark.errors import PySparkException

    results = []
    for table, sql in gold_examples():
        result = QueryTime(table, _example_title(sql), None, None, None, None)
        try:
            result.spark_ms, result.spark_rows = _median_ms(
                lambda sql=sql: len(lake.spark.sql(sql).collect()), QUERY_REPEATS
            )
        except PySparkException as exc:
            result.error += f"Spark: {str(exc).splitlines()[0][:120]} "
        try:
            duck, result.note = duckdb_example(con, sql)
            result.duckdb_ms, result.duckdb_rows = _median_ms(
                lambda duck=duck: len(con.sql(duck).fetchall()), QUERY_REPEATS
            )
        except duckdb.Error as exc:
            result.error += f"DuckDB: {str(exc).splitlines()[0][:120]}"
        results.append(result)
    return results


# -- process start → first answer ----------------------------------------------------------------
ANSWERED = re.compile(r"^\s*\d+ row\(s\)\s*$")

DUCKDB_ONE_QUERY = """
import sys, duckdb, deltalake
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("CREATE SCHEMA gold")
con.register("t", deltalake.DeltaTable(sys.argv[1]).to_pyarrow_dataset())
con.execute(f"CREATE VIEW {sys.argv[2]} AS SELECT * FROM t")
rows = con.sql(sys.argv[3]).fetchall()
for row in rows:
    print(*row, sep="\\t")
print(f"{len(rows)} row(s)", flush=True)
"""


def json_answer(line: str) -> bool:
    """The line is the whole answer of `plantlake sql -f json` (a JSON array of rows)."""
    if not line.lstrip().startswith("["):
        return False
    try:
        return isinstance(json.loads(line), list)
    except ValueError:
        return False


@dataclass
class FirstAnswer:
    seconds: float
    peak_bytes: int
    started_jvm: bool = False  # the process started a JVM of its own (a local Spark session)


def first_answer(
    command: list[str], env: dict[str, str], answered_by: Callable[[str], bool] = ANSWERED.match
) -> FirstAnswer:
    """Seconds from starting `command` to the line that gives its answer (`answered_by`: by
    default "N row(s)", which closes it)."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env
        )
        answered = None
        with PeakMemory(process.pid) as memory:
            for line in process.stdout:
                if answered is None and answered_by(line):
                    answered = time.perf_counter() - started
            process.wait()
        if process.returncode != 0 or answered is None:
            errors.seek(0)
            raise SystemExit(
                f"{' '.join(command[:2])} gave no answer:\n{errors.read().decode()[-3000:]}"
            )
    return FirstAnswer(answered, memory.peak_bytes, memory.started_jvm)


def first_answer_sql() -> tuple[str, str]:
    """The table and SQL of the gold query the start → answer runs ask."""
    return next(e for e in gold_examples() if e[0] == FIRST_ANSWER_TABLE)


def plantlake_sql(sql: str) -> list[str]:
    """`plantlake sql <sql> -f json` (the SQL opens with --: it follows `--`)."""
    return [str(Path(sys.executable).parent / "plantlake"), "sql", "-f", "json", "--", sql]


def lake_env(lake_root: Path, **settings: str) -> dict[str, str]:
    """This process's environment for a client of the lake (PLANTLAKE_* settings added)."""
    return {
        **os.environ,
        "PLANTLAKE_LAKE_ROOT": str(lake_root),
        "SPARK_LOCAL_IP": "127.0.0.1",
        **{f"PLANTLAKE_{k.upper()}": v for k, v in settings.items()},
    }


def first_answers(lake_root: Path) -> tuple[list[FirstAnswer], list[FirstAnswer]]:
    """`plantlake sql` against a DuckDB process, each a fresh process, interleaved."""
    table, sql = first_answer_sql()
    env = lake_env(lake_root, engine="local")  # a local session even if an engine were up
    spark, duck = [], []
    for _ in range(START_REPEATS):
        spark.append(first_answer(plantlake_sql(sql), env, json_answer))
        duck.append(
            first_answer(
                [
                    sys.executable,
                    "-c",
                    DUCKDB_ONE_QUERY,
                    str(delta_path(lake_root, table)),
                    table,
                    duckdb_dialect(sql),
                ],
                env,
            )
        )
    return spark, duck


# -- through the warm engine -------------------------------------------------------------------
@dataclass
class EngineRun:
    """The lake's warm engine (`plantlake engine`) started for the benchmark, and what its
    clients, each a process of its own, measured through it."""

    url: str = ""
    ready_s: float | None = None  # spawn → serving, every table registered
    client_open_s: float | None = None  # open_lake() in the query client: its session
    starts: list[FirstAnswer] = field(default_factory=list)  # `plantlake sql` start → answer
    peak_bytes: int = 0  # the engine's process tree, while its clients ran
    error: str = ""  # why the figures are missing


def run_engine_client() -> None:
    """In a client process of the lake's engine (PLANTLAKE_LAKE_ROOT): ENGINE_WARM_UP_PASSES
    untimed passes over every gold example, then each QUERY_REPEATS times after one untimed run;
    prints the times as one line of JSON."""
    from pyspark.errors import PySparkException

    from lakehouse.lake import open_lake

    started = time.perf_counter()
    lake = open_lake(attach=False)  # the engine's catalog holds every table already
    out = {"open_s": time.perf_counter() - started, "queries": []}
    if not type(lake.spark).__module__.startswith("pyspark.sql.connect"):
        raise SystemExit("the client did not connect to the lake's engine (a local session)")
    for _ in range(ENGINE_WARM_UP_PASSES):
        for _, sql in gold_examples():
            with contextlib.suppress(PySparkException):  # said by the timed runs below
                lake.sql(sql).collect()
    for table, sql in gold_examples():
        query = {"table": table, "sql": sql}
        try:
            query["ms"], query["rows"] = _times_ms(
                lambda sql=sql: len(lake.sql(sql).collect()), QUERY_REPEATS
            )
        except PySparkException as exc:
            query["error"] = str(exc).splitlines()[0][:120]
        out["queries"].append(query)
    print(json.dumps(out), flush=True)


def engine_queries(env: dict[str, str], queries: list[QueryTime]) -> float:
    """Every gold example through the engine, in one client process (`run_engine_client`): its
    median into `queries`; returns the seconds the client took to open the lake."""
    command = [sys.executable, str(Path(__file__).resolve()), "--engine-client"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"the engine's query client failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    by_sql = {(q["table"], q["sql"]): q for q in out["queries"]}
    for (table, sql), result in zip(gold_examples(), queries, strict=True):
        measured = by_sql[(table, sql)]
        if "error" in measured:
            result.error += f"engine: {measured['error']} "
            continue
        result.engine_ms, result.engine_rows = statistics.median(measured["ms"]), measured["rows"]
    return out["open_s"]


def through_engine(lake_root: Path, queries: list[QueryTime], log: Path) -> EngineRun:
    """Start the lake's engine on a free port (as `plantlake engine` starts), time its start;
    then the gold examples warm through it from one client process, and `plantlake sql` start →
    answer, each a fresh process, with it up and warm (the first session of a just-started engine
    costs several seconds more: the query client's); stop it. A failure is recorded in the
    result (the figures without engine stand)."""
    from lakehouse import engine as warm
    from lakehouse.services.ports import free_port, port_open
    from lakehouse.services.processes import (
        ProcessRef,
        ServiceStartError,
        spawn,
        stop_family,
        wait_ready,
    )
    from lakehouse.settings import REPO_ROOT

    run = EngineRun()
    served = warm.running(lake_root)
    if served is not None:
        run.error = f"the lake is served already ({served.url}, pid {served.pid}): stop it first"
        return run
    port = free_port()
    env = lake_env(lake_root, engine="auto", ports__engine=str(port))
    t = _step(f"the lake's warm engine: starting it on port {port} (log: {log})")
    started = time.perf_counter()
    process = spawn([sys.executable, "-m", "lakehouse.cli", "engine"], log, env=env, cwd=REPO_ROOT)
    ref = ProcessRef.of(process.pid)
    try:
        with PeakMemory(process.pid) as memory:
            ready = lambda: warm.running(lake_root) is not None and port_open(port)  # noqa: E731
            wait_ready("engine", ready, process, log, timeout_s=ENGINE_READY_TIMEOUT_S)
            run.ready_s = time.perf_counter() - started
            run.url = warm.running(lake_root).url
            _done(t)
            t = _step(
                f"gold example queries through the engine, one client process "
                f"({ENGINE_WARM_UP_PASSES} untimed pass(es) over all, then {QUERY_REPEATS} runs "
                "each after one untimed)"
            )
            run.client_open_s = engine_queries(env, queries)
            _done(t)
            t = _step(
                f"plantlake sql start → answer through the engine, a fresh process each "
                f"({START_REPEATS} runs)"
            )
            _, sql = first_answer_sql()
            for _ in range(START_REPEATS):
                run.starts.append(first_answer(plantlake_sql(sql), env, json_answer))
            if any(a.started_jvm for a in run.starts):
                raise SystemExit("plantlake sql started Spark itself instead of using the engine")
            _done(t)
        run.peak_bytes = memory.peak_bytes
    except (ServiceStartError, SystemExit, subprocess.TimeoutExpired, ValueError) as exc:
        run.error = str(exc) or type(exc).__name__
        console.print(f"[red]  through the engine: {escape(run.error)}[/red]")
    finally:
        stop_family(ref)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    return run


# -- the report --------------------------------------------------------------------------------
def _ratio(a: float | None, b: float | None) -> str:
    return "–" if not a or not b else f"{a / b:.1f}×"


def _met(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[red]not met[/red]"


@dataclass
class Results:
    busiest_day: date
    busiest_readings: int
    spark_warm_up_s: float  # the first run of the one-day chain in this process (not counted)
    spark_day: ChainRun
    duckdb_day: ReferenceRun
    spark_whole: ChainRun
    duckdb_whole: ReferenceRun
    equal_day: list[Comparison]
    equal_whole: list[Comparison]
    queries: list[QueryTime] = field(default_factory=list)
    spark_starts: list[FirstAnswer] = field(default_factory=list)
    duckdb_starts: list[FirstAnswer] = field(default_factory=list)
    spark_engine: str = ""  # what ran the Spark side
    engine: EngineRun = field(default_factory=EngineRun)  # through the lake's warm engine


def _query_medians(
    queries: list[QueryTime], spark: str = "spark_ms"
) -> tuple[list[float], list[float]]:
    """Per query, the Spark side's median (`spark`: spark_ms, or engine_ms through the engine)
    and DuckDB's, of the queries both answered."""
    both = [q for q in queries if getattr(q, spark) is not None and q.duckdb_ms is not None]
    return [getattr(q, spark) for q in both], [q.duckdb_ms for q in both]


def _start_row(r: Results) -> list[str]:
    spark = statistics.median(a.seconds for a in r.spark_starts)
    duck = statistics.median(a.seconds for a in r.duckdb_starts)
    return [
        f"process start → first answer, one gold query (median of {START_REPEATS}; plantlake "
        "sql without engine)",
        f"{spark:.1f} s",
        f"{duck:.2f} s",
        _ratio(spark, duck),
        *TODAY["start"],
        f"plantlake sql without engine ≤ {START_GOAL_S:.0f} s: {_met(spark <= START_GOAL_S)}",
    ]


def _engine_start_row(r: Results) -> list[str]:
    title = (
        f"process start → first answer, one gold query (median of {START_REPEATS}) through the "
        "warm engine"
    )
    goal = f"plantlake sql with engine ≤ {ENGINE_START_GOAL_S:.0f} s"
    if not r.engine.starts:
        return [title, "–", "", "", "", "", "", f"{goal}: not measured"]
    spark = statistics.median(a.seconds for a in r.engine.starts)
    duck = statistics.median(a.seconds for a in r.duckdb_starts)
    return [
        title,
        f"{spark:.2f} s",
        f"{duck:.2f} s",
        _ratio(spark, duck),
        "",
        "",
        "",
        f"{goal}: {_met(spark <= ENGINE_START_GOAL_S)}",
    ]


def _query_row(r: Results, through_engine: bool = False) -> list[str]:
    spark_ms, duck_ms = _query_medians(r.queries, "engine_ms" if through_engine else "spark_ms")
    title = "gold example query, warm" + (" through the warm engine" if through_engine else "")
    then = ("", "", "") if through_engine else TODAY["query"]
    goal = f"Spark median ≤ {QUERY_MEDIAN_GOAL_MS:.0f} ms"
    if not spark_ms:
        return [title, "–", "–", "–", *then, f"{goal}: not measured" if through_engine else ""]
    spark, duck = statistics.median(spark_ms), statistics.median(duck_ms)
    return [
        f"{title} ({len(spark_ms)} queries: median (range))",
        f"{spark:.0f} ms ({min(spark_ms):.0f}–{max(spark_ms):.0f})",
        f"{duck:.1f} ms ({min(duck_ms):.1f}–{max(duck_ms):.1f})",
        _ratio(spark, duck),
        *then,
        f"{goal}: {_met(spark <= QUERY_MEDIAN_GOAL_MS)}",
    ]


def _engine_ready_row(r: Results) -> list[str]:
    e = r.engine
    opened = (
        ""
        if e.client_open_s is None
        else f"; its first client's open_lake(): {e.client_open_s:.2f} s"
    )
    return [
        f"the warm engine's start: spawn → serving, every table registered (once{opened})",
        "–" if e.ready_s is None else f"{e.ready_s:.1f} s",
        *[""] * 6,
    ]


def _chain_row(key: str, title: str, spark: ChainRun, duck: ReferenceRun) -> list[str]:
    ratio = spark.seconds / duck.seconds
    return [
        title,
        f"{spark.seconds:.1f} s",
        f"{duck.seconds:.1f} s",
        f"{ratio:.1f}×",
        *TODAY[key],
        f"≤ {CHAIN_RATIO_GOAL:.0f}×: {_met(ratio <= CHAIN_RATIO_GOAL)}",
    ]


def _memory_row(r: Results) -> list[str]:
    spark = [r.spark_day, r.spark_whole, max(r.spark_starts, key=lambda a: a.peak_bytes)]
    duck = [r.duckdb_day, r.duckdb_whole, max(r.duckdb_starts, key=lambda a: a.peak_bytes)]
    return [
        "peak memory of the process tree (one day / whole lake / first answer)",
        " / ".join(_gb(x.peak_bytes) for x in spark),
        " / ".join(_gb(x.peak_bytes) for x in duck),
        "",
        *TODAY["memory"],
        "",
    ]


def _engine_memory_row(r: Results) -> list[str]:
    client = max((a.peak_bytes for a in r.engine.starts), default=0)
    return [
        "peak memory through the warm engine (the engine's process tree / a plantlake sql client)",
        f"{_gb(r.engine.peak_bytes)} / {_gb(client)}",
        *[""] * 6,
    ]


def summary_table(r: Results) -> Table:
    through = (
        f"the lake's engine (`plantlake engine`) at {r.engine.url}, its clients processes of "
        "their own"
        if r.engine.url
        else f"the lake's engine did not run ({escape(r.engine.error.splitlines()[0][:100])})"
        if r.engine.error
        else "not measured"
    )
    table = Table(
        title="plantlake (Spark) against DuckDB, same machine, same run; and as issue 17 "
        "recorded it",
        caption=f"Spark: {r.spark_engine}; through the warm engine: {through}. Chain: bronze "
        "UNS → silver.readings → silver.equipment_states → silver.production_counts → "
        "gold.oee_shift",
    )
    table.add_column("work", min_width=34)
    for column in ("Spark", "DuckDB", "ratio", "Spark then", "DuckDB then", "ratio then"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("goal", width=22)  # the table fits in 180 columns
    table.add_row(*_start_row(r))
    table.add_row(*_engine_start_row(r))
    table.add_row(*_query_row(r))
    table.add_row(*_query_row(r, through_engine=True))
    day = f"chain, one day ({r.busiest_day}, {r.busiest_readings:,} readings)"
    table.add_row(*_chain_row("one_day", day, r.spark_day, r.duckdb_day))
    table.add_row(*_chain_row("whole", "chain, the whole lake", r.spark_whole, r.duckdb_whole))
    table.add_row(
        "the one-day chain run first in the process (JVM warm-up, not counted)",
        f"{r.spark_warm_up_s:.1f} s",
        *[""] * 6,
    )
    table.add_row(*_engine_ready_row(r))
    table.add_row(*_memory_row(r))
    table.add_row(*_engine_memory_row(r))
    return table


def _days_span(days: list[date]) -> str:
    return f"{days[0]} … {days[-1]} ({len(days)})" if len(days) > 1 else ", ".join(map(str, days))


def steps_table(r: Results) -> Table:
    table = Table(
        title="the chain step by step (Spark: the refresh job's steps; DuckDB: its SQL, then "
        "the Delta write)"
    )
    for column in ("run", "table", "days"):
        table.add_column(column)
    for column in ("Spark s", "Spark jobs", "Delta commits", "DuckDB s", "of which write", "ratio"):
        table.add_column(column, justify="right")
    for title, spark, duck in (
        ("one day", r.spark_day, r.duckdb_day),
        ("whole lake", r.spark_whole, r.duckdb_whole),
    ):
        for step in spark.steps:
            duck_s = duck.steps.get(step.table)
            table.add_row(
                title,
                step.table + (" (+ unmapped)" if step.table == "silver.readings" else ""),
                _days_span(spark.days.get(step.table, [])),
                f"{step.seconds:.1f}",
                "–" if step.jobs is None else str(step.jobs),
                str(step.commits),
                f"{duck_s:.2f}",
                f"{duck.writes.get(step.table, 0):.2f}",
                _ratio(step.seconds, duck_s),
            )
    return table


def equality_table(title: str, comparisons: list[Comparison]) -> Table:
    table = Table(title=title)
    for column in ("table", "measure", "Spark", "DuckDB", "agree"):
        table.add_column(column, justify="left" if column in ("table", "measure") else "right")

    def show(v) -> str:
        return "null" if v is None else f"{v:,.12g}" if isinstance(v, float) else f"{v:,}"

    for c in comparisons:
        for i, (measure, spark, duck, ok) in enumerate(c.measures):
            table.add_row(
                c.table if i == 0 else "",
                measure,
                show(spark),
                show(duck),
                "[green]yes[/green]" if ok else "[red]NO[/red]",
            )
    return table


def queries_table(queries: list[QueryTime]) -> Table:
    table = Table(
        title=f"gold example queries, warm: median of {QUERY_REPEATS} after one untimed run "
        "(engine: through the warm engine, from a client process, after "
        f"{ENGINE_WARM_UP_PASSES} untimed pass(es) over all)"
    )
    columns = ("table", "query", "Spark ms", "engine ms", "DuckDB ms", "ratio", "engine ratio")
    for column in (*columns, "rows S/E/D"):
        table.add_column(column, justify="left" if column in ("table", "query") else "right")
    for q in queries:
        table.add_row(
            q.table.removeprefix("gold."),
            q.title[:70]
            + (f" [dim]({q.note})[/dim]" if q.note else "")
            + (f" [red]{escape(q.error)}[/red]" if q.error else ""),
            "–" if q.spark_ms is None else f"{q.spark_ms:.0f}",
            "–" if q.engine_ms is None else f"{q.engine_ms:.0f}",
            "–" if q.duckdb_ms is None else f"{q.duckdb_ms:.1f}",
            _ratio(q.spark_ms, q.duckdb_ms),
            _ratio(q.engine_ms, q.duckdb_ms),
            f"{q.spark_rows}/{'–' if q.engine_rows is None else q.engine_rows}/{q.duckdb_rows}",
        )
    return table


# -- the run -------------------------------------------------------------------------------
def _open(lake_root: Path):
    from lakehouse.lake import open_lake
    from lakehouse.settings import load_settings

    return open_lake(load_settings(lake_root=lake_root))


def _step(title: str) -> float:
    console.print(f"[bold]→ {title}[/bold]")
    return time.perf_counter()


def _done(started: float, note: str = "") -> None:
    console.print(f"  done in {time.perf_counter() - started:.1f} s{note}")


def benchmark(lake_root: Path, days: int) -> Results:
    t = _step(f"opening the lake at {lake_root}")
    lake = _open(lake_root)
    engine = engine_in_use(lake)
    _done(t, f" (Spark: {engine.name})")
    if lake_is_built(lake):
        console.print("  reusing the lake built there before")
    else:
        t = _step(f"building the lake: {days} days of the simulated plant up to {LAST_DAY}")
        build_lake(lake, days)
        _done(t)
    check_reference_input(lake.root)
    con = duckdb_connection()
    per_day = readings_per_day(con, lake.root)
    busiest = max(per_day, key=lambda d: (per_day[d], d))
    console.print(
        f"  bronze: {sum(per_day.values()):,} UNS readings over {len(per_day)} days; the busiest "
        f"day {busiest}: {per_day[busiest]:,}"
    )
    scratch = lake.root / "_engine_bench"
    shutil.rmtree(scratch, ignore_errors=True)

    t = _step(f"Spark: the chain for {busiest}, once to warm the engine up (not counted)")
    warm_up = spark_chain(lake, busiest.isoformat(), engine)
    _done(t)
    t = _step(f"Spark: the chain for {busiest}")
    spark_day = spark_chain(lake, busiest.isoformat(), engine)
    _done(t)
    t = _step("DuckDB: the same days of the same tables")
    duckdb_day = duckdb_chain(lake.root, scratch / "one_day", spark_day.days, whole=False)
    _done(t)
    equal_day = compare(con, lake.root, duckdb_day.out, spark_day.days)

    t = _step("Spark: the chain for the whole lake")
    spark_whole = spark_chain(lake, "all", engine)
    _done(t)
    t = _step("DuckDB: the whole lake")
    duckdb_whole = duckdb_chain(lake.root, scratch / "whole", spark_whole.days, whole=True)
    _done(t)
    equal_whole = compare(con, lake.root, duckdb_whole.out, spark_whole.days)
    results = Results(
        busiest,
        per_day[busiest],
        warm_up.seconds,
        spark_day,
        duckdb_day,
        spark_whole,
        duckdb_whole,
        equal_day,
        equal_whole,
    )
    results.spark_engine = engine.name

    t = _step(f"gold example queries, warm, on both engines ({QUERY_REPEATS} runs each)")
    results.queries = gold_queries(lake, gold_connection(lake.root))
    _done(t)
    t = _step(f"process start → first answer, a fresh process each ({START_REPEATS} runs each)")
    results.spark_starts, results.duckdb_starts = first_answers(lake.root)
    _done(t)
    scratch.mkdir(parents=True, exist_ok=True)
    results.engine = through_engine(lake.root, results.queries, scratch / "engine.log")
    return results


def report(r: Results) -> list[str]:
    """Print every table; returns the tables on which the engines disagree."""
    console.print(summary_table(r))
    console.print(steps_table(r))
    console.print(
        equality_table(
            f"equal rows, one day (the days each step rebuilt for {r.busiest_day})", r.equal_day
        )
    )
    console.print(equality_table("equal rows, the whole lake", r.equal_whole))
    console.print(queries_table(r.queries))
    if r.engine.error:
        console.print(f"[red]through the warm engine: {escape(r.engine.error)}[/red]")
    return [
        f"{c.table} ({run})"
        for run, cs in (("one day", r.equal_day), ("whole lake", r.equal_whole))
        for c in cs
        if not c.agrees
    ]


def main(
    days: int = typer.Option(15, min=1, help="days of plant history to build the lake with"),
    lake: Path | None = typer.Option(
        None, help="build the lake here and keep it, or reuse the one built there before"
    ),
    reference_job: Path | None = typer.Option(
        None, hidden=True, help="(internal) run the DuckDB chain a job file describes"
    ),
    engine_client: bool = typer.Option(
        False, hidden=True, help="(internal) time the gold examples through the lake's engine"
    ),
) -> None:
    if reference_job is not None:
        run_reference_job(reference_job)
        return
    if engine_client:
        run_engine_client()
        return
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    root = lake or Path(tempfile.mkdtemp(prefix="plantlake-bench-engine-"))
    try:
        results = benchmark(root.resolve(), days)
        disagree = report(results)
    except ReferenceUnsupported as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        if lake is None:
            shutil.rmtree(root, ignore_errors=True)
    if disagree:
        console.print(f"[red]the engines disagree on {', '.join(disagree)}[/red]")
        raise typer.Exit(1)
    console.print("[green]both engines give the same rows for every table of the chain[/green]")
    if results.engine.error:
        raise typer.Exit(3)


if __name__ == "__main__":
    typer.run(main)
