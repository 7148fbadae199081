"""The workbench, up once on free ports with a lake of its own: every service answers, Dagster
serves all of plantlake's definitions, a second `up` starts nothing, and `down` leaves nothing."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from lakehouse.services.ports import free_port

pytestmark = pytest.mark.integration

SERVICES = (
    *("mqtt", "postgres", "opcua", "dagster", "mlflow", "sql", "jupyter", "ingest_metrics"),
    "engine",
)


def plantlake(
    env: dict[str, str], *args: str, timeout_s: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


@pytest.fixture(scope="module")
def workbench(spark):
    """`plantlake up` on a fresh lake (its catalog created first) and free ports; `down` after."""
    from lakehouse.lake import Lake

    base = Path(tempfile.mkdtemp(prefix="plantlake-workbench-"))
    base.chmod(0o755)  # PostgreSQL runs as the `postgres` user when we are root
    # deep, as a checkout may be: no Unix socket of any service may live under it (107 bytes)
    lake_root = base / ("a-rather-long-folder-name-of-a-checkout-" * 3) / "lake"
    assert len(str(lake_root / "_workbench" / "postgres" / "sock" / ".s.PGSQL.54321")) > 107
    lake_root.parent.mkdir()
    lake_root.parent.chmod(0o755)  # a checkout's folders, which other users may pass
    lake = Lake(spark, lake_root)
    lake.create_all()
    _seed_one_shift(lake)
    ports = {}
    while len(set(ports.values())) < len(SERVICES):
        ports = {name: free_port() for name in SERVICES}
    env = dict(os.environ, PLANTLAKE_LAKE_ROOT=str(lake_root), SPARK_LOCAL_IP="127.0.0.1")
    env |= {f"PLANTLAKE_PORTS__{name.upper()}": str(port) for name, port in ports.items()}
    started = time.monotonic()
    up = plantlake(env, "up")
    up_s = time.monotonic() - started
    state_file = lake_root / "_workbench" / "state.json"
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        state = json.loads(state_file.read_text())
        print(f"plantlake up: {up_s:.0f} s")
        secrets = json.loads((lake_root / "_workbench" / "secrets.json").read_text())
        yield {
            "env": env,
            "ports": ports,
            "lake": lake_root,
            "state": state,
            "up": up.stdout,
            "secrets": secrets,
        }
    finally:
        plantlake(env, "down")  # nothing left to stop once test_down ran
        shutil.rmtree(base, ignore_errors=True)


SEEDED_SHIFT = "seeded-by-the-workbench-test"


def _seed_one_shift(lake) -> None:
    """One gold.oee_shift row, on a day no live build rebuilds, for the analyst to count."""
    from datetime import date, datetime

    from lakehouse.catalog import get_table

    spec = get_table("gold.oee_shift")
    by_type = {
        "string": "seed",
        "double": 0.0,
        "bigint": 0,
        "boolean": True,
        "date": date(2020, 1, 6),
        "timestamp": datetime(2020, 1, 6, 6),
    }
    row = {c.name: by_type[c.data_type.simpleString()] for c in spec.columns}
    row["shift_id"] = SEEDED_SHIFT
    lake.append("gold.oee_shift", lake.spark.createDataFrame([tuple(row.values())], spec.schema))


def service(workbench, key: str) -> dict:
    return next(s for s in workbench["state"]["services"] if s["key"] == key)


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def door(
    workbench,
    ui: str,
    target: str,
    *,
    method: str = "GET",
    login: bool | str = True,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    """A request to the front door of `ui` (dagster, mlflow, jupyter) with the workbench login
    (False: none; a string: that password): status, body, response."""
    port = workbench["ports"][ui]
    password = workbench["secrets"]["web"] if login is True else login
    sent = {"Host": f"127.0.0.1:{port}"} | (headers or {})
    if password:
        sent["Authorization"] = (
            "Basic " + base64.b64encode(f"plantlake:{password}".encode()).decode()
        )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=True)
        for name, value in sent.items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read() if response.status != 101 else b"", response
    finally:
        connection.close()


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_every_service_answers(workbench):
    ports = workbench["ports"]
    for name in ("mqtt", "postgres", "opcua"):
        assert port_open(ports[name]), f"{name} is not listening on {ports[name]}"
    assert door(workbench, "dagster", "/server_info")[0] == 200
    assert door(workbench, "mlflow", "/health")[0] == 200
    status, body = get(f"http://127.0.0.1:{ports['ingest_metrics']}/metrics")
    assert status == 200 and b'plantlake_ingest_source_up{source="opcua",type="opcua"}' in body
    token = service(workbench, "jupyter")["url"].split("token=")[1]
    status, body, _ = door(workbench, "jupyter", f"/api/kernelspecs?token={token}")
    kernels = json.loads(body)
    assert status == 200 and kernels["default"] == "plantlake"
    kernel = kernels["kernelspecs"]["plantlake"]["spec"]
    assert kernel["argv"][0] == sys.executable
    assert kernel["env"]["PLANTLAKE_LAKE_ROOT"] == str(workbench["lake"])
    sql = service(workbench, "sql")
    if sql["pid"]:  # as the analyst `plantlake up` made, shown in its row: gold, not bronze
        from lakehouse.sql_endpoint import connect

        password = workbench["secrets"]["sql_analyst"]
        assert f"analyst / {password}" in sql["credentials"]
        conn = connect(ports["sql"], "analyst", password)
        cursor = conn.cursor()
        cursor.execute(f"SELECT count(*) FROM gold.oee_shift WHERE shift_id = '{SEEDED_SHIFT}'")
        assert cursor.fetchall() == [(1,)]  # the row the fixture wrote, read through the endpoint
        with pytest.raises(Exception, match=r"table bronze\.mqtt_messages refused"):
            cursor.execute("SELECT count(*) FROM bronze.mqtt_messages")
        conn.close()
    else:
        assert "not available" in sql["note"]
    # the live plant reaches the ingestion service through the broker
    status_file = workbench["lake"] / "_landing" / "_status" / "uns.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if status_file.exists() and json.loads(status_file.read_text())["received"] > 0:
            break
        time.sleep(1)
    else:
        pytest.fail(f"no MQTT message reached ingestion in 60 s: {status_file}")
    recorded = [s["pid"] for s in workbench["state"]["services"] if s["pid"]]
    ours = set().union(*(family(pid) for pid in recorded))
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.pid in ours
    }
    assert {ip for ip, _ in listening} <= {"127.0.0.1", "::ffff:127.0.0.1"}, listening
    # the UIs' ports are the front door's; the UIs themselves listen on Unix sockets only
    front = service(workbench, "web")["pid"]
    owner = {
        c.laddr.port: c.pid
        for c in psutil.net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.pid in ours
    }
    assert {owner[ports[ui]] for ui in ("dagster", "mlflow", "jupyter")} == {front}
    uis = set().union(
        *(family(service(workbench, ui)["pid"]) for ui in ("dagster", "mlflow", "jupyter"))
    )
    # only the UI servers themselves: code they run (a Dagster run's or sensor's Spark driver,
    # with Py4J, Spark RPC and PySpark's accumulator server; a notebook's kernel with ZeroMQ)
    # listens on loopback ports of its own
    uis = {pid for pid in uis if _serves_a_ui(pid)}
    assert len(uis) >= 3, "the UI servers were not found"
    ui_tcp = {
        (c.laddr.port, " ".join(psutil.Process(c.pid).cmdline()[:4]))
        for c in psutil.net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.pid in uis
    }
    assert not ui_tcp, ui_tcp
    sockets = Path(workbench["state"]["sockets"])
    assert sockets.stat().st_mode & 0o777 == 0o700
    assert {p.name for p in sockets.iterdir()} >= {"dagster.sock", "mlflow.sock", "jupyter.sock"}


def _serves_a_ui(pid: int) -> bool:
    """Dagster's webserver (and `dagster dev` above it), MLflow's server, JupyterLab's server."""
    try:
        command = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    servers = ("workbench.dagster_socket", "bin/mlflow server", "uvicorn", "jupyter-lab")
    return any(server in command for server in servers)


