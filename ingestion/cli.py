"""`plantlake ingest run [--check]` and `plantlake ingest status`."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Ingest from OPC UA, MQTT/Sparkplug B and MES/ERP into bronze.", no_args_is_help=True
)
console = Console()

CONFIG_OPTION = typer.Option(Path("ingestion.yaml"), "--config", "-c", help="the ingestion YAML")


def _load(config: Path):
    from ingestion.config import IngestionConfigError, load_ingestion_config
    from lakehouse.settings import SettingsError, get_settings

    try:
        return load_ingestion_config(config), get_settings()
    except (IngestionConfigError, SettingsError) as exc:
        console.print(f"[red]configuration error[/red]\n{exc}")
        raise typer.Exit(2) from None


@app.command()
def run(
    config: Path = CONFIG_OPTION,
    duration: float = typer.Option(
        0, help="stop after this many seconds (0: until Ctrl-C / SIGTERM)"
    ),
    load_bronze: bool = typer.Option(True, "--load/--no-load", help="run the bronze loader too"),
    check: bool = typer.Option(
        False,
        "--check",
        help="only connect to every source, resolve what the config names, report problems and "
        "exit (1 if there are any)",
    ),
) -> None:
    """Run every connector of the config and the bronze loader until stopped."""
    from ingestion.service import IngestionService

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cfg, settings = _load(config)
    service = IngestionService(cfg, settings.lake_root)
    if check:
        problems = service.check()
        for source, found in problems.items():
            mark = "[green]ok[/green]" if not found else "[red]" + "; ".join(found) + "[/red]"
            console.print(f"{source}: {mark}")
        raise typer.Exit(1 if any(problems.values()) else 0)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if duration:
        threading.Timer(duration, stop.set).start()
    console.print(f"ingesting {len(cfg.sources)} source(s) into {service.landing_root}")
    service.run(stop, load_bronze=load_bronze)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@app.command()
def status(config: Path = CONFIG_OPTION) -> None:
    """Per source: state, last error, restarts, counts, lag and backlog.

    Exits 1 when any source is failing or the service is not running (its status files are
    older than three status intervals), so that monitoring can run it.
    """
    from ingestion.landing import LandingZone
    from ingestion.service import processed_landing_files, read_status

    cfg, settings = _load(config)
    lake_root = settings.lake_root.resolve()
    landing = (cfg.landing_root or lake_root / "_landing").resolve()
    done = processed_landing_files(lake_root / "_checkpoints" / "bronze_loader")
    zone = LandingZone(landing)
    now = datetime.now(UTC)
    table = Table(title=f"ingestion status ({landing})")
    columns = (
        "source",
        "type",
        "state",
        "last error",
        "restarts",
        "received",
        "accepted",
        "quarantined",
        "last message",
        "bronze lag",
        "backlog files",
    )
    for col in columns:
        table.add_column(col, justify="left" if col in columns[:4] else "right", overflow="fold")
    bad = []
    for source in cfg.sources:
        st = read_status(landing, source.name, now)
        pending = [f for f in zone.files(source.name) if str(f.resolve()) not in done]
        state = st.get("state", "not running")
        if state in ("failing", "not running"):
            bad.append(source.name)
        colour = {"connected": "green", "failing": "red", "not running": "red"}.get(state, "yellow")
        error = "-"
        if st.get("last_error"):
            error = f"{st['last_error_at'][:19]}Z {st['last_error']}"
        table.add_row(
            source.name,
            source.type,
            f"[{colour}]{state}[/{colour}]",
            error,
            f"{st.get('restarts', 0):,}",
            f"{st.get('received', 0):,}",
            f"{st.get('accepted', 0):,}",
            f"{st.get('quarantined', 0):,}",
            f"{_age(st['last_message_age_s'])} ago" if st.get("last_message_at") else "never",
            _age(now.timestamp() - min(f.stat().st_mtime for f in pending)) if pending else "-",
            f"{len(pending):,}",
        )
    console.print(table)
    if bad:
        console.print(f"[red]not healthy: {', '.join(bad)}[/red]")
        raise typer.Exit(1)
