"""Free loopback ports and waiting for a server to listen."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


class ServiceStartError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_for_port(
    port: int, process: subprocess.Popen, log: Path, name: str, timeout_s: float = 20.0
) -> None:
    """Return once `port` accepts connections; ServiceStartError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise ServiceStartError(
        f"{name} did not start on {LOOPBACK}:{port} (exit {process.poll()}); log {log}:\n{tail}"
    )


def stop_process(process: subprocess.Popen | None, timeout_s: float = 15.0) -> None:
    """SIGTERM the process (by its PID), then SIGKILL if it has not ended in time."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout_s)