@pytest.mark.security
def test_the_front_door_asks_for_the_login_and_refuses_forged_requests(workbench):
    """Issue 14, item 4: Dagster's webserver ran GraphQL mutations sent by GET with any Host, MLflow
    had no login, and every local user reached the UIs' ports."""
    token = service(workbench, "jupyter")["url"].split("token=")[1]
    for ui, target in (
        ("dagster", "/server_info"),
        ("mlflow", "/health"),
        ("jupyter", f"/api/status?token={token}"),
    ):
        assert door(workbench, ui, target, login=False)[0] == 401, ui
        assert door(workbench, ui, target, login="wrong")[0] == 401, ui
        assert door(workbench, ui, target)[0] == 200, ui
        evil = {"Host": f"evil.example:{workbench['ports'][ui]}"}  # DNS rebinding
        assert door(workbench, ui, target, headers=evil)[0] == 421, ui
        foreign = {"Origin": "http://evil.example"}
        assert door(workbench, ui, target, method="POST", headers=foreign, body=b"")[0] == 403, ui
    own = f"http://127.0.0.1:{workbench['ports']['dagster']}"
    status, body, _ = door(workbench, "dagster", "/graphql?query=mutation%7BlogTelemetry%7D")
    assert (status, body) == (403, b"refused: GraphQL over GET (use POST)")
    # the UI's own requests: queries and mutations POSTed as JSON, subscriptions over a WebSocket
    query = json.dumps({"query": "{ version }"}).encode()
    json_post = {"Origin": own, "Content-Type": "application/json"}
    status, body, _ = door(
        workbench, "dagster", "/graphql", method="POST", headers=json_post, body=query
    )
    assert status == 200 and json.loads(body)["data"]["version"]
    upgrade = {
        "Origin": own,
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Protocol": "graphql-ws",
    }
    status, _, response = door(workbench, "dagster", "/graphql", headers=upgrade)
    assert status == 101 and response.getheader("Sec-WebSocket-Protocol") == "graphql-ws"
    foreign_ws = upgrade | {"Origin": "http://evil.example"}
    assert door(workbench, "dagster", "/graphql", headers=foreign_ws)[0] == 403


