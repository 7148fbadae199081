"""`plantlake ingest run` and `plantlake ingest status`."""

from __future__ import annotations

import json
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
) -> None:
    """Run every connector of the config and the bronze loader until stopped."""
    from ingestion.service import IngestionService

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cfg, settings = _load(config)
    service = IngestionService(cfg, settings.lake_root)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if duration:
        threading.Timer(duration, stop.set).start()
    console.print(f"ingesting {len(cfg.sources)} source(s) into {service.landing_root}")
    service.run(stop, load_bronze=load_bronze)


@app.command()
def status(config: Path = CONFIG_OPTION) -> None:
    """Per source: last message, lag, rates, landing backlog, quarantine count."""
    from ingestion.landing import LandingZone
    from ingestion.service import processed_landing_files, status_path

    cfg, settings = _load(config)
    lake_root = settings.lake_root.resolve()
    landing = (cfg.landing_root or lake_root / "_landing").resolve()
    done = processed_landing_files(lake_root / "_checkpoints" / "bronze_loader")
    zone = LandingZone(landing)
    table = Table(title=f"ingestion status ({landing})")
    for col in (
        "source",
        "type",
        "last message (UTC)",
        "lag s",
        "received",
        "msg/s",
        "quarantined",
        "backlog files",
        "backlog MiB",
    ):
        table.add_column(
            col, justify="left" if col in ("source", "type", "last message (UTC)") else "right"
        )
    for source in cfg.sources:
        path = status_path(landing, source.name)
        st = json.loads(path.read_text()) if path.exists() else {}
        pending = [f for f in zone.files(source.name) if str(f.resolve()) not in done]
        started = datetime.fromisoformat(st["started_at"]) if st.get("started_at") else None
        written = datetime.fromisoformat(st["written_at"]) if st.get("written_at") else None
        rate = (
            st.get("received", 0) / max((written - started).total_seconds(), 1e-9)
            if started and written
            else None
        )
        lag = (
            (datetime.now(UTC) - datetime.fromisoformat(st["last_message_at"])).total_seconds()
            if st.get("last_message_at")
            else None
        )
        table.add_row(
            source.name,
            source.type,
            (st.get("last_message_at") or "never")[:23],
            f"{lag:.1f}" if lag is not None else "-",
            f"{st.get('received', 0):,}",
            f"{rate:,.0f}" if rate is not None else "-",
            f"{st.get('quarantined', 0):,}",
            f"{len(pending):,}",
            f"{sum(f.stat().st_size for f in pending) / 2**20:.1f}",
        )
    console.print(table)
