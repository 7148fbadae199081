"""`plantlake up` and `plantlake down`: one table of service, URL, credentials, PID and log."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.table import Table

from orchestration.workbench.services import AlreadyRunning, State, Workbench

up_app = typer.Typer(help="Start the workbench on 127.0.0.1 (every service, detached).")
down_app = typer.Typer(help="Stop what `plantlake up` started.")
ORDER = (
    *("mosquitto", "postgres", "plant", "ingestion"),
    # engine: the warm Spark engine; web: the front door of the three UIs
    *("engine", "web", "dagster", "mlflow", "jupyter", "sql"),
)


def _console() -> Console:
    console = Console()
    # whole URLs and paths in logs and pipes (a table only grows as wide as its content)
    return console if console.is_terminal else Console(width=2000)


def _workbench(tls: bool = False) -> Workbench:
    from lakehouse.settings import SettingsError, get_settings

    try:
        return Workbench(get_settings(), tls=tls)
    except SettingsError as exc:
        Console(stderr=True).print(f"[red]configuration error[/red]\n{exc}")
        raise typer.Exit(2) from None


def services_table(state: State, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("service", "URL", "credentials", "PID", "log"):
        table.add_column(column, overflow="fold")
    for s in sorted(state.services, key=lambda s: ORDER.index(s.key)):
        table.add_row(
            s.name,
            s.url,
            s.credentials,
            (str(s.pid) if s.alive() else f"{s.pid} (ended)") if s.pid else "-",
            s.log if s.pid else s.note,
        )
    return table


@up_app.callback(invoke_without_command=True)
def up(
    timeout: float = typer.Option(
        300, help="seconds for all services to be ready before giving up"
    ),
    tls: bool = typer.Option(
        False,
        "--tls",
        help="the MQTT broker speaks TLS only, with a certificate of the lake's own CA "
        "(<lake>/_workbench/tls/ca.pem; made once)",
    ),
) -> None:
    """Start Mosquitto, PostgreSQL, the live plant, ingestion, Dagster, MLflow, JupyterLab and
    the SQL endpoint on 127.0.0.1; print where each one is."""
    from lakehouse.services.ports import ServiceStartError

    console = _console()
    workbench = _workbench(tls)
    started = time.monotonic()
    try:
        with console.status("starting the workbench…") as status:
            state = workbench.up(timeout, progress=lambda text: status.update(text + "…"))
    except AlreadyRunning as running:
        console.print(
            services_table(
                running.state, f"the workbench of {workbench.lake_root} is already running"
            )
        )
        if running.dead:
            names = ", ".join(f"{s.name} (PID {s.pid}, log {s.log})" for s in running.dead)
            console.print(
                f"[yellow]ended since: {names}[/yellow]; `plantlake down` then `plantlake up` restarts all"
            )
        return
    except ServiceStartError as exc:
        console.print(f"[red]the workbench did not start[/red]: {exc}")
        raise typer.Exit(1) from None
    console.print(
        services_table(
            state,
            f"plantlake workbench of {workbench.lake_root}, up in {time.monotonic() - started:.0f} s",
        )
    )
    console.print(f"state: {workbench.state_file}; stop with `make down` (`plantlake down`)")


@down_app.callback(invoke_without_command=True)
def down(
    timeout: float = typer.Option(30, help="seconds to wait after SIGTERM before SIGKILL"),
) -> None:
    """Stop exactly what `plantlake up` started (SIGTERM to each process group, then SIGKILL)."""
    console = _console()
    workbench = _workbench()
    started = time.monotonic()
    stopped = workbench.down(timeout)
    if not stopped:
        console.print(f"nothing to stop: no running workbench of {workbench.lake_root}")
        return
    table = Table(title=f"stopped in {time.monotonic() - started:.0f} s", title_justify="left")
    for column in ("service", "PID", "processes"):
        table.add_column(column)
    for service, pids in stopped:
        table.add_row(service.name, str(service.pid), str(len(pids)) if pids else "had ended")
    console.print(table)
