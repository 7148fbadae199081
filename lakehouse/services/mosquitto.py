"""Eclipse Mosquitto on a loopback port: an account per client with what it may publish and
read (an ACL), persistence, optionally TLS; as root it runs as the unprivileged `mosquitto` user."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.private import write_private
from lakehouse.services.ports import LOOPBACK, free_port, port_open
from lakehouse.services.processes import spawn, stop_process, wait_ready
from lakehouse.services.system_user import check_reachable, hand_over
from lakehouse.services.tls import ServerTls

SYSTEM_USER = "mosquitto"  # created by the Debian package; the broker switches to it as root

# What each role may do, as (access, topic filter) rules of Mosquitto's ACL: `write` is publish
# (and a will), `read` is subscribe and receive. Anything not listed is refused.
ACL: dict[str, tuple[tuple[str, str], ...]] = {
    # one account for everything: the single-account brokers of tests and demos
    "full": (("readwrite", "#"),),
    # the plant: its UNS tree and its Sparkplug edge nodes (births, data, deaths); it reads the
    # commands addressed to its nodes and devices and the host applications' STATE
    "plant": (
        ("write", "acme/#"),
        *(("write", f"spBv1.0/+/{kind}/+") for kind in ("NBIRTH", "NDATA", "NDEATH")),
        *(("write", f"spBv1.0/+/{kind}/+/+") for kind in ("DBIRTH", "DDATA", "DDEATH")),
        ("read", "spBv1.0/+/NCMD/+"),
        ("read", "spBv1.0/+/DCMD/+/+"),
        ("read", "spBv1.0/STATE/+"),
    ),
    # ingestion reads whatever it is configured to land; as Sparkplug Host Application it
    # publishes only its STATE (birth and will) and rebirth requests (NCMD)
    "ingestion": (
        ("read", "#"),
        ("write", "spBv1.0/STATE/+"),
        ("write", "spBv1.0/+/NCMD/+"),
    ),
    # people: look, never publish
    "reader": (("read", "#"),),
}


@dataclass(frozen=True)
class MqttAccount:
    """A username and password, and the role (a key of ACL) saying what it may do."""

    username: str
    password: str
    role: str = "full"

    def __post_init__(self) -> None:
        if self.role not in ACL:
            raise ValueError(
                f"MQTT account {self.username!r}: no role {self.role!r} in {list(ACL)}"
            )
        if not self.username or any(c in self.username for c in ":\n\r"):
            raise ValueError(f"MQTT username {self.username!r}: empty, or with ':' or a line break")


def acl_text(accounts: Sequence[MqttAccount]) -> str:
    """Mosquitto's acl_file for `accounts`, from the ACL table."""
    blocks = []
    for account in accounts:
        rules = "".join(f"topic {access} {topic}\n" for access, topic in ACL[account.role])
        blocks.append(f"# role {account.role}\nuser {account.username}\n{rules}")
    return "\n".join(blocks)


@dataclass
class Mosquitto:
    """A broker we started; `restart()` keeps its port, accounts and persisted sessions.

    `username` and `password` are those of the first account."""

    data_dir: Path
    port: int
    accounts: tuple[MqttAccount, ...]
    host: str = LOOPBACK
    log_file: Path | None = None  # default: mosquitto.log in data_dir
    tls: ServerTls | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def username(self) -> str:
        return self.accounts[0].username

    @property
    def password(self) -> str:
        return self.accounts[0].password

    @property
    def conf(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    @property
    def log(self) -> Path:
        return self.log_file or self.data_dir / "mosquitto.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def account(self, role: str) -> MqttAccount:
        """The first account of `role`."""
        return next(a for a in self.accounts if a.role == role)

    def write_config(self) -> None:
        """Every file the broker reads, private to the user it runs as (0600 in a 0700 folder):
        as root that is SYSTEM_USER, which reads them after giving up root."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        db = self.data_dir / "db"
        db.mkdir(exist_ok=True)
        db.chmod(0o700)
        passwd = self.data_dir / "passwd"
        # written private in plain text, then hashed in place (-U): the passwords never appear
        # on a command line, where every local user could read them
        write_private(passwd, "".join(f"{a.username}:{a.password}\n" for a in self.accounts))
        subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True, capture_output=True)
        acl = write_private(self.data_dir / "acl", acl_text(self.accounts))
        listener = f"listener {self.port} {LOOPBACK}\n"
        if self.tls:
            cert = write_private(self.data_dir / "server.pem", self.tls.cert_file.read_bytes())
            key = write_private(self.data_dir / "server.key", self.tls.key_file.read_bytes())
            listener += f"certfile {cert}\nkeyfile {key}\ntls_version tlsv1.2\n"  # 1.2 or later
        write_private(
            self.conf,
            f"user {SYSTEM_USER}\n"  # only as root: it gives up root for this user at start
            + listener
            + "allow_anonymous false\n"
            f"password_file {passwd}\n"
            f"acl_file {acl}\n"
            "persistence true\n"
            f"persistence_location {db}/\n"
            "autosave_interval 1\n"
            "max_inflight_messages 0\n"  # no broker cap: each client's Receive Maximum rules
            "max_queued_messages 1000000\n"
            "log_type error\nlog_type warning\nlog_type notice\n",
        )
        hand_over(SYSTEM_USER, self.data_dir, *self.data_dir.iterdir(), *db.iterdir())

    def start(self) -> Mosquitto:
        if not self.conf.exists():
            self.write_config()
        self.process = spawn(["mosquitto", "-c", str(self.conf)], self.log)
        hand_over(SYSTEM_USER, self.log)
        wait_ready("mosquitto", lambda: port_open(self.port), self.process, self.log, timeout_s=20)
        return self

    def stop(self) -> None:
        stop_process(self.process)  # SIGTERM: mosquitto saves its persistence file

    def restart(self) -> None:
        self.stop()
        self.start()


def start_mosquitto(
    data_dir: Path,
    port: int | None = None,
    username: str = "plantlake",
    password: str = "plantlake",
    log_file: Path | None = None,
    *,
    accounts: Sequence[MqttAccount] = (),
    tls: ServerTls | None = None,
) -> Mosquitto:
    """Start a broker on 127.0.0.1 (a free port unless given), with `accounts` and what the ACL
    lets each of them do, or else one account `username` allowed everything; with `tls`, the
    listener speaks TLS 1.2 or later only, with `tls.cert_file` (clients verify it by
    `tls.ca_file`).

    It runs in a session of its own, so it outlives its caller until `stop()` or a signal to its PID.
    """
    data_dir = Path(data_dir).resolve()
    check_reachable(SYSTEM_USER, data_dir, "the broker")
    broker = Mosquitto(
        data_dir,
        port or free_port(),
        tuple(accounts) or (MqttAccount(username, password),),
        log_file=log_file,
        tls=tls,
    )
    broker.write_config()  # the port, accounts and certificate may have changed since the last start
    return broker.start()
