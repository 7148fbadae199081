"""Loopback ports: a free one, and whether one is served."""

from __future__ import annotations

import socket

# where they live now; imported from here by callers of old
from lakehouse.services.processes import ServiceStartError, stop_process

__all__ = ["LOOPBACK", "ServiceStartError", "free_port", "port_open", "stop_process"]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = LOOPBACK) -> bool:
    """Whether something accepts connections on `port`."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False
