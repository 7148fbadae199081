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
