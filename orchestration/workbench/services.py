"""Start and stop the workbench: what each service runs, how it is known to be ready, and the
state file that lets `plantlake down` stop exactly what `plantlake up` started."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from lakehouse.private import make_owner_only, write_private
from lakehouse.services.ports import LOOPBACK, ServiceStartError
from lakehouse.services.processes import (
    ProcessRef,
    http_ok,
    port_open,
    spawn,
    stop_family,
    wait_ready,
)
from lakehouse.settings import REPO_ROOT, Settings

BIN = Path(sys.executable).parent
MQTT_USER = PG_USER = "plantlake"
PG_DBNAME = "plant"
# The plant runs in real time (speed 1) for this long; its simulation is built for it up front.
PLANT_WALL_CLOCK_RUN = "7d"
DAGSTER_YAML = (
    "# written by `plantlake up`, which rewrites it while this line is here\n"
    "telemetry:\n  enabled: false\n"
    "nux:\n  enabled: false\n"
    # One run at a time: each run starts a Spark driver, and the sensors fire every minute.
    "concurrency:\n  runs:\n    max_concurrent_runs: 1\n"
)
INFRASTRUCTURE = ("mosquitto", "postgres")
# the workbench's passwords, by name (kept in <lake>/_workbench/secrets.json, mode 0600)
SECRETS = ("mqtt", "postgres")  # stopped last: the others are their clients


@dataclass
class Service:
    """One row of the workbench table; `pid` is also the process-group id (its own session)."""

    key: str
    name: str
    url: str = "-"
    credentials: str = "-"
    log: str = "-"
    pid: int | None = None
    create_time: float | None = None
    note: str = ""
    whole_group: bool = False  # SIGTERM to the whole process group, not to the process alone

    @property
    def ref(self) -> ProcessRef | None:
        return ProcessRef(self.pid, self.create_time) if self.pid and self.create_time else None

    def alive(self) -> bool:
        return self.ref is not None and self.ref.alive()


@dataclass
class State:
    lake_root: str
    started_at: str
    services: list[Service] = field(default_factory=list)
    ready: bool = False

    def running(self) -> list[Service]:
        return [s for s in self.services if s.alive()]

    def recorded(self) -> list[Service]:
        return [s for s in self.services if s.pid]


class AlreadyRunning(RuntimeError):
    """A workbench of this lake is up; `state` says what runs where."""

    def __init__(self, state: State, dead: list[Service]):
        self.state = state
        self.dead = dead
        super().__init__("the workbench is already running")


class Workbench:
    """The workbench of one lake (`settings.lake_root`), on the ports of `settings.ports`."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.lake_root = Path(settings.lake_root).resolve()
        self.home = self.lake_root / "_workbench"
        self.logs = self.home / "logs"
        self.state_file = self.home / "state.json"

    # -- state -------------------------------------------------------------------------------------
    def state(self) -> State | None:
        if not self.state_file.exists():
            return None
        raw = json.loads(self.state_file.read_text())
        return State(
            raw["lake_root"],
            raw["started_at"],
            [Service(**s) for s in raw["services"]],
            raw.get("ready", False),
        )

    def _save(self, state: State) -> None:
        write_private(self.state_file, json.dumps(asdict(state), indent=2))  # token, passwords

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One `up` or `down` at a time per lake."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _secrets(self) -> dict[str, str]:
        """Passwords made once per lake (the broker's password file and the database keep them):
        every name of SECRETS, a new one made the first time a name is asked for."""
        path = self.home / "secrets.json"
        kept = json.loads(path.read_text()) if path.exists() else {}
        missing = [name for name in SECRETS if name not in kept]
        if missing:
            kept |= {name: secrets.token_urlsafe(12) for name in missing}
            write_private(path, json.dumps(kept, indent=1))
        return kept

    # -- up ----------------------------------------------------------------------------------------
    def up(
        self, timeout_s: float = 300.0, progress: Callable[[str], None] = lambda _: None
    ) -> State:
        """Start every service and wait until each answers; AlreadyRunning if the lake's workbench
        is up. If one fails, the ones started so far are stopped again and ServiceStartError says
        which service failed and where its log is."""
        with self._locked():
            previous = self.state()
            if previous is not None:
                running = previous.running()
                if running:
                    raise AlreadyRunning(
                        previous, [s for s in previous.recorded() if not s.alive()]
                    )
                self.state_file.unlink()  # stale: every recorded process has ended
            self._check_ports()
            self._owner_only()
            state = State(str(self.lake_root), datetime.now(UTC).isoformat(timespec="seconds"))
            try:
                self._start_all(state, timeout_s, progress)
            except BaseException:
                progress("stopping what started")
                self._stop(state)
                self.state_file.unlink(missing_ok=True)
                raise
            state.ready = True
            self._save(state)
            return state

    def _owner_only(self) -> None:
        """The lake, the MLflow store, the logs and the configs are the owner's alone. As root, the
        broker and the database run as users of their own: they may pass through the lake's
        folder and the workbench's (0711: no listing) to their own folders, nothing else."""
        make_owner_only(self.lake_root)
        if os.geteuid() == 0:
            for folder in (self.lake_root, self.home):
                folder.chmod(0o711)

    def _ports(self) -> dict[str, int]:
        ports = self.settings.ports.model_dump()
        if not sql_endpoint_available():
            del ports["sql"]
        return ports

    def _check_ports(self) -> None:
        busy = [f"{name} {port}" for name, port in self._ports().items() if port_open(port)]
        if busy:
            raise ServiceStartError(
                f"port(s) already in use on {LOOPBACK} by another program: {', '.join(busy)}; "
                "stop it or choose other ports (PLANTLAKE_PORTS__<NAME>=…, e.g. PLANTLAKE_PORTS__DAGSTER=3001)"
            )

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PLANTLAKE_LAKE_ROOT"] = str(self.lake_root)
        env["SPARK_LOCAL_IP"] = LOOPBACK
        env["DAGSTER_HOME"] = str(self.lake_root / "_dagster")
        if "PLANTLAKE_CONFIG" not in env and Path("plantlake.toml").exists():
            env["PLANTLAKE_CONFIG"] = str(Path("plantlake.toml").resolve())  # cwds differ below
        return env

    def _start_all(self, state: State, timeout_s: float, progress: Callable[[str], None]) -> None:
        """Dagster, MLflow, JupyterLab and the SQL endpoint first (the slowest to come up, and
        they need nothing else), then the broker and the database, then ingestion and the plant."""
        import plant
        from lakehouse.plant_model import install_model, lake_model_path
        from lakehouse.services.mosquitto import start_mosquitto
        from lakehouse.services.postgres import start_postgres
        from plant.servers.mes import MesWriter

        if not lake_model_path(self.lake_root).exists():
            # the live plant is the simulator: its model file tells plantlake what it sends
            install_model(self.lake_root, plant.MODEL_FILE)
        deadline = time.monotonic() + timeout_s
        ports = self.settings.ports
        secret = self._secrets()
        env = self._env()
        waits: list[tuple[Service, Callable[[], bool]]] = []

        def record(service: Service, pid: int) -> Service:
            ref = ProcessRef.of(pid)
            service.pid, service.create_time = ref.pid, ref.create_time
            state.services.append(service)
            self._save(state)
            return service

        def log(key: str) -> Path:
            return self.logs / f"{key}.log"

        progress("starting Dagster, MLflow, JupyterLab and the SQL endpoint")
        for service, command, extra_env, ready in self._web_services():
            spawned = spawn(command, Path(service.log), env=env | extra_env, cwd=REPO_ROOT)
            waits.append((record(service, spawned.pid), ready))
        if not sql_endpoint_available():
            state.services.append(
                Service(
                    "sql", "SQL endpoint", note="not available: no `plantlake sql-endpoint` yet"
                )
            )
            self._save(state)

        progress("starting Mosquitto and PostgreSQL")
        broker = start_mosquitto(
            self.home / "mosquitto", ports.mqtt, MQTT_USER, secret["mqtt"], log("mosquitto")
        )
        record(
            Service(
                "mosquitto",
                "Mosquitto (MQTT)",
                f"mqtt://{LOOPBACK}:{ports.mqtt}",
                f"{MQTT_USER} / {secret['mqtt']}",
                str(broker.log),
            ),
            broker.pid,
        )
        pg = start_postgres(
            self.home / "postgres",
            ports.postgres,
            PG_USER,
            secret["postgres"],
            PG_DBNAME,
            log_file=log("postgres"),
        )
        record(
            Service(
                "postgres",
                "PostgreSQL (MES/ERP)",
                f"postgresql://{LOOPBACK}:{ports.postgres}/{PG_DBNAME}",
                f"{PG_USER} / {secret['postgres']}",
                str(pg.log),
            ),
            pg.pid,
        )
        MesWriter(pg.conninfo()).close()  # the MES schema exists before the extractor's first poll

        progress("starting ingestion and the plant")
        env_clients = env | {
            "PLANTLAKE_MQTT_PASSWORD": secret["mqtt"],
            "PLANTLAKE_PG_PASSWORD": secret["postgres"],
        }
        config = self._ingestion_config()
        landing = self.lake_root / "_landing"
        ingestion = Service(
            "ingestion",
            "ingestion → landing",
            landing.as_uri(),
            log=str(log("ingestion")),
            note=f"metrics http://{LOOPBACK}:{ports.ingest_metrics}/metrics; "
            f"health: plantlake ingest status -c {config}",
        )
        command = [*_plantlake(), "ingest", "run", "--config", str(config), "--no-load"]
        spawned = spawn(command, log("ingestion"), env=env_clients, cwd=REPO_ROOT)
        waits.append(
            (record(ingestion, spawned.pid), lambda: self._ingestion_reporting(config, landing))
        )
        plant = Service(
            "plant",
            "plant simulator (real time)",
            f"opc.tcp://{LOOPBACK}:{ports.opcua}/plantlake/",
            "anonymous",
            str(log("plant")),
        )
        command = [
            *_plantlake(),
            "plant",
            "run",
            "--speed",
            "1",
            "--duration",
            PLANT_WALL_CLOCK_RUN,
            "--opcua-port",
            str(ports.opcua),
            "--mqtt-port",
            str(ports.mqtt),
            "--mqtt-user",
            MQTT_USER,
            "--postgres",
            f"host={LOOPBACK} port={ports.postgres} dbname={PG_DBNAME} user={PG_USER}",
        ]
        spawned = spawn(command, log("plant"), env=env_clients, cwd=REPO_ROOT)
        waits.append((record(plant, spawned.pid), lambda: port_open(ports.opcua)))

        progress("waiting for " + ", ".join(s.name.split(" (")[0] for s, _ in waits))
        _wait_all(waits, deadline)

    def _web_services(self):
        """(service, command, extra environment, ready) of Dagster, MLflow, JupyterLab and the SQL endpoint."""
        ports = self.settings.ports
        logs = self.logs
        self._dagster_home()
        dagster = Service(
            "dagster",
            "Dagster (UI + daemon)",
            f"http://{LOOPBACK}:{ports.dagster}",
            "none",
            str(logs / "dagster.log"),
            whole_group=True,  # `dagster dev` stops, but its run workers go on
        )
        yield (
            dagster,
            [
                str(BIN / "dagster"),
                "dev",
                "-m",
                "orchestration.definitions",
                "-h",
                LOOPBACK,
                "-p",
                str(ports.dagster),
            ],
            {},
            lambda: dagster_loaded(ports.dagster),
        )
        mlflow_dir = self.lake_root / "_mlflow"
        (mlflow_dir / "artifacts").mkdir(parents=True, exist_ok=True)
        mlflow = Service(
            "mlflow",
            "MLflow",
            f"http://{LOOPBACK}:{ports.mlflow}",
            "none",
            str(logs / "mlflow.log"),
        )
        yield (
            mlflow,
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                self.settings.resolved_tracking_uri,
                "--artifacts-destination",
                str(mlflow_dir / "artifacts"),
                "--host",
                LOOPBACK,
                "--port",
                str(ports.mlflow),
                "--workers",
                "1",
            ],
            # no job runner: its GenAI jobs are not used here, and it is eight more processes
            {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            lambda: http_ok(f"http://{LOOPBACK}:{ports.mlflow}/health"),
        )
        token = secrets.token_hex(16)
        jupyter = Service(
            "jupyter",
            "JupyterLab",
            f"http://{LOOPBACK}:{ports.jupyter}/lab?token={token}",
            f"token {token}",
            str(logs / "jupyter.log"),
        )
        notebooks = REPO_ROOT / "notebooks"
        notebooks.mkdir(exist_ok=True)
        yield (
            jupyter,
            [
                str(BIN / "jupyter"),
                "lab",
                "--no-browser",
                f"--ServerApp.ip={LOOPBACK}",
                f"--ServerApp.port={ports.jupyter}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={notebooks}",
                "--MultiKernelManager.default_kernel_name=plantlake",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            # the token goes by the environment: a command line is visible to every local user
            self._jupyter_env() | {"JUPYTER_TOKEN": token},
            lambda: http_ok(f"http://{LOOPBACK}:{ports.jupyter}/api/status?token={token}"),
        )
        if sql_endpoint_available():
            log = logs / "sql-endpoint.log"
            sql = Service(
                "sql",
                "SQL endpoint (HiveServer2, read-only)",
                f"jdbc:hive2://{LOOPBACK}:{ports.sql}",
                "any user, no password",
                str(log),
            )
            offset = log.stat().st_size if log.exists() else 0  # the log of earlier runs stays
            yield (
                sql,
                [*_plantlake(), "sql-endpoint", "--port", str(ports.sql)],
                {},
                lambda: _said_ready(log, offset) and port_open(ports.sql),
            )

    def _dagster_home(self) -> None:
        home = self.lake_root / "_dagster"
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        # materialize.py writes telemetry only; anything else is the user's and stays
        current = config.read_text() if config.exists() else ""
        if current in ("", "telemetry:\n  enabled: false\n") or current.startswith(
            DAGSTER_YAML.splitlines()[0]
        ):
            config.write_text(DAGSTER_YAML)

    def _jupyter_env(self) -> dict[str, str]:
        """Jupyter's folders inside the workbench (not the user's home), with the `plantlake`
        kernel: this venv's Python, the lake of this workbench."""
        root = self.home / "jupyter"
        kernel = root / "data" / "kernels" / "plantlake"
        kernel.mkdir(parents=True, exist_ok=True)
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "plantlake (Python 3, Spark)",
            "language": "python",
            "env": {"PLANTLAKE_LAKE_ROOT": str(self.lake_root), "SPARK_LOCAL_IP": LOOPBACK},
            "metadata": {"debugger": True},
        }
        (kernel / "kernel.json").write_text(json.dumps(spec, indent=1))
        return {
            "JUPYTER_PATH": str(root / "data"),
            "JUPYTER_DATA_DIR": str(root / "data"),
            "JUPYTER_CONFIG_DIR": str(root / "config"),
            "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
            "IPYTHONDIR": str(root / "ipython"),
        }

    def _ingestion_config(self) -> Path:
        """The ingestion YAML of the live plant: both MQTT feeds, OPC UA and the MES database."""
        from orchestration.live import MES_TABLES

        ports = self.settings.ports
        mqtt = {"type": "mqtt", "host": LOOPBACK, "port": ports.mqtt, "username": MQTT_USER}
        mqtt["password_env"] = "PLANTLAKE_MQTT_PASSWORD"
        config = {
            "loader_interval_s": 30,
            "metrics_port": ports.ingest_metrics,
            "sources": [
                {
                    **mqtt,
                    "name": "uns",
                    "client_id": "plantlake-uns",
                    "topics": ["acme/#"],
                    "sparkplug_host": False,  # the sparkplug source is the Host Application
                },
                {
                    **mqtt,
                    "name": "sparkplug",
                    "client_id": "plantlake-spb",
                    "topics": ["spBv1.0/#"],
                },
                {
                    "type": "opcua",
                    "name": "opcua",
                    "endpoint": f"opc.tcp://{LOOPBACK}:{ports.opcua}/plantlake/",
                    "root": ["0:Objects", "2:acme"],
                    "reconnect_max_delay_s": 5,
                },
                {
                    "type": "postgres",
                    "name": "mes",
                    "host": LOOPBACK,
                    "port": ports.postgres,
                    "dbname": PG_DBNAME,
                    "user": PG_USER,
                    "password_env": "PLANTLAKE_PG_PASSWORD",
                    "tables": MES_TABLES,
                    "poll_interval_s": 10,
                },
            ],
        }
        path = self.home / "ingestion.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def _ingestion_reporting(self, config: Path, landing: Path) -> bool:
        """Every source has written its status file: the service loop runs."""
        from ingestion.service import status_path

        names = [s["name"] for s in yaml.safe_load(config.read_text())["sources"]]
        return all(status_path(landing, n).exists() for n in names)

    # -- down --------------------------------------------------------------------------------------
    def down(self, timeout_s: float = 30.0) -> list[tuple[Service, list[int]]]:
        """Stop every recorded process group (and descendants); returns what ran, with its PIDs."""
        with self._locked():
            state = self.state()
            if state is None:
                return []
            stopped = self._stop(state, timeout_s)
            self.state_file.unlink(missing_ok=True)
            return stopped

    def _stop(self, state: State, timeout_s: float = 30.0) -> list[tuple[Service, list[int]]]:
        """The clients first, all at once; then the broker and the database."""
        recorded = state.recorded()
        apps = [s for s in recorded if s.key not in INFRASTRUCTURE]
        infra = [s for s in recorded if s.key in INFRASTRUCTURE]
        stopped = []
        for group in (apps, infra):
            if not group:
                continue
            with ThreadPoolExecutor(len(group)) as pool:
                pids = list(
                    pool.map(
                        lambda s: stop_family(s.ref, timeout_s, whole_group=s.whole_group), group
                    )
                )
            stopped += list(zip(group, pids, strict=True))
        return stopped


