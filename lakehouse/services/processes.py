"""Detached servers: started in a session of their own, waited for until they serve, found again
by PID and start time, stopped by process group (SIGTERM, then SIGKILL after a timeout) together
with every descendant. Never by name: only what we started is ever signalled."""

from __future__ import annotations

import contextlib
import operator
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_exponential

T = TypeVar("T")


class ServiceStartError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


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


# -- start -----------------------------------------------------------------------------------------
def spawn(
    argv: list[str],
    log: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    **popen,
) -> subprocess.Popen:
    """Start `argv` in a new session (its own process group), output appended to `log`; it keeps
    running after this process exits. `popen`: further Popen arguments (`user`, `group`)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,  # a process group of its own, to signal as one
            **popen,
        )


def poll_until(
    check: Callable[[], T], until: Callable[[T], bool], timeout_s: float, max_interval_s: float
) -> T:
    """Call `check` until `until` holds for its result or `timeout_s` has passed, at intervals
    growing from 20 ms to `max_interval_s`; its last result. An exception of `check` ends the
    wait at once."""
    return Retrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_exponential(multiplier=0.02, max=max_interval_s),
        retry=retry_if_result(lambda result: not until(result)),
        retry_error_callback=lambda state: state.outcome.result(),
    )(check)


@dataclass(frozen=True)
class Starting:
    """A server on its way up: `ready()` says when it serves, `process` whether it still runs."""

    name: str
    ready: Callable[[], bool]
    process: subprocess.Popen | ProcessRef
    log: Path

    def running(self) -> bool:
        if isinstance(self.process, subprocess.Popen):
            return self.process.poll() is None
        return self.process.alive()

    def failed(self, why: str) -> ServiceStartError:
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no log)"
        return ServiceStartError(f"{self.name} {why}; its log {self.log} ends with:\n{tail}")


def wait_ready(
    name: str,
    ready: Callable[[], bool],
    process: subprocess.Popen | ProcessRef,
    log: Path,
    timeout_s: float,
) -> None:
    """Return once `ready()` holds; ServiceStartError naming the service and its log if the
    process ends or `timeout_s` passes first."""
    wait_all([Starting(name, ready, process, log)], timeout_s)


def wait_all(servers: Sequence[Starting], timeout_s: float) -> None:
    """Wait for all at once, each `ready()` asked until it holds; ServiceStartError for the
    first whose process ends, or for one still not ready after `timeout_s`."""
    pending = list(servers)

    def all_ready() -> bool:
        for server in list(pending):
            if server.ready():
                pending.remove(server)
            elif not server.running():
                raise server.failed("exited while starting")
        return not pending

    if not poll_until(all_ready, bool, timeout_s, max_interval_s=0.25):
        raise pending[0].failed(f"was not ready after {timeout_s:.0f} s")


# -- stop ------------------------------------------------------------------------------------------
def _suppress_gone():
    return contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess)


def stop_process(process: subprocess.Popen | None, timeout_s: float = 15.0) -> None:
    """Stop a server `spawn` started, by its PID, as `stop_family` does."""
    if process is None or process.poll() is not None:
        return
    with _suppress_gone():
        stop_family(ProcessRef.of(process.pid), timeout_s)
    process.poll()  # reap it (its exit status for Popen)


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
    """Wait until every process has ended; returns those still running after `timeout_s`.
    (Not psutil.wait_procs: it waits out the timeout for a zombie that is not our child.)"""
    return poll_until(lambda: [p for p in procs if not ended(p)], operator.not_, timeout_s, 0.1)
