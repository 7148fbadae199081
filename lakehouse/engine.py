"""The lake's warm engine: one Spark Connect server that holds the lake's catalog for every client.

Starting a JVM and registering the lake's tables costs each process 10–20 s before its first
answer; a client session of a running engine costs under a second. `plantlake engine` (started
by `make up`, and by the tests' fixture) runs one local Spark session with Delta and the Spark
Connect plugin on 127.0.0.1, registers the lake's tables once in its catalog (shared by all its
clients) and serves until stopped. `plantlake sql`, notebooks (`open_lake()`), Dagster runs and
scripts connect to it; with no engine up for their lake they start a local session as before.

Clients authenticate with a token the engine writes, 0600, beside its address in
`<lake>/_engine/` (the lake is its owner's alone); it never appears on a command line. The
setting `engine` says what to use: "auto" (the default: this lake's engine if one is up, else a
local session), "local" (always a local session), or "sc://host:port" (that engine; a local
session, with a warning, when it does not answer).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from pyspark.sql import SparkSession

from lakehouse.private import write_private
from lakehouse.settings import Settings

log = logging.getLogger(__name__)

FOLDER = "_engine"
LAKE_ROOT_CONF = "spark.plantlake.lake_root"  # what the engine serves, as its clients read it
TOKEN_ENV = "PLANTLAKE_ENGINE_TOKEN"  # a client's token when it cannot read the lake's file


@dataclass(frozen=True)
class Address:
    """Where a running engine listens and which lake it serves."""

    url: str  # sc://localhost:port
    pid: int
    lake_root: str

    @property
    def host_port(self) -> tuple[str, int]:
        parsed = urlparse(self.url.replace("sc://", "http://", 1))
        return parsed.hostname or "localhost", parsed.port or 15002


def folder(lake_root: Path) -> Path:
    return Path(lake_root).resolve() / FOLDER


def running(lake_root: Path) -> Address | None:
    """The address the lake's engine recorded, if its process is alive."""
    path = folder(lake_root) / "engine.json"
    try:
        recorded = Address(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(recorded.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return recorded


def _answers(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def connect(settings: Settings) -> SparkSession | None:
    """A client session of the engine serving the settings' lake, or None (use a local one)."""
    if settings.engine == "local":
        return None
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        return None  # this process runs a local session: one process cannot mix the two modes
    root = Path(settings.lake_root).resolve()
    found = running(root)
    if settings.engine == "auto":
        if found is None:
            return None
        address = found
    else:
        address = Address(settings.engine, 0, str(root))
    token = os.environ.get(TOKEN_ENV)
    if token is None:
        try:
            token = (folder(root) / "token").read_text().strip()
        except OSError:
            token = None
    host, port = address.host_port
    if host in ("127.0.0.1", "::1", "[::1]"):
        host = "localhost"  # pyspark sends a token without TLS to "localhost" only
    if not token or not _answers(host, port):
        _fallback(settings, f"no engine answers at {address.url} with a token for {root}")
        return None
    spark = SparkSession.builder.remote(f"sc://{host}:{port}/;token={token}").create()
    try:
        served = spark.conf.get(LAKE_ROOT_CONF, None)
    except Exception as exc:  # refused (a stale token) or gone: said, then work on locally
        served, why = None, f"the engine at {address.url} refused the session ({exc})"
    else:
        why = f"the engine at {address.url} serves {served}, not {root}"
    if served != str(root):
        spark.stop()
        # creating the client put this process in Connect mode; a local session needs it off
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
        _fallback(settings, why)
        return None
    return spark


def _fallback(settings: Settings, why: str) -> None:
    if settings.engine == "auto":
        log.info("%s: a local Spark session is used", why)
    else:
        log.warning("%s: a local Spark session is used instead", why)


def serve_conf(port: int, lake_root: Path) -> dict[str, str]:
    """What a local session needs on top of plantlake's settings to be the engine."""
    return {
        "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        LAKE_ROOT_CONF: str(Path(lake_root).resolve()),
    }


def serve(settings: Settings, *, port: int | None = None, ready=lambda address: None) -> None:
    """Run the engine of the settings' lake until SIGTERM or SIGINT: a local session with the
    Connect plugin on 127.0.0.1, every table registered, the address and token recorded."""
    import secrets

    from lakehouse.lake import Lake
    from lakehouse.spark import get_spark

    root = Path(settings.lake_root).resolve()
    home = folder(root)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    port = port or settings.ports.engine
    serving = running(root)
    if serving is not None:
        raise RuntimeError(f"the lake {root} is served already: {serving.url} (pid {serving.pid})")
    if _answers("127.0.0.1", port):
        raise RuntimeError(f"port {port} on 127.0.0.1 is in use: choose another (ports.engine)")
    token = secrets.token_urlsafe(32)
    write_private(home / "token", token)
    os.environ["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = token  # the JVM reads it; no argv
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    spark = get_spark(settings, extra_conf=serve_conf(port, root))
    try:
        tables = Lake(spark, root).attach()
        address = Address(f"sc://localhost:{port}", os.getpid(), str(root))
        write_private(home / "engine.json", json.dumps(address.__dict__))
        log.info("engine for %s at %s: %d tables", root, address.url, len(tables))
        ready(address)
        stop.wait()
    finally:
        if (found := running(root)) is None or found.pid == os.getpid():
            for name in ("engine.json", "token"):
                (home / name).unlink(missing_ok=True)
        spark.stop()
