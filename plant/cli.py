"""`plantlake plant …`: generate history, show the ground truth, run the live plant."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from plant.config import PlantConfigError, load_plant_config

app = typer.Typer(
    help="The simulated plant: backfill history, ground truth, live servers.", no_args_is_help=True
)
console = Console()
CONFIG = typer.Option(None, "--config", help="plant YAML (default: plant/plant.yaml)")


def parse_duration(text: str) -> float:
    """Seconds in `8h`, `30m`, `90s`, `1h30m` or a plain number of seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([dhms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise typer.BadParameter(f"{text!r} is not a duration such as 8h, 30m, 90s or 1h30m")
    return sum(float(n) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def _config(path: Path | None):
    try:
        return load_plant_config(path)
    except PlantConfigError as exc:
        console.print(f"[red]plant configuration error[/red]: {exc}")
        raise typer.Exit(2) from None


@app.command()
def backfill(
    days: int = typer.Option(7, min=1, help="days of history"),
    seed: int = typer.Option(1, help="same seed, same plant"),
    out: Path = typer.Option(Path("lake/_landing/backfill"), help="output folder (replaced)"),
    start: str = typer.Option("", help="first day, YYYY-MM-DD (UTC); default: ending today"),
    config: Path | None = CONFIG,
    sample_s: int = typer.Option(
        0, min=0, help="historian export: analog tags every N seconds at most (0: as sent live)"
    ),
    aux: bool = typer.Option(True, help="include the auxiliary temperature tags"),
) -> None:
    """Generate N days of history in the servers' formats, without servers."""
    from plant.backfill import backfill as run_backfill

    first = datetime.fromisoformat(start).replace(tzinfo=UTC) if start else None
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating days", total=days)
        summary = run_backfill(
            _config(config),
            seed,
            days,
            out,
            first,
            progress=lambda n: progress.advance(task, n),
            sample_s=sample_s or None,
            aux=aux,
        )
    console.print(str(summary))


@app.command()
def truth(
    directory: Path = typer.Option(
        Path("lake/_landing/backfill"), "--dir", help="a backfill folder"
    ),
) -> None:
    """Print the ground-truth summary of a backfill: OEE per line and every failure."""
    from plant.model import oee

    shifts_file = directory / "truth" / "shifts.parquet"
    if not shifts_file.exists():
        console.print(
            f"[red]no ground truth in {directory}[/red]: run `plantlake plant backfill --out {directory}` first"
        )
        raise typer.Exit(1)
    shifts = pq.read_table(shifts_file)
    table = Table(title=f"ground truth, {directory}")
    for col in (
        "site",
        "line",
        "shifts",
        "availability",
        "performance",
        "quality",
        "OEE",
        "produced",
        "good",
    ):
        table.add_column(col, justify="left" if col in ("site", "line") else "right")
    lines = sorted(
        {
            (s, ln)
            for s, ln in zip(shifts["site"].to_pylist(), shifts["line"].to_pylist(), strict=True)
        }
    )
    for site, line in [*lines, ("all", "")]:
        rows = (
            shifts
            if site == "all"
            else shifts.filter(
                pc.and_(pc.equal(shifts["site"], site), pc.equal(shifts["line"], line))
            )
        )
        k = oee(rows)
        table.add_row(
            site,
            line,
            str(len(set(rows["shift_id"].to_pylist()))),
            f"{k['availability']:.1%}",
            f"{k['performance']:.1%}",
            f"{k['quality']:.1%}",
            f"{k['oee']:.1%}",
            f"{pc.sum(rows['produced']).as_py():,}",
            f"{pc.sum(rows['good']).as_py():,}",
        )
    console.print(table)
    failures = pq.read_table(directory / "truth" / "failures.parquet")
    ft = Table(title=f"{failures.num_rows} failures")
    for col in ("equipment", "time (UTC)", "cause", "warning signs", "repair min"):
        ft.add_column(col)
    for r in failures.to_pylist():
        ft.add_row(
            r["equipment_id"],
            r["time"].strftime("%Y-%m-%d %H:%M"),
            r["cause"],
            "yes" if r["warned"] else "no",
            f"{r['repair_s'] / 60:.0f}",
        )
    console.print(ft)


@app.command()
def run(
    speed: float = typer.Option(60.0, help="plant seconds per wall-clock second"),
    duration: str = typer.Option("8h", help="plant time to run: 8h, 30m, 90s, 1h30m"),
    seed: int = typer.Option(1),
    opcua_port: int = typer.Option(4840, help="OPC UA server port on 127.0.0.1 (0: no OPC UA)"),
    opcua_user: str = typer.Option(
        "",
        help="require this OPC UA user (Basic256Sha256 Sign&Encrypt); password from PLANTLAKE_OPCUA_PASSWORD",
    ),
    mqtt_host: str = typer.Option("127.0.0.1"),
    mqtt_port: int = typer.Option(0, help="MQTT broker port (0: no MQTT)"),
    mqtt_user: str = typer.Option("plantlake", help="password from PLANTLAKE_MQTT_PASSWORD"),
    mqtt_tls_ca: Path | None = typer.Option(
        None, help="connect to the broker by TLS, verifying its certificate with this CA (PEM)"
    ),
    postgres: str = typer.Option(
        "", help="MES/ERP database, libpq conninfo without password (PLANTLAKE_PG_PASSWORD)"
    ),
    config: Path | None = CONFIG,
) -> None:
    """Start the plant's OPC UA server and publish to MQTT and PostgreSQL on an accelerated clock."""
    import logging
    import os

    from plant.run import run_until_signalled
    from plant.servers.mqtt_client import BrokerOptions

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    mqtt = (
        BrokerOptions(
            mqtt_host,
            mqtt_port,
            mqtt_user,
            os.environ.get("PLANTLAKE_MQTT_PASSWORD"),
            str(mqtt_tls_ca) if mqtt_tls_ca else None,
        )
        if mqtt_port
        else None
    )
    users = {opcua_user: os.environ.get("PLANTLAKE_OPCUA_PASSWORD", "")} if opcua_user else None
    conninfo = None
    if postgres:
        conninfo = postgres + (
            f" password={os.environ['PLANTLAKE_PG_PASSWORD']}"
            if os.environ.get("PLANTLAKE_PG_PASSWORD")
            else ""
        )
    summary = run_until_signalled(
        config=_config(config),
        seed=seed,
        speed=speed,
        duration_s=parse_duration(duration),
        opcua_port=opcua_port or None,
        opcua_users=users,
        mqtt=mqtt,
        postgres_conninfo=conninfo,
    )
    console.print(summary)
