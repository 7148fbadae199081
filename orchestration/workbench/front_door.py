"""The workbench's front door: Caddy on 127.0.0.1, one port per web UI, in front of UIs that listen
on Unix sockets in a private folder. It refuses a wrong Host (DNS rebinding), a foreign Origin or
another site's request (CSRF) and Dagster GraphQL over GET, then asks for the workbench login."""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lakehouse.private import write_private
from lakehouse.services.ports import LOOPBACK, ServiceStartError

USER = "plantlake"
REALM = "plantlake workbench"
# The web UIs behind the door: their Unix socket (in the private folder) and the refusals each
# needs beyond those of every door. The door of a UI is its port in the settings (ports.dagster…):
# one origin per UI, so a page of one (a notebook's output, an MLflow HTML artifact) is a foreign
# origin to the others.
UIS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dagster": ("dagster.sock", ("graphql_over_get",)),
    "mlflow": ("mlflow.sock", ()),
    "jupyter": ("jupyter.sock", ()),
}
EVERY_DOOR = ("wrong_host", "foreign_origin", "cross_site")
# name: (Caddy matchers, all of which hold, status, reason); {own} is the door's own Host values
# as a CEL list
REFUSALS: dict[str, tuple[tuple[str, ...], int, str]] = {
    # DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends its own Host
    "wrong_host": (("not expression `{{http.request.hostport}} in [{own}]`",), 421, "wrong Host"),
    # CSRF: a browser names the page that sends a POST, a fetch or a WebSocket in Origin
    "foreign_origin": (
        (
            "expression `{{http.request.header.Origin}} != '' && "
            "{{http.request.header.Origin}} != 'http://' + {{http.request.hostport}}`",
        ),
        403,
        "cross-origin request",
    ),
    # another site's <img>, <script>, <iframe> or form: only a link followed in a tab is let in
    "cross_site": (
        (
            "expression `!({{http.request.header.Sec-Fetch-Site}} in ['', 'same-origin', 'none']) && "
            "!({{http.request.header.Sec-Fetch-Mode}} == 'navigate' && "
            "{{http.request.header.Sec-Fetch-Dest}} == 'document')`",
        ),
        403,
        "cross-site request",
    ),
    # Dagster runs GET /graphql?query=mutation… too; its UI posts JSON and subscribes over a
    # WebSocket (a GET with Upgrade); GraphiQL's page is a GET without a query string
    "graphql_over_get": (
        (
            "method GET",
            "path /graphql",
            "expression `{{http.request.uri.query}} != '' && "
            "!{{http.request.header.Upgrade}}.matches('(?i)^websocket$')`",
        ),
        403,
        "GraphQL over GET (use POST)",
    ),
}


@dataclass(frozen=True)
class Door:
    """One UI behind the front door: the door's port, the UI's socket and the refusals."""

    key: str
    port: int
    socket: Path
    refusals: tuple[str, ...]

    @property
    def hosts(self) -> tuple[str, str]:
        """The Host values of the door's own origins."""
        return (f"{LOOPBACK}:{self.port}", f"localhost:{self.port}")

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


def doors(ports, sockets: Path) -> list[Door]:
    """The doors of the UI table, on `ports` (the settings' Ports), sockets in `sockets`."""
    return [
        Door(key, getattr(ports, key), sockets / name, EVERY_DOOR + extra)
        for key, (name, extra) in UIS.items()
    ]


def quoted(path: Path | str) -> str:
    """`path` as one Caddyfile token, in backquotes: Caddy takes what is inside as it is (in
    double quotes it keeps a backslash unless a quote follows, so a backslash before a quote
    cannot be written). ServiceStartError for what no token carries: a backquote, a line break,
    a brace (Caddy reads `{$NAME}` anywhere in the file as an environment variable, and braces
    in a proxy's address as a placeholder)."""
    text = str(path)
    if any(c in text for c in "`{}\n\r"):
        raise ServiceStartError(
            f"the front door's configuration cannot name {text!r}: it has a backquote, a brace "
            "or a line break; move the lake (or TMPDIR) to a path without them"
        )
    return f"`{text}`"


