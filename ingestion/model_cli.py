"""`plantlake model`: draft a plant model from a live OPC UA server or MQTT broker, check a model
against live addresses (or the lake's bronze), and make a model the lake's."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    help="Describe your plant: draft a plant model from live sources, check it, use it.",
    no_args_is_help=True,
)
discover_app = typer.Typer(
    help="Draft a plant model from what a source offers (every guess marked for review).",
    no_args_is_help=True,
)
app.add_typer(discover_app, name="discover")
console = Console(stderr=True)  # the draft may go to stdout; everything else goes to stderr

ROOT_OPTION = typer.Option(
    "0:Objects", "--root", help="browse path to start from, e.g. '0:Objects/2:Plant'"
)
OUT_OPTION = typer.Option(None, "--out", "-o", help="write the draft here (default: stdout)")
ENTERPRISE_OPTION = typer.Option(None, help="the enterprise name (default: guessed)")
SITE_OPTION = typer.Option(None, help="put every equipment in this site (default: guessed)")
TIMEZONE_OPTION = typer.Option(None, help="IANA time zone of the site, e.g. Europe/Berlin")


def _password(env: str | None) -> str | None:
    if env is None:
        return None
    value = os.environ.get(env)
    if value is None:
        console.print(f"[red]environment variable {env} (--password-env) is not set[/red]")
        raise typer.Exit(2)
    return value


def _broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "1883")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        console.print(f"[red]{text!r} is not HOST:PORT[/red]")
        raise typer.Exit(2) from None


def _scan_opcua(
    endpoint: str, root: str, username: str | None, password_env: str | None, security_policy: str
):
    from ingestion.discover.opcua import scan_opcua

    logging.getLogger("asyncua").setLevel(logging.ERROR)  # its notices are not the user's business
    try:
        return scan_opcua(
            endpoint,
            root,
            username=username,
            password_env=password_env,
            security_policy=security_policy,
        )
    except (OSError, TimeoutError, ConnectionError) as exc:
        console.print(f"[red]cannot read the OPC UA server {endpoint}: {exc!r}[/red]")
        raise typer.Exit(2) from None
    except (
        Exception
    ) as exc:  # asyncua's service faults (BadNoMatch for a root that is not there, …)
        console.print(f"[red]OPC UA {endpoint}: {type(exc).__name__}: {exc}[/red]")
        raise typer.Exit(2) from None


def _capture(
    broker: str,
    seconds: float,
    topics: list[str],
    username,
    password_env,
    tls_ca_file,
    rebirth=False,
):
    from ingestion.discover.mqtt import capture_mqtt

    host, port = _broker(broker)
    try:
        with console.status(f"listening to {host}:{port} for {seconds:g} s…"):
            return capture_mqtt(
                host,
                port,
                seconds,
                topics=topics,
                username=username,
                password=_password(password_env),
                tls_ca_file=tls_ca_file,
                request_rebirth=rebirth,
            )
    except ConnectionError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _open_lake():
    from lakehouse.lake import open_lake
    from lakehouse.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        console.print(f"[red]configuration error[/red]\n{exc}")
        raise typer.Exit(2) from None
    with console.status("starting Spark…"):
        return open_lake(settings)


def _emit(draft, out: Path | None, started: float) -> None:
    from ingestion.discover.draft import render_draft

    text = render_draft(draft)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    s = draft.summary()
    roles = ", ".join(f"{r} {n}" for r, n in s["roles"].items()) or "none"
    console.print(
        f"{s['addresses']} addresses, {s['equipment']} equipment, {s['rules']} rules; guessed roles: "
        f"{roles}; {s['left_out']} left out, {s['unmapped']} not mapped; "
        f"{time.monotonic() - started:.1f} s (reading the source {s['seconds']:.1f} s)"
    )
    if out is not None:
        console.print(
            f"wrote {out}: review every `# guess:` and `# TODO:`, then `plantlake model check {out} …`"
        )


@discover_app.command("opcua")
def discover_opcua(
    endpoint: str = typer.Argument(..., help="opc.tcp://host:port/path"),
    root: str = ROOT_OPTION,
    out: Path | None = OUT_OPTION,
    username: str | None = typer.Option(None, help="OPC UA user"),
    password_env: str | None = typer.Option(None, help="environment variable holding the password"),
    security_policy: str = typer.Option("None", help="None or Basic256Sha256"),
    enterprise: str | None = ENTERPRISE_OPTION,
    site: str | None = SITE_OPTION,
    timezone: str | None = TIMEZONE_OPTION,
) -> None:
    """Browse an OPC UA server and write a draft plant model (one rule per equipment)."""
    from ingestion.discover.draft import draft_from_opcua

    started = time.monotonic()
    with console.status(f"browsing {endpoint}…"):
        scan = _scan_opcua(endpoint, root, username, password_env, security_policy)
    command = f"plantlake model discover opcua {endpoint} --root {root!r}"
    draft = draft_from_opcua(
        scan, enterprise=enterprise, site=site, timezone=timezone, command=command
    )
    _emit(draft, out, started)


@discover_app.command("mqtt")
def discover_mqtt(
    broker: str = typer.Argument(..., help="HOST:PORT of the broker"),
    seconds: float = typer.Option(10.0, help="how long to listen"),
    topic: list[str] = typer.Option(["#"], "--topic", help="topic filter (repeatable)"),
    username: str | None = typer.Option(None, help="MQTT user"),
    password_env: str | None = typer.Option(None, help="environment variable holding the password"),
    tls_ca_file: str | None = typer.Option(None, help="CA file for a TLS listener"),
    rebirth: bool = typer.Option(
        False, help="ask Sparkplug edge nodes heard without a birth to publish it (an NCMD)"
    ),
    out: Path | None = OUT_OPTION,
    enterprise: str | None = ENTERPRISE_OPTION,
    site: str | None = SITE_OPTION,
    timezone: str | None = TIMEZONE_OPTION,
) -> None:
    """Listen to a broker and write a draft plant model (UNS topic templates, Sparkplug births)."""
    from ingestion.discover.draft import draft_from_mqtt

    started = time.monotonic()
    capture = _capture(broker, seconds, topic, username, password_env, tls_ca_file, rebirth)
    command = f"plantlake model discover mqtt {broker} --seconds {seconds:g}"
    draft = draft_from_mqtt(
        capture, enterprise=enterprise, site=site, timezone=timezone, command=command
    )
    _emit(draft, out, started)


@app.command()
def check(
    file: Path = typer.Argument(..., help="the plant model YAML"),
    opcua: str | None = typer.Option(None, "--opcua", help="check against this OPC UA endpoint"),
    root: str = ROOT_OPTION,
    opcua_username: str | None = typer.Option(None, help="OPC UA user"),
    opcua_password_env: str | None = typer.Option(
        None, help="environment variable of the OPC UA password"
    ),
    security_policy: str = typer.Option("None", help="OPC UA security: None or Basic256Sha256"),
    mqtt: str | None = typer.Option(None, "--mqtt", help="check against this broker (HOST:PORT)"),
    seconds: float = typer.Option(10.0, help="how long to listen to the broker"),
    topic: list[str] = typer.Option(["#"], "--topic", help="MQTT topic filter (repeatable)"),
    username: str | None = typer.Option(None, help="MQTT user"),
    password_env: str | None = typer.Option(None, help="environment variable of the MQTT password"),
    tls_ca_file: str | None = typer.Option(None, help="CA file for a TLS listener"),
    rebirth: bool = typer.Option(
        False, help="ask Sparkplug edge nodes heard without a birth to publish it (an NCMD)"
    ),
    lake: bool = typer.Option(
        False, "--lake", help="check against the addresses in the lake's bronze"
    ),
) -> None:
    """Validate a plant model, then match its rules against live addresses.

    Exit 2: the file is not a valid model; 1: a rule matches no collected address; 0 otherwise.
    """
    from ingestion.discover.check import check_model
    from lakehouse.plant_model.schema import PlantModelError, load_plant_model

    try:
        model = load_plant_model(file)
    except PlantModelError as exc:
        console.print(f"[red]not a valid plant model[/red]\n{exc}")
        raise typer.Exit(2) from None
    console.print(f"{file}: valid ({len(model.equipment())} equipment, {len(model.signals)} rules)")
    scans, capture = [], None
    if opcua:
        with console.status(f"browsing {opcua}…"):
            scans.append(
                _scan_opcua(opcua, root, opcua_username, opcua_password_env, security_policy)
            )
    if mqtt:
        capture = _capture(mqtt, seconds, topic, username, password_env, tls_ca_file, rebirth)
        silent = capture.sparkplug_without_birth - set(capture.sparkplug)
        if silent:
            console.print(
                f"{len(silent)} Sparkplug B node(s)/device(s) sent data without a birth while "
                "listening: their metrics are unknown (use --rebirth)"
            )
    if lake:
        from ingestion.discover.check import collect_from_lake

        opened = _open_lake()
        with console.status("reading bronze…"):
            lake_scans, lake_capture = collect_from_lake(opened)
        scans.extend(lake_scans)
        if lake_capture is not None:
            if capture is None:
                capture = lake_capture
            else:
                capture.sources |= lake_capture.sources
                for topic_name, seen in lake_capture.topics.items():
                    for p in seen.payloads:
                        capture.add(topic_name, p)
                for key, metrics in lake_capture.sparkplug.items():
                    for name, m in metrics.items():
                        for v in m.values or [None]:
                            capture.add_metric(key, name, m.datatype, v)
    if not scans and capture is None:
        console.print("no source to check against (--opcua, --mqtt or --lake): the file is valid")
        return
    report = check_model(model, opcua=scans, mqtt=capture)
    _print_report(report)
    raise typer.Exit(0 if report.ok else 1)


def _print_report(report) -> None:
    from ingestion.discover.check import SOURCES

    out = Console()
    collected = ", ".join(f"{SOURCES[s]} {n}" for s, n in report.collected.items())
    table = Table(title=f"plant model rules against the live addresses ({collected})")
    for col in (
        "#",
        "rule",
        "source",
        "addresses",
        "values",
        "equipment",
        "tags without role",
        "problems",
    ):
        table.add_column(
            col, justify="right" if col in ("#", "addresses", "values", "equipment") else "left"
        )
    for r in report.rules:
        if not r.checked:
            matched = "not checked"
        elif r.addresses:
            matched = f"{r.addresses}"
        else:
            matched = "[red]0[/red]" + (
                f" ({r.shadowed} taken by earlier rules)" if r.shadowed else ""
            )
        table.add_row(
            str(r.index),
            escape(r.label),
            SOURCES[r.source],
            matched,
            str(r.values) if r.checked else "",
            str(len(r.equipment)) if r.checked else "",
            escape(
                ", ".join(r.tags_without_role[:8]) + (" …" if len(r.tags_without_role) > 8 else "")
            ),
            escape("\n".join(list(r.problems)[:6]) + ("\n…" if len(r.problems) > 6 else "")),
        )
    out.print(table)
    for source, addresses in report.unmatched.items():
        out.print(f"{SOURCES[source]}: {len(addresses)} addresses match no rule")
        for a in addresses[:20]:
            out.print(f"  {a}", markup=False)
        if len(addresses) > 20:
            out.print(f"  … and {len(addresses) - 20} more")
    nothing = [r for r in report.rules if r.matches_nothing]
    if nothing:
        out.print(
            f"[red]{len(nothing)} rule(s) match nothing[/red]: "
            + escape(", ".join(r.label for r in nothing))
        )
    else:
        out.print("every checked rule matches")


@app.command()
def use(file: Path = typer.Argument(..., help="the plant model YAML")) -> None:
    """Validate a plant model and make it the lake's (copied to <lake>/_model/plant-model.yaml)."""
    from lakehouse.plant_model import PlantModelError, install_model, lake_model_path
    from lakehouse.settings import SettingsError, get_settings

    try:
        settings = get_settings()
        model = install_model(settings.lake_root, file)
    except (PlantModelError, SettingsError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"{lake_model_path(settings.lake_root)}: {len(model.equipment())} equipment, "
        f"{len(model.signals)} rules"
    )


