"""A real Mosquitto broker on a free loopback port, with a password file, stopped by PID."""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Broker:
    host: str
    port: int
    username: str
    password: str
    conf: Path
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(
            f"mosquitto did not start on {self.port}: {self.log.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # by PID; persistence is saved on SIGTERM
            self.process.wait(10)


@pytest.fixture
def broker(tmp_path):
    port = free_port()
    pw_file = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(pw_file), "plantlake", "s3cret"],
        check=True,
        capture_output=True,
    )
    os.chmod(pw_file, 0o600)
    (tmp_path / "data").mkdir()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        # Run as whoever runs the tests (as root, mosquitto would switch to a user that cannot
        # read the test folder).
        f"user {getpass.getuser()}\n"
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {pw_file}\n"
        f"persistence true\npersistence_location {tmp_path / 'data'}/\nautosave_interval 1\n"
        "max_inflight_messages 1000\nmax_queued_messages 1000000\n"
    )
    b = Broker("127.0.0.1", port, "plantlake", "s3cret", conf, tmp_path / "mosquitto.log")
    b.start()
    yield b
    b.stop()


@dataclass
class Postgres:
    host: str
    port: int
    dbname: str
    user: str
    password: str
    process: subprocess.Popen

    def conninfo(self) -> str:
        return f"host={self.host} port={self.port} dbname={self.dbname} user={self.user} password={self.password}"


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; the Debian package's `postgres` user runs it then.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture
def postgres():
    import shutil
    import tempfile

    bindir = Path("/usr/lib/postgresql/15/bin")
    base = Path(tempfile.mkdtemp(prefix="plantlake-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    pwfile = base / "pw"
    pwfile.write_text("s3cret\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres")
    subprocess.run(
        _as_postgres_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "plantlake",
                "--pwfile",
                str(pwfile),
                "-A",
                "scram-sha-256",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = base / "postgres.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            _as_postgres_user(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-k",
                    str(sockets),
                    "-c",
                    "fsync=off",
                ]
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    pg = Postgres("127.0.0.1", port, "postgres", "plantlake", "s3cret", proc)
    import psycopg

    deadline = time.monotonic() + 20
    while True:
        try:
            psycopg.connect(pg.conninfo()).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"postgres did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)
    yield pg
    proc.send_signal(signal.SIGTERM)  # by PID: a smart shutdown
    proc.wait(20)
    shutil.rmtree(base, ignore_errors=True)
