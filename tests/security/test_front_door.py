"""The workbench's front door (issue 14, item 4), Caddy alone in front of stand-in UIs on Unix
sockets: it asks for the login, refuses a wrong Host (DNS rebinding), a foreign Origin and other
sites' requests (CSRF) and Dagster GraphQL over GET, keeps its configuration private and listens
on loopback only."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import shutil
import socketserver
import subprocess
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from lakehouse.services.ports import free_port
from lakehouse.services.processes import ProcessRef, spawn, stop_family, wait_ready
from orchestration.workbench import front_door

pytestmark = pytest.mark.integration

PASSWORD = "right-horse-battery"


class _Echo(http.server.BaseHTTPRequestHandler):
    """A stand-in UI: answers 200 with what reached it (method, path, headers)."""

    def address_string(self) -> str:  # a Unix socket has no client address
        return "unix"

    def log_message(self, *_args) -> None:
        pass

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = {
            "ui": self.server.ui,
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers),
            "body": self.rfile.read(length).decode(),
        }
        body = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def door():
    """Caddy with the workbench's configuration, in front of three stand-ins; its folders' path
    has a space, as a lake's may."""
    sockets = Path(tempfile.mkdtemp(prefix="plantlake door-"))
    home = sockets / "caddy"
    ports = {}
    while len(set(ports.values())) < len(front_door.UIS):
        ports = {key: free_port() for key in front_door.UIS}
    doors = front_door.doors(SimpleNamespace(**ports), sockets)
    servers = []
    for each in doors:
        server = _UnixServer(str(each.socket), _Echo)
        server.ui = each.key
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    command, env = front_door.prepare(home, doors, PASSWORD)
    log = home / "caddy.log"
    caddy = spawn(command, log, env=env, cwd=home)
    ref = ProcessRef.of(caddy.pid)
    try:
        wait_ready(
            "Caddy", lambda: all(map(front_door.asks_for_login, doors)), caddy, log, timeout_s=30
        )
        yield SimpleNamespace(
            doors={d.key: d for d in doors}, home=home, sockets=sockets, pid=caddy.pid
        )
    finally:
        stop_family(ref, timeout_s=10)
        for server in servers:
            server.shutdown()
            server.server_close()
        shutil.rmtree(sockets, ignore_errors=True)


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"{front_door.USER}:{password}".encode()).decode()


def ask(
    door: front_door.Door,
    target: str = "/",
    *,
    method: str = "GET",
    password: str | None = PASSWORD,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict | str, http.client.HTTPResponse]:
    """A request to the door, logged in with `password` (None: no login); status, what the
    stand-in saw (or the door's own answer), the response."""
    sent = {"Host": door.hosts[0]} | ({"Authorization": basic(password)} if password else {})
    connection = http.client.HTTPConnection("127.0.0.1", door.port, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=True)
        for name, value in (sent | (headers or {})).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    try:
        return response.status, json.loads(text), response
    except ValueError:
        return response.status, text, response


@pytest.mark.parametrize("ui", list(front_door.UIS))
def test_every_door_asks_for_the_login(door, ui):
    each = door.doors[ui]
    status, _, response = ask(each, password=None)
    assert status == 401
    assert response.getheader("WWW-Authenticate") == f'Basic realm="{front_door.REALM}"'
    assert ask(each, password="wrong")[0] == 401
    status, seen, _ = ask(each, "/api/status?x=1")
    assert status == 200
    assert seen["ui"] == ui and seen["path"] == "/api/status?x=1"
    assert "Authorization" not in seen["headers"]  # the UI never sees the password
    assert seen["headers"]["Host"] == each.hosts[0]


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "evil.example", "127.0.0.1:1", "[::1]:{port}", "127.0.0.1"]
)
def test_a_foreign_host_is_refused_even_with_the_login(door, host):
    """DNS rebinding: a page of evil.example, its name resolved to 127.0.0.1, sends its Host."""
    each = door.doors["mlflow"]
    status, text, _ = ask(each, "/health", headers={"Host": host.format(port=each.port)})
    assert (status, text) == (421, "refused: wrong Host")
    assert ask(each, "/health", headers={"Host": each.hosts[1]})[0] == 200  # localhost:<port>


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "null",  # a sandboxed frame or a redirected form
        "https://127.0.0.1:{port}",
        "http://localhost:{port}",  # another origin than the Host asked for
        "http://127.0.0.1:{other}",  # another UI's door: a notebook's output, an HTML artifact
    ],
)
def test_a_foreign_origin_is_refused(door, origin):
    dagster, jupyter = door.doors["dagster"], door.doors["jupyter"]
    foreign = origin.format(port=dagster.port, other=jupyter.port)
    status, text, _ = ask(
        dagster,
        "/graphql",
        method="POST",
        headers={"Origin": foreign, "Content-Type": "application/json"},
        body=b'{"query": "mutation { launchRun }"}',
    )
    assert (status, text) == (403, "refused: cross-origin request")