@app.command()
def unmapped(
    days: int | None = typer.Option(None, help="only values of the last N days (default: all)"),
    source: str | None = typer.Option(None, help="only this source: uns, sparkplug or opcua"),
    limit: int = typer.Option(50, help="at most this many addresses"),
) -> None:
    """What the lake's plant model maps to nothing (silver.unmapped_addresses), most values first."""
    from pyspark.sql import functions as F

    lake = _open_lake()
    if not lake.exists("silver.unmapped_addresses"):
        console.print("silver.unmapped_addresses does not exist yet: build silver first")
        return
    rows = lake.read("silver.unmapped_addresses")
    if days is not None:
        rows = rows.where(F.col("event_date") >= F.date_sub(F.current_date(), days))
    if source:
        rows = rows.where(F.col("source") == source)
    top = (
        rows.groupBy("source", "address", "reason")
        .agg(
            F.sum("value_count").alias("values"),
            F.max("last_seen").alias("last_seen"),
            F.max_by("example_value", "last_ingested_at").alias("example"),
        )
        .orderBy(F.desc("values"), "source", "address")
        .limit(limit)
        .collect()
    )
    table = Table(title="unmapped addresses" + (f", last {days} days" if days else ""))
    for col in ("source", "address", "reason", "values", "last seen (UTC)", "example"):
        table.add_column(col, justify="right" if col == "values" else "left")
    for r in top:
        seen = f"{r.last_seen:%Y-%m-%d %H:%M:%S}" if r.last_seen else "-"
        table.add_row(
            r.source,
            escape(r.address),
            escape(r.reason),
            f"{r['values']:,}",
            seen,
            escape((r.example or "")[:40]),
        )
    Console().print(table)
    if not top:
        console.print("every value maps to equipment and a tag")
