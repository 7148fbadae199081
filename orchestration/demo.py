"""`plantlake demo`: the main job end to end on this machine, printing what it did.

Start Spark on the lake, create the catalog, generate a day of the simulated plant's history,
load it into bronze (twice, to show the load is idempotent) and read it back by name; run the
live plant through the real connectors into bronze and reconcile every source; then build silver
and gold through Dagster, print the OEE of the last day per line with the check results, and
compare gold OEE with the simulator's ground truth.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

import plant
from lakehouse.plant_model import install_model
from orchestration.materialize import materialize, materialize_scores

app = typer.Typer(help="Run the main job end to end and print what it did.", add_completion=False)
console = Console(width=None if sys.stdout.isatty() else 132)


def _log_to_file(lake_root: Path) -> Path:
    """Send the libraries' logs (connectors, OPC UA, Spark's Python side) to a file, not the screen."""
    path = lake_root / "_logs" / f"demo-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


@contextmanager
def step(title: str):
    """Print a step with the seconds it took."""
    console.print(f"[bold]→ {title}[/bold]")
    start = time.perf_counter()
    yield
    console.print(f"  done in {time.perf_counter() - start:.1f} s")


@app.callback(invoke_without_command=True)
def demo(
    days: int = typer.Option(1, min=1, help="days of plant history to generate"),
    seed: int = typer.Option(1, help="seed of the simulated plant"),
    start: str = typer.Option("2026-03-02", help="first simulated day (UTC), YYYY-MM-DD"),
    live_minutes: float = typer.Option(
        30, help="plant minutes of the live run through the real connectors (0: skip)"
    ),
    speed: float = typer.Option(60, help="plant seconds per wall-clock second in the live run"),
    history_days: int = typer.Option(
        14,
        min=0,
        help="days of plant history before `start` (historian export) to train the models on "
        "(0: no models)",
    ),
    history_sample_s: int = typer.Option(
        60, min=1, help="the history's analog tags every N seconds at most"
    ),
    sample_s: int = typer.Option(
        0,
        min=0,
        help="the demo days too as a historian export, analog tags every N seconds at most "
        "(0: every reading as the plant sends it live)",
    ),
    fresh: bool = typer.Option(
        False, help="delete the lake first (only a folder plantlake made) so that runs compare"
    ),
) -> None:
    """Set up the lake, feed it from the simulated plant, and show the tables."""
    from ingestion.backfill import load_mes_backfill, load_uns_backfill
    from lakehouse.catalog import all_tables
    from lakehouse.lake import is_plantlake_lake, open_lake
    from lakehouse.settings import get_settings
    from plant.backfill import backfill
    from plant.config import load_plant_config

    settings = get_settings()
    started = time.perf_counter()
    if fresh and settings.lake_root.exists():
        if not is_plantlake_lake(settings.lake_root):
            console.print(
                f"[red]--fresh: {settings.lake_root.resolve()} is not a plantlake lake (no marker "
                "file); refusing to delete it[/red]"
            )
            raise typer.Exit(2)
        shutil.rmtree(settings.lake_root)
        console.print(f"--fresh: deleted the lake at {settings.lake_root.resolve()}")
    console.print(f"logs: {_log_to_file(settings.lake_root.resolve())}")
    with step(
        f"opening the lake at {settings.lake_root.resolve()} (Spark {settings.spark_master})"
    ):
        lake = open_lake(settings)
    with step("creating the catalog tables"):
        created = lake.create_all()
        console.print(f"  {len(created)} created, {len(all_tables()) - len(created)} already there")
    with step(f"using the simulated plant's model file {plant.MODEL_FILE.name}"):
        install_model(lake.root, plant.MODEL_FILE)

    out_dir = lake.root / "_backfill" / f"seed={seed}"
    first_day = datetime.fromisoformat(start).replace(tzinfo=UTC)
    history_start = first_day - timedelta(days=history_days)
    history = [history_start.date() + timedelta(days=i) for i in range(history_days)]
    with step(
        f"generating {days} day(s) of plant history (seed {seed}) into {out_dir}"
        + (
            f", after {history_days} days of historian export (analog tags every "
            f"{history_sample_s} s, no auxiliary tags) from {history_start:%Y-%m-%d}"
            if history_days
            else ""
        )
    ):
        summary = backfill(
            load_plant_config(),
            seed=seed,
            days=history_days + days,
            out_dir=out_dir,
            start=history_start,
            sample_s=sample_s or history_sample_s,
            aux=False,
            detail_from=None if sample_s else first_day,
        )
        console.print(f"  {summary}")

    uns_dir = Path(out_dir) / "uns"
    for attempt in ("first load", "replay of the same files"):
        with step(f"loading the backfill into bronze.mqtt_messages ({attempt})"):
            load = load_uns_backfill(lake, uns_dir)
            console.print(
                f"  read {load.rows_read:,} readings, added {load.rows_added:,} rows "
                f"(table version {load.version})"
            )

    with step("loading the backfill's MES/ERP row versions into bronze.mes_rows"):
        load = load_mes_backfill(lake, Path(out_dir) / "mes")
        console.print(f"  read {load.rows_read:,} row versions, added {load.rows_added:,}")

    with step("reading the backfill back from bronze.mqtt_messages by name"):
        rows = lake.spark.sql(
            """
            SELECT split(topic, '/')[1] AS site, split(topic, '/')[3] AS line,
                   count(*) AS readings, min(source_timestamp) AS first, max(source_timestamp) AS last
            FROM bronze.mqtt_messages WHERE source = 'plant-backfill' GROUP BY 1, 2 ORDER BY 1, 2
            """
        ).collect()
        table = Table(title="bronze.mqtt_messages by line")
        for column in ("site", "line", "readings", "first (UTC)", "last (UTC)"):
            table.add_column(column, justify="right" if column == "readings" else "left")
        for r in rows:
            table.add_row(r.site, r.line, f"{r.readings:,}", str(r.first), str(r.last))
        console.print(table)
    if history:
        with step(
            "materializing silver and gold with Dagster (job refresh: one run for every day "
            "in bronze)"
        ):
            _report(materialize(lake))
            console.print(f"  {lake.read('gold.asset_health_features').count():,} feature hours")
        _models(lake)
        scoring_days = [first_day.date() + timedelta(days=i) for i in range(days)]
        with step(
            "scoring the demo days with the champions (job score, one run per day): "
            + ", ".join(map(str, scoring_days))
        ):
            scored = materialize_scores(lake, scoring_days)
            for run in scored:
                _report(run, f"{run.day}: ")
    if live_minutes > 0:
        from orchestration.live import run_live_demo

        with step(
            f"running the live plant for {live_minutes:g} plant minutes at {speed:g}x through OPC UA, MQTT (JSON and "
            "Sparkplug B) and PostgreSQL into bronze"
        ):
            summary, counts = run_live_demo(
                lake, plant_seconds=live_minutes * 60, speed=speed, seed=seed
            )
            table = Table(title="live sources: what the plant sent, what reached bronze")
            for column in (
                "source",
                "sent",
                "accepted",
                "quarantined",
                "rows in bronze",
                "how to read it",
            ):
                table.add_column(
                    column, justify="left" if column in ("source", "how to read it") else "right"
                )
            for c in counts:
                table.add_row(
                    c.source,
                    f"{c.sent:,}",
                    f"{c.accepted:,}",
                    f"{c.quarantined:,}",
                    f"{c.in_bronze:,}",
                    c.note,
                )
            console.print(table)
            console.print(
                f"  plant: {summary.plant_seconds / 60:.0f} min in {summary.wall_seconds:.0f} s wall; {summary.mes_changes:,} MES changes written"
            )
    last_day = first_day.date() + timedelta(days=days - 1)
    _silver_and_gold(lake, Path(out_dir) / "truth" / "shifts.parquet", last_day)
    if history:
        _predictions(lake, last_day, scored)
    console.print(f"[green]demo finished in {time.perf_counter() - started:.0f} s[/green]")


def _models(lake) -> None:
    """Train both models through Dagster (job train_models) and print their holdout metrics
    beside the baselines."""
    from orchestration.materialize import materialize_training

    with step("training the maintenance and quality models through Dagster (job train_models)"):
        run, metadata = materialize_training(lake)
        if not run.success:
            console.print(f"[red]training failed[/red]\n{run.failure}")
            raise typer.Exit(1)
        for asset, meta in sorted(metadata.items()):
            console.print(
                f"  {asset}: {meta['registered_model']} v{meta['version']} is "
                f"{meta['role']} ({meta['gate']}); trained in {meta['train_seconds']:.1f} s; "
                f"holdout {meta['holdout_window']}"
            )
            console.print(_indent(meta["holdout_metrics"]))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in str(text).splitlines())


def _predictions(lake, day, runs) -> None:
    """What the champions predicted for `day`: the machines most at risk, defects expected."""
    for run in runs:
        for table in ("gold/maintenance_predictions", "gold/quality_predictions"):
            meta = run.metadata.get(table, {})
            if "scoring_seconds_per_1000_rows" in meta:
                console.print(
                    f"  {run.day} {table}: {meta['dagster/row_count']:,} rows scored by "
                    f"{meta['model']} in {meta['scoring_seconds_per_1000_rows']:.3f} s per 1,000 rows"
                )
    risk = lake.spark.sql(
        f"""
        SELECT p.equipment_id, max_by(p.failure_probability, p.hour_start) AS p_now,
               max(p.failure_probability) AS p_max, max_by(p.rul_h, p.hour_start) AS rul_h,
               first(p.model_version) AS v, count_if(p.alarm) AS alarm_hours
        FROM gold.maintenance_predictions p WHERE p.event_date = DATE'{day}'
        GROUP BY p.equipment_id ORDER BY p_now DESC LIMIT 5
        """
    ).collect()
    table = Table(title=f"gold.maintenance_predictions on {day}: most at risk at the day's end")
    for column in ("equipment", "P(fail 24 h)", "max in day", "RUL h", "alarm hours", "model"):
        table.add_column(column, justify="left" if column == "equipment" else "right")
    for r in risk:
        table.add_row(
            r.equipment_id,
            f"{r.p_now:.1%}",
            f"{r.p_max:.1%}",
            "" if r.rul_h is None else f"{r.rul_h:.0f}",
            str(r.alarm_hours),
            f"v{r.v}",
        )
    console.print(table)
    q = lake.spark.sql(
        f"""
        SELECT count(*) AS n, sum(produced) AS produced, sum(expected_defects) AS expected,
               sum(actual_defects) AS actual, first(model_version) AS v
        FROM gold.quality_predictions WHERE event_date = DATE'{day}'
        """
    ).first()
    if q and q.n:
        console.print(
            f"gold.quality_predictions on {day} (plantlake-quality v{q.v}): {q.n:,} batches, "
            f"{q.produced:,} parts, {q.expected:,.0f} defects expected, {q.actual:,} reported"
        )
    drift = lake.spark.sql(
        "SELECT model_name, count_if(drifted) AS drifted, count(*) AS n FROM gold.feature_drift "
        f"WHERE score_start = TIMESTAMP'{day} 00:00:00' GROUP BY model_name ORDER BY model_name"
    ).collect()
    for r in drift:
        console.print(
            f"gold.feature_drift {day}: {r.model_name}: {r.drifted} of {r.n} features with "
            "PSI > 0.2 against the training window"
        )


def _report(run, prefix: str = "") -> None:
    """One line for a Dagster run, and the checks that did not pass."""
    checks = run.checks
    failed = [c for c in checks if not c.passed]
    console.print(
        f"  {prefix}{'success' if run.success else '[red]FAILED[/red]'} in {run.seconds:.0f} s, "
        f"{len(run.materialized)} tables, {len(checks) - len(failed)}/{len(checks)} checks passed"
        + (f", skipped {run.skipped}" if run.skipped else "")
    )
    for c in failed:
        console.print(f"    {c.severity.upper()} {c.asset}: {c.summary.splitlines()[0][:200]}")
    if run.failure:
        console.print(f"[red]{run.failure}[/red]")


def _silver_and_gold(lake, truth_path: Path, last_day):
    """Materialize silver and gold with Dagster; print OEE, checks, ground truth."""
    from orchestration.truth import compare_with_truth

    with step(
        "materializing silver and gold with Dagster (job refresh: each table rebuilds the days "
        "its inputs changed on)"
    ):
        run = materialize(lake)
        _report(run)
    rows = lake.spark.sql(
        f"""
        SELECT site, area, line, local_date, equipment_count, planned_busy_s / 3600 AS pbt_h,
               run_s / 3600 AS run_h, produced, good, availability, performance, quality, oee
        FROM gold.oee_line_day WHERE local_date = DATE'{last_day}' ORDER BY site, area, line
        """
    ).collect()
    table = Table(
        title=f"gold.oee_line_day on {last_day} (ISO 22400-2, from summed times and counts)"
    )
    for column in (
        "site",
        "line",
        "machines",
        "PBT h",
        "APT h",
        "produced",
        "good",
        "A",
        "P",
        "Q",
        "OEE",
    ):
        table.add_column(column, justify="left" if column in ("site", "line") else "right")
    pct = lambda v: "" if v is None else f"{v:.1%}"  # noqa: E731
    for r in rows:
        table.add_row(
            r.site,
            f"{r.area}/{r.line}",
            str(r.equipment_count),
            f"{r.pbt_h:.1f}",
            f"{r.run_h:.1f}",
            f"{r.produced:,}",
            f"{r.good:,}",
            pct(r.availability),
            pct(r.performance),
            pct(r.quality),
            pct(r.oee),
        )
    console.print(table)
    checks = Table(
        title="checks of the tables above (Great Expectations, run as Dagster asset checks)"
    )
    for column in ("asset", "passed", "severity", "summary"):
        checks.add_column(column)
    last = {c.asset: c for c in run.checks}
    for name in (
        "silver/readings",
        "silver/equipment_states",
        "silver/production_counts",
        "gold/oee_shift",
        "gold/oee_line_day",
    ):
        c = last.get(name)
        if c:
            checks.add_row(
                name, "yes" if c.passed else "no", c.severity, c.summary.splitlines()[0][:90]
            )
    console.print(checks)
    if truth_path.exists():
        with step("comparing gold.oee_shift with the simulator's ground truth"):
            console.print(f"  {compare_with_truth(lake, truth_path)}")
    return run
