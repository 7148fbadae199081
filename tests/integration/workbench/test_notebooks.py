"""Every notebook in notebooks/ runs top to bottom against the 14-day lake: one kernel of the
venv's Python runs them one after another (one JVM), with an MLflow store of its own, and a
failing cell fails the test with its traceback."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[3]
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
KERNEL_NAME = "plantlake-notebook-test"
CELL_TIMEOUT_S = 600  # generous for a loaded machine; the whole run is timed below
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def venv_python() -> Path:
    """The Python of the environment running the tests (`.venv/bin/python` under `make test`)."""
    return Path(sys.prefix) / "bin" / "python"


def write_kernelspec(jupyter_dir: Path) -> Path:
    """A kernelspec of the venv's Python in a folder of the test's own; returns the kernels dir."""
    kernels = jupyter_dir / "kernels"
    spec = kernels / KERNEL_NAME
    spec.mkdir(parents=True)
    argv = [str(venv_python()), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "plantlake test", "language": "python"})
    )
    return kernels


def kernel_env(lake_root: Path, tmp: Path) -> dict[str, str]:
    """The kernel's environment: the small lake, a small Spark, loopback only, MLflow and
    IPython state in `tmp` (the shared lake's registry stays as it is)."""
    return {
        **os.environ,
        "PLANTLAKE_LAKE_ROOT": str(lake_root),
        "PLANTLAKE_MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        "PLANTLAKE_SPARK_MASTER": "local[2]",
        "PLANTLAKE_SPARK_DRIVER_MEMORY": "2g",
        "PLANTLAKE_SPARK_SHUFFLE_PARTITIONS": "2",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "IPYTHONDIR": str(tmp / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "MPLCONFIGDIR": str(tmp / "matplotlib"),
    }


def isolate_mlflow(tmp: Path) -> None:
    """Create the notebooks' experiments in the test's store with artifacts in `tmp`, so model
    files do not land in the shared lake's `_mlflow/artifacts` either."""
    from mlflow import MlflowClient

    from ml import maintenance, quality

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    for name in (maintenance.EXPERIMENT, quality.EXPERIMENT):
        client.create_experiment(name, artifact_location=(tmp / "artifacts" / name).as_uri())


class NotebookFailed(AssertionError):
    pass


async def run_in_one_kernel(
    notebooks: list[Path], env: dict[str, str], kernels_dir: Path
) -> dict[str, float]:
    """Execute each notebook in the same kernel (its namespace reset in between); returns the
    seconds each took (the first includes starting Spark). NotebookFailed names the notebook
    and shows the failing cell's traceback."""
    import jupytext
    import nbformat
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    km = AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels_dir)]),
        ip="127.0.0.1",
    )
    seconds: dict[str, float] = {}
    await km.start_kernel(env=env, cwd=str(notebooks[0].parent))
    try:
        check = nbformat.v4.new_code_cell("import sys; print(sys.executable)")
        for index, path in enumerate(notebooks):
            nb = jupytext.read(path)
            # a fresh namespace for each notebook; the SparkSession (the JVM) stays up
            nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
            if index == 0:
                nb.cells.insert(0, check)
            client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, allow_errors=False)
            t0 = time.perf_counter()
            try:
                await client.async_execute()
            except CellExecutionError as error:
                trace = ANSI_COLOUR.sub("", str(error))
                raise NotebookFailed(f"notebook {path.name} failed:\n{trace}") from None
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()
            seconds[path.name] = time.perf_counter() - t0
            print(f"{path.name}: {seconds[path.name]:.1f} s", flush=True)
            if index == 0:
                ran = "".join(o.get("text", "") for o in check.outputs).strip()
                assert ran == str(venv_python()), f"kernel ran {ran}, not {venv_python()}"
        # stop Spark before the kernel exits, so the JVM shuts down cleanly rather than raced
        stop = nbformat.v4.new_code_cell(
            "from pyspark.sql import SparkSession\n"
            "if SparkSession.getActiveSession():\n"
            "    SparkSession.getActiveSession().stop()"
        )
        client = NotebookClient(nbformat.v4.new_notebook(cells=[stop]), km=km, timeout=120)
        await client.async_execute()
        client.kc.stop_channels()
    finally:
        await km.shutdown_kernel(now=False)
    return seconds


# func_only: the 14-day lake is built by the first test that asks for it; only the notebooks count
@pytest.mark.timeout(600, func_only=True)
def test_every_notebook_runs_against_the_small_lake(small_lake, tmp_path: Path):
    assert len(NOTEBOOKS) >= 5, f"expected the five notebooks, found {NOTEBOOKS}"
    isolate_mlflow(tmp_path)
    env = kernel_env(small_lake.root, tmp_path)
    kernels_dir = write_kernelspec(tmp_path / "jupyter")
    started = time.perf_counter()
    seconds = asyncio.run(run_in_one_kernel(NOTEBOOKS, env, kernels_dir))
    total = time.perf_counter() - started
    print(
        f"notebooks: {total:.0f} s in all ("
        + ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items())
        + ")"
    )
