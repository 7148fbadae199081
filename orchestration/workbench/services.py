"""Start and stop the workbench: what each service runs, how it is known to be ready, and the
state file that lets `plantlake down` stop exactly what `plantlake up` started."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from lakehouse.private import make_owner_only, write_private
from lakehouse.services.ports import LOOPBACK, port_open
from lakehouse.services.processes import (
    ProcessRef,
    ServiceStartError,
    Starting,
    spawn,
    stop_family,
    wait_all,
)
from lakehouse.settings import REPO_ROOT, Settings
from orchestration.workbench import database, front_door

BIN = Path(sys.executable).parent
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
INFRASTRUCTURE = ("mosquitto", "postgres")  # stopped last: the others are their clients
# the broker's accounts, by secret name: username, and role in lakehouse.services.mosquitto.ACL
# (the plant publishes, ingestion reads and asks for rebirths, people only read)
MQTT_ACCOUNTS = {"mqtt_plant": "plant", "mqtt_ingestion": "ingestion", "mqtt_reader": "reader"}
# the SQL endpoint's account made on the lake's first start (lakehouse.sql_users), and its role
SQL_ANALYST = "analyst"
# the workbench's passwords, by name (kept in <lake>/_workbench/secrets.json, mode 0600)
SECRETS = (
    *MQTT_ACCOUNTS,
    *database.SECRETS,
    "web",  # the login of the web UIs' front door (orchestration.workbench.front_door)
    "sql_analyst",  # the SQL endpoint's SQL_ANALYST account
    # ending of ingestion's MQTT client ids: the broker ties a persistent session to a client id,
    # not to an account, so an id another account could guess would let it end ingestion's
    # session and drop the messages queued for it
    "mqtt_session",
)


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
    # the web UIs' Unix sockets: a short private folder (a socket path has at most 107 bytes)
    sockets: str | None = None

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

    def __init__(self, settings: Settings, tls: bool = False):
        self.settings = settings
        self.tls = tls  # the broker speaks TLS only, with a certificate of the lake's own CA
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
            raw.get("sockets"),
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
            self.home.mkdir(parents=True, exist_ok=True)
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
                _remove_sockets(previous)
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
        from lakehouse.services.mosquitto import MqttAccount, start_mosquitto

        if not lake_model_path(self.lake_root).exists():
            # the live plant is the simulator: its model file tells plantlake what it sends
            install_model(self.lake_root, plant.MODEL_FILE)
        deadline = time.monotonic() + timeout_s
        ports = self.settings.ports
        secret = self._secrets()
        env = self._env()
        waits: list[Starting] = []

        def record(service: Service, pid: int) -> None:
            ref = ProcessRef.of(pid)
            service.pid, service.create_time = ref.pid, ref.create_time
            state.services.append(service)
            self._save(state)

        def launch(
            service: Service,
            ready: Callable[[], bool],
            command: list[str],
            extra_env: dict[str, str],
            cwd: Path = REPO_ROOT,
        ) -> None:
            """Start the service detached, record it, and have it waited for below."""
            spawned = spawn(command, Path(service.log), env=env | extra_env, cwd=cwd)
            record(service, spawned.pid)
            waits.append(Starting(service.name, ready, service.ref, Path(service.log)))

        def log(key: str) -> Path:
            return self.logs / f"{key}.log"

        progress(
            "starting the Spark engine, Dagster, MLflow, JupyterLab, their front door and the SQL "
            "endpoint"
        )
        state.sockets = tempfile.mkdtemp(prefix="plantlake-")  # mode 0700: only we reach the UIs
        self._save(state)
        doors = front_door.doors(ports, Path(state.sockets))
        for service, command, extra_env, ready in self._web_services(doors):
            launch(service, ready, command, extra_env)
        command, door_env = front_door.prepare(self.home / "caddy", doors, secret["web"])
        door = Service(
            "web",
            "front door (Caddy): Dagster, MLflow, JupyterLab",
            ", ".join(d.url for d in doors),
            f"{front_door.USER} / {secret['web']}",
            str(log("front-door")),
        )
        launch(
            door, lambda: all(map(front_door.asks_for_login, doors)), command, door_env, self.home
        )
        if not sql_endpoint_available():
            state.services.append(
                Service(
                    "sql", "SQL endpoint", note="not available: no `plantlake sql-endpoint` yet"
                )
            )
            self._save(state)

        progress("starting Mosquitto and PostgreSQL")
        tls = self._broker_tls()
        broker = start_mosquitto(
            self.home / "mosquitto",
            ports.mqtt,
            log_file=log("mosquitto"),
            accounts=[
                MqttAccount(role, secret[name], role) for name, role in MQTT_ACCOUNTS.items()
            ],
            tls=tls,
        )
        reader = broker.account("reader")  # the table is for people: they only read
        record(
            Service(
                "mosquitto",
                "Mosquitto (MQTT)",
                f"{'mqtts' if tls else 'mqtt'}://{LOOPBACK}:{ports.mqtt}",
                f"{reader.username} / {reader.password}" + (f"; CA {tls.ca_file}" if tls else ""),
                str(broker.log),
            ),
            broker.pid,
        )
        # the roles, the MES schema (made by the plant) and the read grants, before the
        # extractor's first poll; the superuser's password is for `up` alone
        pg = database.start_database(
            self.home / "postgres", ports.postgres, PG_DBNAME, secret, log("postgres")
        )
        record(
            Service(
                "postgres",
                "PostgreSQL (MES/ERP)",
                f"postgresql://{LOOPBACK}:{ports.postgres}/{PG_DBNAME}",
                f"{database.READER} / {secret['pg_reader']}",
                str(pg.log),
                note="read-only: SELECT on the MES/ERP tables",
            ),
            pg.pid,
        )

        progress("starting ingestion and the plant")
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
        mqtt_password = {"PLANTLAKE_MQTT_PASSWORD": secret["mqtt_ingestion"]}
        pg_password = {"PLANTLAKE_PG_PASSWORD": secret["pg_ingestion"]}
        launch(
            ingestion,
            lambda: self._ingestion_reporting(config, landing),
            command,
            mqtt_password | pg_password,
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
            MQTT_ACCOUNTS["mqtt_plant"],
            *(["--mqtt-tls-ca", str(self._broker_tls().ca_file)] if self.tls else []),
            "--postgres",
            f"host={LOOPBACK} port={ports.postgres} dbname={PG_DBNAME} user={database.PLANT}",
        ]
        mqtt_password = {"PLANTLAKE_MQTT_PASSWORD": secret["mqtt_plant"]}
        pg_password = {"PLANTLAKE_PG_PASSWORD": secret["pg_plant"]}
        launch(plant, lambda: port_open(ports.opcua), command, mqtt_password | pg_password)

        progress("waiting for " + ", ".join(s.name.split(" (")[0] for s in waits))
        wait_all(waits, max(deadline - time.monotonic(), 1.0))

    def _web_services(self, doors: list[front_door.Door]):
        """(service, command, extra environment, ready) of Dagster, MLflow, JupyterLab and the SQL
        endpoint; the three UIs listen on the Unix sockets of their `doors` (the front door's
        ports are the only way in)."""
        ports = self.settings.ports
        logs = self.logs
        door = {d.key: d for d in doors}
        yield self._engine_service()
        self._dagster_home()
        dagster = Service(
            "dagster",
            "Dagster (UI + daemon)",
            door["dagster"].url,
            "front door login",
            str(logs / "dagster.log"),
            whole_group=True,  # `dagster dev` stops, but its run workers go on
        )
        dagster_socket = door["dagster"].socket
        yield (
            dagster,
            [
                sys.executable,
                "-m",
                "orchestration.workbench.dagster_socket",  # `dagster dev`, its UI on the socket
                str(dagster_socket),
                "-m",
                "orchestration.definitions",
            ],
            {},
            lambda: dagster_loaded(dagster_socket),
        )
        mlflow_dir = self.lake_root / "_mlflow"
        (mlflow_dir / "artifacts").mkdir(parents=True, exist_ok=True)
        mlflow_door = door["mlflow"]
        mlflow = Service(
            "mlflow",
            "MLflow",
            mlflow_door.url,
            "front door login",
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
                "--uvicorn-opts",
                f"--uds {shlex.quote(str(mlflow_door.socket))}",  # uvicorn then binds no port
                # MLflow's own checks agree with the door's: its Host and its origin only
                "--allowed-hosts",
                ",".join(mlflow_door.hosts),
                "--cors-allowed-origins",
                ",".join(f"http://{host}" for host in mlflow_door.hosts),
                "--workers",
                "1",
            ],
            # no job runner: its GenAI jobs are not used here, and it is eight more processes
            {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            lambda: front_door.unix_ok(mlflow_door.socket, "/health", host=mlflow_door.hosts[0]),
        )
        token = secrets.token_hex(16)
        jupyter_door = door["jupyter"]
        jupyter = Service(
            "jupyter",
            "JupyterLab",
            f"{jupyter_door.url}/lab?token={token}",
            f"front door login, then token {token}",
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
                f"--ServerApp.sock={jupyter_door.socket}",
                "--ServerApp.sock_mode=0600",
                f"--ServerApp.root_dir={notebooks}",
                "--MultiKernelManager.default_kernel_name=plantlake",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            # the token goes by the environment: a command line is visible to every local user
            self._jupyter_env() | {"JUPYTER_TOKEN": token},
            lambda: front_door.unix_ok(
                jupyter_door.socket, f"/api/status?token={token}", host=jupyter_door.hosts[0]
            ),
        )
        if sql_endpoint_available():
            from lakehouse.sql_users import users_file

            log = logs / "sql-endpoint.log"
            sql = Service(
                "sql",
                "SQL endpoint (HiveServer2, read-only)",
                f"jdbc:hive2://{LOOPBACK}:{ports.sql}",
                sql_credentials(users_file(self.lake_root), self._secrets()["sql_analyst"]),
                str(log),
            )
            offset = log.stat().st_size if log.exists() else 0  # the log of earlier runs stays
            yield (
                sql,
                [*_plantlake(), "sql-endpoint", "--port", str(ports.sql)],
                {},
                lambda: _said_ready(log, offset) and port_open(ports.sql),
            )

    def _engine_service(self):
        """The warm Spark engine first: Dagster runs, notebooks and `plantlake sql` of this
        lake connect to it (`lakehouse.engine`) instead of starting Spark each."""
        from lakehouse import engine

        port = self.settings.ports.engine
        log = self.logs / "engine.log"
        service = Service(
            "engine",
            "Spark engine (Spark Connect)",
            f"sc://localhost:{port}",
            f"token in {engine.folder(self.lake_root) / 'token'}",
            str(log),
            note="every client of this lake uses it (setting engine=auto)",
        )
        ready = lambda: engine.running(self.lake_root) is not None and port_open(port)  # noqa: E731
        return service, [*_plantlake(), "engine", "--port", str(port)], {}, ready

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

    def _broker_tls(self):
        """With `tls`, the broker's certificate and the CA its clients verify it by, made once
        per lake in <lake>/_workbench/tls (keys 0600); None without."""
        from lakehouse.services.tls import make_server_tls

        return make_server_tls(self.home / "tls") if self.tls else None

    def _ingestion_config(self) -> Path:
        """The ingestion YAML of the live plant: both MQTT feeds, OPC UA and the MES database."""
        from orchestration.live import MES_TABLES

        ports = self.settings.ports
        mqtt = {"type": "mqtt", "host": LOOPBACK, "port": ports.mqtt}
        mqtt["username"] = MQTT_ACCOUNTS["mqtt_ingestion"]
        mqtt["password_env"] = "PLANTLAKE_MQTT_PASSWORD"
        session = self._secrets()["mqtt_session"]
        if self.tls:
            mqtt["tls_ca_file"] = str(self._broker_tls().ca_file)
        config = {
            "loader_interval_s": 30,
            "metrics_port": ports.ingest_metrics,
            "sources": [
                {
                    **mqtt,
                    "name": "uns",
                    "client_id": f"plantlake-uns-{session}",
                    "topics": ["acme/#"],
                    "sparkplug_host": False,  # the sparkplug source is the Host Application
                },
                {
                    **mqtt,
                    "name": "sparkplug",
                    "client_id": f"plantlake-spb-{session}",
                    "sparkplug_host_id": "plantlake-spb",  # public: its STATE topic names it
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
                    "user": database.INGESTION,
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
        _remove_sockets(state)
        return stopped


def _plantlake() -> list[str]:
    return [sys.executable, "-m", "orchestration.workbench.launch"]


def _said_ready(log: Path, offset: int) -> bool:
    """Whether the log says `ready` after `offset` (where this run's output begins)."""
    if not log.exists():
        return False
    with open(log, "rb") as text:
        text.seek(offset)
        return b"ready" in text.read().lower()


def _remove_sockets(state: State) -> None:
    """The private folder of the UIs' sockets, once they have stopped."""
    if state.sockets:
        shutil.rmtree(state.sockets, ignore_errors=True)


def sql_credentials(users: Path, analyst_password: str) -> str:
    """The SQL endpoint's row of the table. The lake's first start makes the users file with
    the SQL_ANALYST account; later starts leave the file as `plantlake users` made it (a removed
    account stays removed), and the table shows the password while it still logs in."""
    from lakehouse.sql_users import logs_in, start_users_file

    start_users_file(users, SQL_ANALYST, SQL_ANALYST, analyst_password)
    if logs_in(users, SQL_ANALYST, analyst_password):
        return f"{SQL_ANALYST} / {analyst_password} (more: plantlake users add)"
    return "see plantlake users list"


def sql_endpoint_available() -> bool:
    """Whether `plantlake sql-endpoint` exists (another part of plantlake provides it)."""
    from lakehouse.cli import app

    names = {g.name for g in app.registered_groups}
    names |= {
        c.name or (c.callback.__name__.replace("_", "-") if c.callback else "")
        for c in app.registered_commands
    }
    return "sql-endpoint" in names


def graphql(socket: Path, query: str, timeout_s: float = 10.0) -> dict:
    """POST a query to the Dagster webserver's GraphQL endpoint on its Unix socket (past the front
    door); the `data` of the answer."""
    status, body = front_door.unix_request(
        socket,
        "POST",
        "/graphql",
        json.dumps({"query": query}).encode(),
        {"Content-Type": "application/json"},
        timeout_s=timeout_s,
    )
    if status != 200:
        raise RuntimeError(f"Dagster GraphQL answered {status}: {body[:2000]!r}")
    answer = json.loads(body)
    if answer.get("errors"):
        raise RuntimeError(f"Dagster GraphQL errors: {answer['errors']}")
    return answer["data"]


LOCATIONS_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def dagster_loaded(socket: Path) -> bool:
    """The webserver answers on its socket and every code location has loaded; a location that
    failed to load raises ServiceStartError with Dagster's message."""
    if not front_door.unix_ok(socket, "/server_info"):
        return False
    try:
        workspace = graphql(socket, LOCATIONS_QUERY)["workspaceOrError"]
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