def test_the_doors_own_origin_and_its_websocket_pass(door):
    dagster = door.doors["dagster"]
    own = {"Origin": f"http://{dagster.hosts[0]}", "Content-Type": "application/json"}
    status, seen, _ = ask(dagster, "/graphql", method="POST", headers=own, body=b'{"query":"{x}"}')
    assert status == 200 and seen["method"] == "POST" and seen["body"] == '{"query":"{x}"}'
    via_localhost = {"Host": dagster.hosts[1], "Origin": f"http://{dagster.hosts[1]}"}
    assert ask(dagster, "/server_info", headers=via_localhost)[0] == 200


@pytest.mark.parametrize(
    ("fetch", "status"),
    [
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, 403),
        ({"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200),
        ({"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, 200),
        ({"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200),
    ],
)  # fmt: skip
def test_only_a_link_followed_from_another_site_is_let_in(door, fetch, status):
    """Another site's <img>, <script> or <iframe> (same-site: another UI on another port) is
    refused; a link the user follows, a typed address and the UI's own requests pass."""
    assert (
        ask(door.doors["mlflow"], "/ajax-api/2.0/mlflow/experiments/search", headers=fetch)[0]
        == status
    )


def test_dagster_graphql_over_get_is_refused_but_its_ui_requests_pass(door):
    dagster = door.doors["dagster"]
    mutation = "/graphql?query=mutation%7BlaunchRun%7D"
    assert ask(dagster, mutation)[:2] == (403, "refused: GraphQL over GET (use POST)")
    assert ask(dagster, mutation, password=None)[0] == 403  # refused before the login is asked
    assert ask(dagster, "/graphql")[0] == 200  # the GraphiQL page
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Origin": f"http://{dagster.hosts[0]}",
    }
    status, seen, _ = ask(dagster, "/graphql?x=1", headers=upgrade)
    assert (
        status == 200 and seen["headers"]["Upgrade"] == "websocket"
    )  # the stand-in does no WebSocket
    # only Dagster runs GraphQL; MLflow and JupyterLab have no such rule
    assert ask(door.doors["mlflow"], mutation)[0] == 200


def test_the_configuration_is_private_and_the_password_on_no_command_line(door):
    config = door.home / "Caddyfile"
    assert config.stat().st_mode & 0o777 == 0o600
    assert door.home.stat().st_mode & 0o777 == 0o700
    assert door.sockets.stat().st_mode & 0o777 == 0o700  # only we reach the UIs' sockets
    text = config.read_text()
    assert PASSWORD not in text and f"{front_door.USER} $2a$14$" in text
    caddy = psutil.Process(door.pid)
    assert PASSWORD not in " ".join(caddy.cmdline())
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in caddy.net_connections("all")
        if c.status == psutil.CONN_LISTEN
    }
    assert listening == {("127.0.0.1", d.port) for d in door.doors.values()}
    assert not [c for c in caddy.net_connections("udp")]  # no HTTP/3


def test_paths_with_a_space_a_quote_or_a_backslash_reach_caddy_as_they_are(tmp_path):
    """`caddy adapt` reads the Caddyfile as `caddy run` does: each path is one token, unchanged."""
    folder = tmp_path / 'my lake "2" b\\"x\\'  # a space, quotes, backslashes (one before a quote)
    ports = SimpleNamespace(dagster=3001, mlflow=3002, jupyter=3003)
    doors = front_door.doors(ports, folder / "sockets")
    config = tmp_path / "Caddyfile"
    config.write_text(front_door.caddyfile(doors, "$2a$14$hash", folder / "C:" / "data"))
    done = subprocess.run(
        [front_door.caddy(), "adapt", "--config", str(config), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    adapted = json.loads(done.stdout)
    assert adapted["storage"] == {"module": "file_system", "root": str(folder / "C:" / "data")}
    dials = {
        handler["upstreams"][0]["dial"]
        for server in adapted["apps"]["http"]["servers"].values()
        for handler in _handlers(server["routes"])
        if handler.get("handler") == "reverse_proxy"
    }
    assert dials == {f"unix/{d.socket}" for d in doors}


def _handlers(routes: list[dict]):
    for route in routes:
        for handler in route.get("handle", []):
            yield handler
            yield from _handlers(handler.get("routes", []))


@pytest.mark.parametrize("path", ["/lakes/{$HOME}", "/lakes/a`b", "/lakes/a\nb"])
def test_a_path_caddy_cannot_carry_is_refused_by_name(path):
    with pytest.raises(front_door.ServiceStartError, match="cannot name"):
        front_door.quoted(path)


def test_a_socket_path_with_a_colon_is_refused_by_name():
    """A colon is fine in the lake's path (above), not in a socket's: Caddy cuts a proxy's
    address there."""
    doors = front_door.doors(SimpleNamespace(dagster=1, mlflow=2, jupyter=3), Path("/tmp/a:b"))
    with pytest.raises(front_door.ServiceStartError, match="has a colon"):
        front_door.caddyfile(doors, "$2a$14$hash", Path("/lake"))