def _dial(socket_path: Path) -> str:
    """The proxy's address of a UI's socket, one token; Caddy cuts such an address at a colon."""
    if ":" in str(socket_path):
        raise ServiceStartError(
            f"the front door cannot reach the socket {socket_path}: its path has a colon; "
            "set TMPDIR to a folder without one"
        )
    return quoted(f"unix/{socket_path}")


def caddyfile(doors: list[Door], password_hash: str, data_dir: Path) -> str:
    """Caddy's configuration: no admin API (it would change the config, unauthenticated), plain
    HTTP/1.1 on loopback, and per door its refusals, the login, and the proxy to the socket."""
    lines = [
        "# written by `plantlake up` (orchestration/workbench/front_door.py); private: the login's hash",
        "{",
        "\tadmin off",
        "\tauto_https off",
        f"\tstorage file_system {quoted(data_dir)}",
        "\tservers {",
        "\t\tprotocols h1",
        "\t}",
        "}",
    ]
    for door in doors:
        own = ", ".join(f"'{host}'" for host in door.hosts)
        lines += ["", f"http://:{door.port} {{", f"\tbind {LOOPBACK}", "\troute {"]
        for name in door.refusals:
            matchers, status, reason = REFUSALS[name]
            lines.append(f"\t\t@{name} {{")
            lines += [f"\t\t\t{m.format(own=own)}" for m in matchers]
            lines += ["\t\t}", f'\t\trespond @{name} "refused: {reason}" {status}']
        lines += [
            f'\t\tbasicauth bcrypt "{REALM}" {{',
            f"\t\t\t{USER} {password_hash}",
            "\t\t}",
            f"\t\treverse_proxy {_dial(door.socket)} {{",
            "\t\t\theader_up -Authorization",  # the UIs need not see the password
            "\t\t}",
            "\t}",
            "}",
        ]
    return "\n".join(lines) + "\n"


def caddy() -> str:
    found = shutil.which("caddy")
    if found is None:
        raise ServiceStartError("caddy is not installed: run `make setup` (it installs it)")
    return found


def hash_password(password: str) -> str:
    """The bcrypt hash of `password` by `caddy hash-password` (the password goes by stdin: a
    command line is visible to every local user)."""
    done = subprocess.run(
        [caddy(), "hash-password"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0 or not done.stdout.startswith("$2"):
        raise ServiceStartError(f"caddy hash-password failed: {done.stderr.strip()}")
    return done.stdout.strip()


def prepare(home: Path, doors: list[Door], password: str) -> tuple[list[str], dict[str, str]]:
    """Write the private configuration under `home` (0700; the Caddyfile 0600); Caddy's command
    and environment (its own folders there, not the user's home)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)
    config = write_private(
        home / "Caddyfile", caddyfile(doors, hash_password(password), home / "data")
    )
    env = {"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data")}
    return [caddy(), "run", "--config", str(config), "--adapter", "caddyfile"], env


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, host: str, timeout_s: float):
        super().__init__(host, timeout=timeout_s)
        self.path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def unix_request(
    path: Path,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    host: str = "localhost",
    timeout_s: float = 10.0,
) -> tuple[int, bytes]:
    """An HTTP request to a UI's own Unix socket (past the door): status and body."""
    connection = _UnixConnection(path, host, timeout_s)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def unix_ok(path: Path, target: str, *, host: str = "localhost") -> bool:
    """True when GET `target` on the socket answers 200."""
    try:
        return unix_request(path, "GET", target, host=host, timeout_s=2.0)[0] == 200
    except (OSError, http.client.HTTPException):
        return False


def asks_for_login(door: Door) -> bool:
    """The door answers, and wants the login (401) before anything else."""
    connection = http.client.HTTPConnection(LOOPBACK, door.port, timeout=2.0)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status == 401
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
