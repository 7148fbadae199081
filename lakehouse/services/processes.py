"""Detached servers: started in a session of their own, found again by PID and start time,
stopped by process group (SIGTERM, then SIGKILL after a timeout) together with every descendant."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from lakehouse.services.ports import LOOPBACK, ServiceStartError


@dataclass(frozen=True)
class ProcessRef:
    """A process we started: its PID (also its process-group id) and start time, so that a PID
    the system has since given to another program is never taken for ours."""

    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcessRef:
        return cls(pid, psutil.Process(pid).create_time())

    def process(self) -> psutil.Process | None:
        """The running process, or None if it ended (or its PID now belongs to another)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01:
                return None
            return None if proc.status() == psutil.STATUS_ZOMBIE else proc
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None

    def family(self) -> list[psutil.Process]:
        """The process, its descendants, and every other member of its process group that
        started after it (a descendant whose parent already ended)."""
        leader = self.process()
        found = {}
        if leader is not None:
            found[leader.pid] = leader
            for child in leader.children(recursive=True):
                found[child.pid] = child
        for proc in psutil.process_iter(["create_time"]):
            try:
                if (
                    proc.pid not in found
                    and os.getpgid(proc.pid) == self.pid
                    and proc.info["create_time"] >= self.create_time - 0.01
                ):
                    found[proc.pid] = proc
            except (OSError, psutil.Error):
                continue
        return list(found.values())


def spawn(argv: list[str], log: Path, *, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """Start `argv` in a new session (its own process group), output appended to `log`; it keeps
    running after this process exits."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )


def _suppress_gone():
    return contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess)


def stop_family(
    ref: ProcessRef, timeout_s: float = 30.0, *, whole_group: bool = False
) -> list[int]:
    """Stop the process and everything it started; returns the PIDs that were running.

    SIGTERM goes to the process alone (it stops its own children: a PySpark driver its JVM), or
    with `whole_group` to its process group at once (`dagster dev`, whose run workers outlive it
    otherwise); what is left of the group then gets SIGTERM, and SIGKILL after `timeout_s`.
    Last, descendants in sessions of their own (PostgreSQL's workers, Jupyter's kernels) that
    did not end with their parent are stopped the same way.
    """
    family = ref.family()
    if not family:
        return []
    in_group, outside = [], []
    for proc in family:
        with _suppress_gone():
            (in_group if os.getpgid(proc.pid) == ref.pid else outside).append(proc)
    leader = ref.process()
    if leader is not None and not whole_group:
        with _suppress_gone():
            leader.terminate()
        wait_gone([leader], timeout_s)
    with _suppress_gone():
        os.killpg(ref.pid, signal.SIGTERM)
    _kill_survivors(in_group, timeout_s)
    stragglers = wait_gone(outside, timeout_s=5)  # they normally follow their parent
    for proc in stragglers:
        with _suppress_gone():
            proc.terminate()
    _kill_survivors(stragglers, timeout_s)
    return sorted(p.pid for p in family)


def _kill_survivors(procs: list[psutil.Process], timeout_s: float) -> None:
    for proc in wait_gone(procs, timeout_s):
        with _suppress_gone():
            proc.kill()
    wait_gone(procs, timeout_s=5)


def ended(proc: psutil.Process) -> bool:
    """Ended, or a zombie its parent has not reaped yet (it holds no resources but its PID)."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def wait_gone(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait until every process has ended; returns those still running after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    alive = list(procs)
    while alive:
        for proc in alive:
            with contextlib.suppress(psutil.Error, ChildProcessError):
                proc.wait(0)  # reap it if it is our child
        alive = [p for p in alive if not ended(p)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return alive


def port_open(port: int, host: str = LOOPBACK) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    """True when `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def wait_ready(
    name: str,
    ready: Callable[[], bool],
    process: subprocess.Popen | ProcessRef,
    log: Path,
    timeout_s: float,
) -> None:
    """Return once `ready()` holds; ServiceStartError naming the service and its log if the
    process ends or `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        ended = (
            process.poll() is not None
            if isinstance(process, subprocess.Popen)
            else not process.alive()
        )
        if ended:
            raise ServiceStartError(
                f"{name} exited while starting; its log {log} ends with:\n{_tail(log)}"
            )
        time.sleep(0.25)
    raise ServiceStartError(
        f"{name} was not ready after {timeout_s:.0f} s; its log {log} ends with:\n{_tail(log)}"
    )


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"
