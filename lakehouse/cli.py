"""The `plantlake` command: tables, SQL, and the sub-commands other packages contribute.

Sub-commands are discovered from the `plantlake.cli` entry-point group (`plantlake plant …`,
`plantlake demo`, …), so this package imports none of them.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from lakehouse.settings import SettingsError, get_settings

app = typer.Typer(
    name="plantlake",
    help="plantlake: a lakehouse for manufacturing plants.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _owner_only() -> None:
    """Everything a plantlake command creates, and the services it starts, is its owner's alone."""
    from lakehouse.private import OWNER_ONLY_UMASK

    os.umask(OWNER_ONLY_UMASK)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _settings():
    """The settings, or exit 2 with the configuration error (it names the key)."""
    try:
        return get_settings()
    except SettingsError as exc:
        err_console.print(f"[red]configuration error[/red]\n{exc}")
        raise typer.Exit(2) from None


def _open_lake(*, attach: bool = True):
    from lakehouse.lake import open_lake

    settings = _settings()
    with err_console.status("starting Spark…"):
        return open_lake(settings, attach=attach)


def _humanize_bytes(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


@app.command()
def tables(
    layer: str | None = typer.Option(None, help="only this layer: bronze, silver, gold or ops"),
    create: bool = typer.Option(False, "--create", help="create the tables that do not exist"),
) -> None:
    """List every catalog table with its layer, row count, last update and description."""
    from lakehouse.catalog import LAYERS, all_tables

    if layer is not None and layer not in LAYERS:
        err_console.print(f"[red]unknown layer {layer!r}[/red]; choose one of {', '.join(LAYERS)}")
        raise typer.Exit(2)
    lake = _open_lake()
    if create:
        created = lake.create_all()
        err_console.print(f"created {len(created)} table(s): {', '.join(created) or '-'}")
    table = Table(title=f"plantlake tables in {lake.root}")
    for column in ("table", "layer", "rows", "version", "last update (UTC)", "size", "description"):
        table.add_column(
            column, justify="right" if column in ("rows", "version", "size") else "left"
        )
    for spec in all_tables(layer):
        info = lake.info(spec.full_name)
        if not info.exists:
            table.add_row(spec.full_name, spec.layer, "-", "-", "not created", "", spec.description)
            continue
        table.add_row(
            spec.full_name,
            spec.layer,
            f"{info.rows:,}",
            str(info.version),
            info.last_update.strftime("%Y-%m-%d %H:%M:%S") if info.last_update else "",
            _humanize_bytes(info.size_bytes),
            spec.description,
        )
    console.print(table)


@app.command()
def sql(
    query: str = typer.Argument(
        ..., help="a Spark SQL statement, e.g. SELECT … FROM gold.oee_shift"
    ),
    output: OutputFormat = typer.Option(
        OutputFormat.table, "--format", "-f", help="table, csv or json"
    ),
    limit: int = typer.Option(1000, help="print at most this many rows (0: all)"),
) -> None:
    """Run one SQL statement against the lake and print the result."""
    from pyspark.errors import PySparkException

    # a query registers the tables it names as it meets them; SHOW, DESCRIBE … see them all
    lake = _open_lake(attach=not re.match(r"\s*(select|with|values|from)\b", query, re.I))
    try:
        df = lake.sql(query)
        result = (df.limit(limit) if limit else df).toPandas()
    except PySparkException as exc:
        err_console.print(f"[red]SQL error[/red]: {spark_error_message(exc)}")
        raise typer.Exit(1) from None
    if output is OutputFormat.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.itertuples(index=False))
    elif output is OutputFormat.json:
        sys.stdout.write(result.to_json(orient="records", date_format="iso") + "\n")
    else:
        table = Table(show_lines=False)
        for column in result.columns:
            table.add_column(str(column))
        for row in result.itertuples(index=False):
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)
        console.print(f"{len(result)} row(s)", style="dim")


@app.command("sql-endpoint")
def sql_endpoint(
    port: int | None = typer.Option(
        None, help="TCP port on 127.0.0.1 (default: the setting ports.sql, 10000)"
    ),
    read_write: bool = typer.Option(
        False, "--read-write", help="let clients write (INSERT, DELETE, CREATE, …)"
    ),
    refresh_s: float = typer.Option(
        10.0, "--refresh-s", help="seconds between looks for tables other processes created"
    ),
) -> None:
    """Serve every lake table by name over JDBC/ODBC (HiveServer2) on 127.0.0.1 until stopped.

    Clients sign in with an account of `plantlake users` and read the schemas of its role.
    Read-only unless --read-write. Prints a line with `ready` and the JDBC URL once clients can
    connect; SIGTERM or Ctrl-C stops it.
    """
    from lakehouse.services.ports import LOOPBACK
    from lakehouse.spark import SparkSetupError
    from lakehouse.sql_endpoint import EndpointStartError, serve

    settings = _settings()
    port = port or settings.ports.sql
    if not _port_is_free(LOOPBACK, port):
        err_console.print(
            f"[red]port {port} on {LOOPBACK} is in use[/red]: choose another with --port"
        )
        raise typer.Exit(1)

    def ready(line: str) -> None:
        print(line, flush=True)

    try:
        serve(settings, port, read_write=read_write, refresh_s=refresh_s, ready=ready)
    except (EndpointStartError, SparkSetupError) as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@app.command()
