"""Eclipse Mosquitto on a loopback port with a password file and persistence."""

from __future__ import annotations

import getpass
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.private import write_private
from lakehouse.services.ports import LOOPBACK, free_port, stop_process, wait_for_port


@dataclass
class Mosquitto:
    """A broker we started; `restart()` keeps its port, password and persisted sessions."""

    data_dir: Path
    port: int
    username: str
    password: str
    host: str = LOOPBACK
    log_file: Path | None = None  # default: mosquitto.log in data_dir
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def conf(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    @property
    def log(self) -> Path:
        return self.log_file or self.data_dir / "mosquitto.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "db").mkdir(exist_ok=True)
        passwd = self.data_dir / "passwd"
        # written private in plain text, then hashed in place (-U): the password never appears
        # on a command line, where every local user could read it
        write_private(passwd, f"{self.username}:{self.password}\n")
        subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True, capture_output=True)
        self.conf.write_text(
            # as root mosquitto would switch to a user that cannot read our folder: run as us
            f"user {getpass.getuser()}\n"
            f"listener {self.port} {LOOPBACK}\n"
            "allow_anonymous false\n"
            f"password_file {passwd}\n"
            "persistence true\n"
            f"persistence_location {self.data_dir / 'db'}/\n"
            "autosave_interval 1\n"
            "max_inflight_messages 0\n"  # no broker cap: each client's Receive Maximum rules
            "max_queued_messages 1000000\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )

    def start(self) -> Mosquitto:
        if not self.conf.exists():
            self.write_config()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, self.process, self.log, "mosquitto")
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
) -> Mosquitto:
    """Start a broker on 127.0.0.1 (a free port unless given).

    It runs in a session of its own, so it outlives its caller until `stop()` or a signal to its PID.
    """
    broker = Mosquitto(Path(data_dir), port or free_port(), username, password, log_file=log_file)
    broker.write_config()  # the port and password may have changed since the last start
    return broker.start()
