"""`python -m orchestration.workbench.screenshots`: PNGs of the running workbench's Dagster asset
graph and MLflow experiments, taken with headless Chromium through the front door (the login
answered over Chromium's DevTools pipe, never on a command line), under
`<lake>/_workbench/screenshots/` (`make screenshots` installs Chromium and starts the workbench)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from lakehouse.services.ports import LOOPBACK

# name: (URL, window size); the asset graph is zoomed to the window's width, so it is tall
PAGES = {
    "dagster-asset-graph": ("http://{host}:{dagster}/asset-groups?{expanded}", (1600, 3000)),
    "mlflow-experiments": ("http://{host}:{mlflow}/#/experiments", (1600, 1000)),
}
MIN_PNG_BYTES = 20_000  # a blank or error page of this size compresses to a few kB


class ScreenshotError(RuntimeError):
    """Chromium is missing, failed, or took a picture of nothing."""


class _DevTools:
    """Chromium's DevTools protocol over `--remote-debugging-pipe` (fds 3 and 4 of Chromium):
    JSON messages ended by a NUL byte. A pipe, not a port: no other local user can drive it."""

    def __init__(self, command: list[str], timeout_s: float):
        to_chromium, self._commands = os.pipe()
        self._events, from_chromium = os.pipe()

        def fds_3_and_4() -> None:
            os.dup2(to_chromium, 3)
            os.dup2(from_chromium, 4)

        self.process = subprocess.Popen(
            [*command, "--remote-debugging-pipe"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(3, 4),
            preexec_fn=fds_3_and_4,
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self.deadline = time.monotonic() + timeout_s
        self._buffer = b""
        self._next_id = 0

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        return self._next_id

    def receive(self) -> dict:
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self._events], [], [], left)[0]:
                raise ScreenshotError("Chromium did not finish in time")
            chunk = os.read(self._events, 1 << 20)
            if not chunk:
                raise ScreenshotError(f"Chromium ended: {self.stderr()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def stderr(self) -> str:
        self.close()
        return self.process.stderr.read().decode(errors="replace")[-2000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for fd in (self._commands, self._events):
            with contextlib.suppress(OSError):  # closed already
                os.close(fd)
        self._commands = self._events = -1


def capture(
    url: str,
    out: Path,
    profile: Path,
    *,
    login: tuple[str, str],
    size: tuple[int, int] = (1600, 1000),
    budget_ms: int = 30_000,
) -> Path:
    """Load `url` in headless Chromium, answering the front door's login with `login` (user,
    password), let it run `budget_ms` of page time, save a PNG."""
    chromium = shutil.which("chromium")
    if chromium is None:
        raise ScreenshotError("chromium is not installed: run `make screenshots` (it installs it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    command = [
        chromium,
        "--headless",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",  # not the user's own profile
        f"--window-size={size[0]},{size[1]}",
    ]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
    browser = _DevTools(command, timeout_s=180)
    try:
        png = _screenshot(browser, url, login, size, budget_ms)
    finally:
        browser.close()
    out.write_bytes(png)
    if out.stat().st_size < MIN_PNG_BYTES:
        raise ScreenshotError(f"no useful screenshot of {url} ({out.stat().st_size} bytes)")
    return out


def _screenshot(
    browser: _DevTools, url: str, login: tuple[str, str], size: tuple[int, int], budget_ms: int
) -> bytes:
    """Open a tab, answer every login challenge, load `url`, then let it run `budget_ms` of
    virtual time (which waits while requests are pending, as `--virtual-time-budget` does), and
    take the picture."""
    results: dict[int, dict] = {}

    def call(method: str, params: dict | None = None, session: str | None = None) -> dict:
        sent = browser.send(method, params, session)
        while sent not in results:
            pump()
        answer = results.pop(sent)
        if "error" in answer:
            raise ScreenshotError(f"Chromium refused {method}: {answer['error']}")
        return answer["result"]

    loaded, expired = [], []

    def pump() -> None:
        message = browser.receive()
        if "id" in message:
            results[message["id"]] = message
            return
        method, params = message.get("method"), message.get("params", {})
        session = message.get("sessionId")
        if method == "Fetch.authRequired":
            user, password = login
            answer = {"response": "ProvideCredentials", "username": user, "password": password}
            browser.send(
                "Fetch.continueWithAuth",
                {"requestId": params["requestId"], "authChallengeResponse": answer},
                session,
            )
        elif method == "Fetch.requestPaused":
            browser.send("Fetch.continueRequest", {"requestId": params["requestId"]}, session)
        elif method == "Page.loadEventFired":
            loaded.append(True)
        elif method == "Emulation.virtualTimeBudgetExpired":
            expired.append(True)

    target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
    tab = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    call("Fetch.enable", {"handleAuthRequests": True}, tab)
    width, height = size
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    call("Emulation.setDeviceMetricsOverride", metrics, tab)
    call("Page.enable", {}, tab)
    call("Page.navigate", {"url": url}, tab)
    while not loaded:
        pump()
    # the page's own time starts once it has loaded (the budget would run out during the login)
    policy = {"policy": "pauseIfNetworkFetchesPending", "budget": budget_ms}
    call("Emulation.setVirtualTimePolicy", policy, tab)
    while not expired:
        pump()
    return base64.b64decode(call("Page.captureScreenshot", {"format": "png"}, tab)["data"])


def expanded_groups(socket: Path) -> str:
    """The asset graph's query string that opens every asset group (the UI starts them closed)."""
    from orchestration.workbench.services import graphql

    groups = sorted(
        {n["groupName"] for n in graphql(socket, "{ assetNodes { groupName } }")["assetNodes"]}
    )
    return urlencode({"expanded": ",".join(f"global@global:{g}" for g in groups)})


def main() -> int:
    from lakehouse.settings import get_settings
    from orchestration.workbench import front_door
    from orchestration.workbench.services import Workbench

    settings = get_settings()
    workbench = Workbench(settings)
    state = workbench.state()
    if state is None or not state.running() or not state.sockets:
        print(f"the workbench of {workbench.lake_root} is not running: `make up` first")
        return 1
    folder = workbench.home / "screenshots"
    ports = settings.ports
    login = (front_door.USER, workbench._secrets()["web"])
    dagster_socket = Path(state.sockets) / front_door.UIS["dagster"][0]
    for name, (template, size) in PAGES.items():
        url = template.format(
            host=LOOPBACK,
            dagster=ports.dagster,
            mlflow=ports.mlflow,
            expanded=expanded_groups(dagster_socket),
        )
        try:
            path = capture(
                url, folder / f"{name}.png", workbench.home / "chromium", login=login, size=size
            )
        except ScreenshotError as exc:
            print(f"screenshots: {exc}", file=sys.stderr)
            return 1
        print(f"{path}  ({path.stat().st_size // 1024} KiB, {url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
