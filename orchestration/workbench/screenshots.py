"""`python -m orchestration.workbench.screenshots`: PNGs of the running workbench's Dagster asset
graph and MLflow experiments, taken with headless Chromium, under `<lake>/_workbench/screenshots/`
(`make screenshots` installs Chromium and starts the workbench first)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def capture(
    url: str,
    out: Path,
    profile: Path,
    *,
    size: tuple[int, int] = (1600, 1000),
    budget_ms: int = 30_000,
) -> Path:
    """Load `url` in headless Chromium, let it run `budget_ms` of page time, save a PNG."""
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
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={out}",
        url,
    ]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if not out.exists() or out.stat().st_size < MIN_PNG_BYTES:
        raise ScreenshotError(
            f"no useful screenshot of {url} (exit {done.returncode}):\n{done.stderr[-2000:]}"
        )
    return out


def expanded_groups(port: int) -> str:
    """The asset graph's query string that opens every asset group (the UI starts them closed)."""
    from orchestration.workbench.services import graphql

    groups = sorted(
        {n["groupName"] for n in graphql(port, "{ assetNodes { groupName } }")["assetNodes"]}
    )
    return urlencode({"expanded": ",".join(f"global@global:{g}" for g in groups)})


def main() -> int:
    from lakehouse.settings import get_settings
    from orchestration.workbench.services import Workbench

    settings = get_settings()
    workbench = Workbench(settings)
    state = workbench.state()
    if state is None or not state.running():
        print(f"the workbench of {workbench.lake_root} is not running: `make up` first")
        return 1
    folder = workbench.home / "screenshots"
    ports = settings.ports
    for name, (template, size) in PAGES.items():
        url = template.format(
            host=LOOPBACK,
            dagster=ports.dagster,
            mlflow=ports.mlflow,
            expanded=expanded_groups(ports.dagster),
        )
        try:
            path = capture(url, folder / f"{name}.png", workbench.home / "chromium", size=size)
        except ScreenshotError as exc:
            print(f"screenshots: {exc}", file=sys.stderr)
            return 1
        print(f"{path}  ({path.stat().st_size // 1024} KiB, {url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
