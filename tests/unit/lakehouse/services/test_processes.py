"""The one readiness wait and the one stop of lakehouse.services.processes, on `sh` and `sleep`."""

from __future__ import annotations

import pytest

from lakehouse.services.processes import (
    ProcessRef,
    ServiceStartError,
    Starting,
    spawn,
    stop_process,
    wait_all,
    wait_ready,
)


def test_a_server_that_exits_while_starting_is_named_with_its_log(tmp_path):
    log = tmp_path / "broker.log"
    process = spawn(["sh", "-c", "echo 'bad config line 3'; exit 3"], log)
    with pytest.raises(ServiceStartError, match="broker exited while starting") as raised:
        wait_ready("broker", lambda: False, process, log, timeout_s=10)
    assert str(raised.value).endswith("ends with:\nbad config line 3\n")


def test_the_wait_ends_once_every_server_is_ready_and_names_the_late_one(tmp_path):
    sleeper = spawn(["sleep", "30"], tmp_path / "sleep.log")
    ref = ProcessRef.of(sleeper.pid)
    asked = []

    def ready_on_third_ask() -> bool:
        asked.append(1)
        return len(asked) >= 3

    try:
        wait_all([Starting("a", ready_on_third_ask, ref, tmp_path / "sleep.log")], timeout_s=10)
        assert len(asked) == 3
        late = Starting("late", lambda: False, sleeper, tmp_path / "none.log")
        with pytest.raises(
            ServiceStartError, match=r"(?s)late was not ready after 1 s; .*\(no log\)"
        ):
            wait_all([Starting("b", lambda: True, ref, tmp_path / "sleep.log"), late], 1)
    finally:
        stop_process(sleeper)
    assert sleeper.returncode == -15  # SIGTERM, reaped by its Popen
    assert not ref.alive()


def test_a_server_that_ignores_sigterm_is_killed_with_its_group(tmp_path):
    process = spawn(["sh", "-c", "trap '' TERM; sleep 30 & wait"], tmp_path / "stubborn.log")
    ref = ProcessRef.of(process.pid)
    wait_ready("stubborn", lambda: len(ref.family()) == 2, process, tmp_path / "x.log", 10)
    family = ref.family()
    stop_process(process, timeout_s=1)
    assert process.returncode == -9
    assert not [p.pid for p in family if p.is_running() and p.status() != "zombie"]