def engine(
    port: int | None = typer.Option(
        None, help="TCP port on 127.0.0.1 (default: the setting ports.engine, 15002)"
    ),
) -> None:
    """Serve the lake as one warm Spark engine (Spark Connect) on 127.0.0.1 until stopped.

    `plantlake sql`, notebooks, Dagster runs and scripts of this lake then connect to it in
    about a second instead of starting Spark themselves. Prints a line with `ready` once
    clients can connect; SIGTERM or Ctrl-C stops it.
    """
    from lakehouse import engine as warm
    from lakehouse.spark import SparkSetupError

    settings = _settings()

    def ready(address) -> None:
        print(f"ready: {address.url} serves {address.lake_root}", flush=True)

    try:
        warm.serve(settings, port=port, ready=ready)
    except (RuntimeError, SparkSetupError) as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


users_app = typer.Typer(
    help="Accounts of the SQL endpoint (name, password, role), in <lake>/_workbench/sql-users.json.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")


def _users_file():
    from lakehouse.sql_users import users_file

    return users_file(_settings().lake_root)


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="login name"),
    role: str = typer.Option(
        ..., "--role", help="analyst (reads silver and gold) or engineer (every layer)"
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from the first line of stdin"
    ),
    replace: bool = typer.Option(
        False, "--replace", help="give an existing user this role and a new password"
    ),
) -> None:
    """Add a user; the password is asked for twice (or read from stdin), never an argument."""
    from lakehouse.sql_users import ROLES, SqlUserError, add_user, check_new_user

    path = _users_file()
    try:
        check_new_user(name, role)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        add_user(path, name, role, password, replace=replace)
    except SqlUserError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    err_console.print(
        f"{name} ({role}: reads {', '.join(ROLES[role])}) can sign in to the SQL endpoint now"
    )


@users_app.command("remove")
def users_remove(name: str = typer.Argument(..., help="login name")) -> None:
    """Remove a user: its next login is refused, and so are its open sessions' statements."""
    from lakehouse.sql_users import SqlUserError, remove_user

    try:
        remove_user(_users_file(), name)
    except SqlUserError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    err_console.print(f"removed {name}")


@users_app.command("list")
def users_list() -> None:
    """Every user with its role and the schemas it reads (no password hashes)."""
    from lakehouse.sql_users import ROLES, list_users

    table = Table(title=f"SQL endpoint users ({_users_file()})")
    for column in ("user", "role", "reads"):
        table.add_column(column)
    for name, role in list_users(_users_file()):
        table.add_row(name, role, ", ".join(ROLES.get(role, ())))
    console.print(table)


def _port_is_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@app.command()
def docs(
    check: bool = typer.Option(
        False, "--check", help="only check that the file is up to date (exit 1 if not)"
    ),
) -> None:
    """Write docs/tables.md from the catalog: every table, its columns and example queries."""
    from lakehouse.docs import TABLES_DOC, render_tables_doc

    text = render_tables_doc()
    current = TABLES_DOC.read_text() if TABLES_DOC.exists() else None
    if check:
        if current != text:
            err_console.print(f"{TABLES_DOC} is out of date: run `plantlake docs`")
            raise typer.Exit(1)
        err_console.print(f"{TABLES_DOC} is up to date")
        return
    if current == text:
        err_console.print(f"{TABLES_DOC} is up to date")
        return
    TABLES_DOC.parent.mkdir(parents=True, exist_ok=True)
    TABLES_DOC.write_text(text)
    err_console.print(f"wrote {TABLES_DOC}")


def spark_error_message(exc: Exception) -> str:
    """Spark's own message for a failed statement: condition and text, no JVM stack or plan."""
    getter = getattr(exc, "getMessage", None)
    message = getter() if callable(getter) else str(exc)
    message = message or str(exc)
    # The message may go on with the analysed plan or a JVM stack; the first paragraph says it.
    lines = []
    for line in message.splitlines():
        if line.startswith(("\tat ", "JVM stacktrace", "== ")) or line.strip() in (";", ""):
            break
        lines.append(line)
    return "\n".join(lines).rstrip(";").strip() or message.strip()


def _builtin_commands() -> set[str]:
    names = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}
    return names | {g.name for g in app.registered_groups if g.name}


def _is_the_command() -> bool:
    """This process is `plantlake …` (or `python -m lakehouse.cli`), not a program importing it."""
    program = Path(sys.argv[0]).name if sys.argv else ""
    return program in ("plantlake", "cli.py", "launch.py")


def _add_plugins(argv: list[str]) -> None:
    """Add the sub-commands other packages contribute, unless a built-in command was asked for
    (`plantlake sql` answers without importing Dagster, about 2 s)."""
    asked = next((a for a in argv if not a.startswith("-")), None)
    if _is_the_command() and asked in _builtin_commands():
        return
    for ep in entry_points(group="plantlake.cli"):
        try:
            sub = ep.load()
        except ImportError as exc:  # a plug-in that cannot import must not break the others
            err_console.print(f"[yellow]plantlake {ep.name}: unavailable ({exc})[/yellow]")
            continue
        app.add_typer(sub, name=ep.name)


_add_plugins(sys.argv[1:])


if __name__ == "__main__":
    app()