def _plantlake() -> list[str]:
    return [sys.executable, "-m", "orchestration.workbench.launch"]


def _wait_all(waits: list[tuple[Service, Callable[[], bool]]], deadline: float) -> None:
    """Wait for all at once: the first that ends (or is late) stops the wait, named."""
    pending = list(waits)
    while pending:
        for service, ready in list(pending):
            if ready():
                pending.remove((service, ready))
            elif not service.alive() or time.monotonic() > deadline:
                _wait(service, ready, deadline)  # raises, with the log's tail
        time.sleep(0.25)


def _wait(service: Service, ready: Callable[[], bool], deadline: float) -> None:
    wait_ready(
        service.name,
        ready,
        service.ref,
        Path(service.log),
        max(deadline - time.monotonic(), 1.0),
    )


def _said_ready(log: Path, offset: int) -> bool:
    """Whether the log says `ready` after `offset` (where this run's output begins)."""
    if not log.exists():
        return False
    with open(log, "rb") as text:
        text.seek(offset)
        return b"ready" in text.read().lower()


def sql_endpoint_available() -> bool:
    """Whether `plantlake sql-endpoint` exists (another part of plantlake provides it)."""
    from lakehouse.cli import app

    names = {g.name for g in app.registered_groups}
    names |= {
        c.name or (c.callback.__name__.replace("_", "-") if c.callback else "")
        for c in app.registered_commands
    }
    return "sql-endpoint" in names


def graphql(port: int, query: str, timeout_s: float = 10.0) -> dict:
    """POST a query to the Dagster webserver's GraphQL endpoint; the `data` of the answer."""
    import urllib.request

    request = urllib.request.Request(
        f"http://{LOOPBACK}:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        answer = json.loads(response.read())
    if answer.get("errors"):
        raise RuntimeError(f"Dagster GraphQL errors: {answer['errors']}")
    return answer["data"]


LOCATIONS_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def dagster_loaded(port: int) -> bool:
    """The webserver answers and every code location has loaded; a location that failed to load
    raises ServiceStartError with Dagster's message."""
    if not http_ok(f"http://{LOOPBACK}:{port}/server_info"):
        return False
    try:
        workspace = graphql(port, LOCATIONS_QUERY)["workspaceOrError"]
    except (OSError, RuntimeError, ValueError):
        return False
    entries = workspace.get("locationEntries") or []
    for entry in entries:
        loaded = entry.get("locationOrLoadError") or {}
        if loaded.get("__typename") == "PythonError":
            raise ServiceStartError(
                f"Dagster could not load {entry['name']}: {loaded.get('message', '')[:2000]}"
            )
    return bool(entries) and all(
        e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries
    )
