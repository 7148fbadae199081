"""PostgreSQL on a loopback port, in a cluster of its own, with a password-authenticated role."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from lakehouse.private import write_private
from lakehouse.services.ports import LOOPBACK, ServiceStartError, free_port, stop_process

SYSTEM_USER = "postgres"  # created by the Debian package; the server refuses to run as root


def postgres_bindir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not versions:
        raise ServiceStartError(
            "PostgreSQL is not installed: run `make setup` (it installs the Debian package)"
        )
    return versions[-1].parent


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", SYSTEM_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, SYSTEM_USER, SYSTEM_USER)


@dataclass
class Postgres:
    """A server we started; as root it runs as the `postgres` system user."""

    data_dir: Path
    port: int
    user: str
    password: str
    dbname: str = "plant"
    host: str = LOOPBACK
    log_file: Path | None = None  # default: postgres.log in data_dir
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.log_file or self.data_dir / "postgres.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def conninfo(self, dbname: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            dbname=dbname or self.dbname,
            user=self.user,
            password=self.password,
        )

    def _init(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _own(self.data_dir)
        pwfile = write_private(self.data_dir / "pwfile", self.password + "\n")
        _own(pwfile)
        done = subprocess.run(
            _as_server_user(
                [
                    str(postgres_bindir() / "initdb"),
                    "-D",
                    str(self.data_dir / "pgdata"),
                    "-U",
                    self.user,
                    "--pwfile",
                    str(pwfile),
                    "-A",
                    "scram-sha-256",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            capture_output=True,
            text=True,
        )
        pwfile.unlink()
        if done.returncode:
            raise ServiceStartError(f"initdb failed in {self.data_dir}: {done.stderr[-2000:]}")

    def start(self) -> Postgres:
        if not (self.data_dir / "pgdata" / "PG_VERSION").exists():
            self._init()
        log = self.log
        log.parent.mkdir(parents=True, exist_ok=True)
        if not log.exists():
            log.touch()
        _own(log)
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                _as_server_user(
                    [
                        str(postgres_bindir() / "postgres"),
                        "-D",
                        str(self.data_dir / "pgdata"),
                        "-h",
                        LOOPBACK,
                        "-p",
                        str(self.port),
                        # no Unix-domain socket: every client comes by TCP on loopback, and a
                        # socket path under a deep checkout exceeds the 107-byte limit
                        "-k",
                        "",
                    ]
                ),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
                    if not conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", [self.dbname]
                    ).fetchone():
                        conn.execute(f'CREATE DATABASE "{self.dbname}"')
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise ServiceStartError(
                        f"postgres did not start on {LOOPBACK}:{self.port}; log {log}:\n{log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        stop_process(self.process, timeout_s=30)  # SIGTERM: a smart shutdown


def start_postgres(
    data_dir: Path,
    port: int | None = None,
    user: str = "plantlake",
    password: str = "plantlake",
    dbname: str = "plant",
    log_file: Path | None = None,
) -> Postgres:
    """Start (initialising on first use) a PostgreSQL server on 127.0.0.1.

    It runs in a session of its own, so it outlives its caller until `stop()` or a signal to its PID.
    """
    data_dir = Path(data_dir).resolve()
    if os.geteuid() == 0:
        for parent in data_dir.parents:
            if parent.exists() and not parent.stat().st_mode & 0o001:
                raise ServiceStartError(
                    f"the {SYSTEM_USER} user cannot reach {data_dir}: {parent} is closed to other users; "
                    "put the database under a folder others may traverse (e.g. a fresh tempfile.mkdtemp())"
                )
    return Postgres(
        data_dir, port or free_port(), user, password, dbname, log_file=log_file
    ).start()