@pytest.mark.security
def test_no_secret_is_on_a_command_line_and_secret_files_are_private(workbench):
    """`ps` shows every local user every command line: no token or password may be on one."""
    home = workbench["lake"] / "_workbench"
    token = service(workbench, "jupyter")["url"].split("token=")[1]
    secrets = [token, *json.loads((home / "secrets.json").read_text()).values()]
    shown = []
    for proc in our_processes(workbench["lake"]):
        try:
            shown.append(" ".join(proc.cmdline()))
        except psutil.Error:
            continue
    assert shown and not [line for line in shown if any(s in line for s in secrets)]
    for private in (home / "secrets.json", *home.rglob("passwd"), *home.glob("*.json")):
        assert private.stat().st_mode & 0o077 == 0, f"{private} is readable by others"
    caddyfile = home / "caddy" / "Caddyfile"  # the front door's login, bcrypt-hashed
    assert caddyfile.stat().st_mode & 0o777 == 0o600
    assert "plantlake $2a$" in caddyfile.read_text()
    assert (home / "caddy").stat().st_mode & 0o777 == 0o700


@pytest.mark.security
def test_the_lake_is_the_owners_alone(workbench):
    """Data, the MLflow store, logs and configs: nothing another local user may read. The lake's
    and the workbench's folders may be passed through (0711) by the broker's and database's users."""
    lake = workbench["lake"]
    assert (lake / "_landing").is_dir() and (lake / "_workbench" / "logs").is_dir()
    open_to_others = {}
    for folder, dirs, files in os.walk(lake):
        for name in (*dirs, *files):
            path = Path(folder, name)
            mode = path.lstat().st_mode & 0o777
            passable = path == lake / "_workbench" and mode == 0o711
            if mode & 0o077 and not passable and not path.is_symlink():
                open_to_others[str(path.relative_to(lake))] = oct(mode)
    assert open_to_others == {}
    assert lake.stat().st_mode & 0o077 in (0, 0o011)


def test_dagster_serves_every_definition(workbench):
    from orchestration.definitions import defs
    from orchestration.workbench.services import graphql

    graph = defs.resolve_asset_graph()
    expected_assets = {key.to_user_string() for key in graph.get_all_asset_keys()}
    expected_checks = {
        f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys
    }
    dagster_socket = Path(workbench["state"]["sockets"]) / "dagster.sock"  # past the front door
    data = graphql(
        dagster_socket,
        """{ assetNodes { assetKey { path }
               assetChecksOrError { ... on AssetChecks { checks { name } } } }
             repositoriesOrError { ... on RepositoryConnection { nodes {
               schedules { name } sensors { name sensorState { status } } } } } }""",
    )
    assets = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
    checks = {
        f"{'/'.join(n['assetKey']['path'])}:{c['name']}"
        for n in data["assetNodes"]
        for c in n["assetChecksOrError"].get("checks", [])
    }
    (repository,) = data["repositoriesOrError"]["nodes"]
    assert assets == expected_assets
    assert checks == expected_checks and checks
    assert {s["name"] for s in repository["schedules"]} == {s.name for s in defs.schedules}
    assert {s["name"] for s in repository["sensors"]} == {s.name for s in defs.sensors}
    assert {s["sensorState"]["status"] for s in repository["sensors"]} == {"RUNNING"}

    deadline = time.monotonic() + 60  # the daemon's first heartbeat (sensors, schedules, queue)
    while True:
        health = graphql(
            dagster_socket,
            "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }",
        )
        daemons = health["instance"]["daemonHealth"]["allDaemonStatuses"]
        unhealthy = [d["daemonType"] for d in daemons if d["required"] and not d["healthy"]]
        if not unhealthy or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not unhealthy
    assert {"SENSOR", "SCHEDULER"} <= {d["daemonType"] for d in daemons}


def our_processes(lake: Path) -> list[psutil.Process]:
    """Every process running with this lake in its environment (what `up` started, and theirs)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("PLANTLAKE_LAKE_ROOT") == str(lake):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def family(pid: int) -> set[int]:
    try:
        proc = psutil.Process(pid)
        return {pid} | {c.pid for c in proc.children(recursive=True)}
    except psutil.Error:
        return set()


def test_up_twice_reports_what_runs_and_starts_nothing(workbench):
    state_file = workbench["lake"] / "_workbench" / "state.json"
    before = state_file.read_text()
    began = time.time()
    again = plantlake(workbench["env"], "up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running" in again.stdout
    recorded = [s for s in workbench["state"]["services"] if s["pid"]]
    for s in recorded:
        assert str(s["pid"]) in again.stdout and s["url"] in again.stdout.replace("\n", "")
    assert state_file.read_text() == before
    ours = set().union(*(family(s["pid"]) for s in recorded))
    new = [
        p
        for p in our_processes(workbench["lake"])
        if p.create_time() >= began and p.pid not in ours
    ]
    assert not new, [p.cmdline() for p in new]


def test_down_leaves_nothing(workbench):
    recorded = [s for s in workbench["state"]["services"] if s["pid"]]
    pids = set().union(*(family(s["pid"]) for s in recorded))
    procs = [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]
    assert len(procs) >= len(recorded)
    down = plantlake(workbench["env"], "down")
    assert down.returncode == 0, down.stdout + down.stderr

    def running(proc: psutil.Process) -> bool:
        try:
            return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    left = [(p.pid, p.cmdline()) for p in procs if running(p)]
    assert not left
    assert not [p.cmdline() for p in our_processes(workbench["lake"]) if running(p)]
    assert not [name for name, port in workbench["ports"].items() if port_open(port)]
    assert not (workbench["lake"] / "_workbench" / "state.json").exists()
    assert not Path(workbench["state"]["sockets"]).exists()  # the UIs' private socket folder
