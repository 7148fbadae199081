"""The process's SparkSession, with Delta Lake from the jars `make setup` put on disk.

Nothing is downloaded at run time: `spark.jars` names local files and `spark.jars.packages`
stays unset, so a session starts with the network cut off.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.settings import REPO_ROOT, Settings, get_settings

LOG4J_CONFIG = REPO_ROOT / "infra" / "spark" / "log4j2.properties"
REQUIRED_JARS = ("delta-spark_", "delta-storage-")


class SparkSetupError(RuntimeError):
    """Spark cannot start as configured (typically: `make setup` has not been run)."""


def local_jars(jars_dir: Path) -> list[Path]:
    """The jar files in `jars_dir`; SparkSetupError if the Delta jars are missing."""
    jars = sorted(jars_dir.glob("*.jar"))
    for prefix in REQUIRED_JARS:
        if not any(j.name.startswith(prefix) for j in jars):
            raise SparkSetupError(
                f"no {prefix}*.jar in {jars_dir}: run `make setup` (it resolves the jars of "
                f"infra/pom.xml with Maven), or point PLANTLAKE_JARS_DIR at a folder that has them"
            )
    return jars


def spark_conf(settings: Settings) -> dict[str, str]:
    """Every Spark setting plantlake sets, tuned for a small machine."""
    jars = local_jars(settings.jars_dir)
    java_opts = f"-Dlog4j2.configurationFile=file:{LOG4J_CONFIG} -Dderby.system.home={tempfile.gettempdir()}"
    return {
        "spark.master": settings.spark_master,
        "spark.app.name": "plantlake",
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.extraJavaOptions": java_opts,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # Each process keeps its own catalog, filled from the lake folder when the session
        # opens (lakehouse.lake): no shared metastore to lock, so a Dagster run, a notebook
        # and the SQL endpoint open the same lake at once.
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": str((settings.lake_root / "_warehouse").resolve()),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.default.parallelism": str(settings.spark_shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.databricks.delta.optimizeMetadataOnlyQueries": "true",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        # Hadoop's local file system sets each file's mode itself (its own umask, 022 by
        # default, not the process's): the lake is its owner's alone (0600 files, 0700 folders)
        "spark.hadoop.fs.permissions.umask-mode": "077",
        # Spark's own ports (RPC, block manager) on loopback ask for a secret Spark makes per
        # application (local masters only; a cluster master needs one given: issue 18)
        "spark.authenticate": str(settings.spark_master.startswith("local")).lower(),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


# What the JVM prints on stderr that says nothing to a user: Spark's launcher always adds the
# incubating vector module, and the JVM announces it at every start.
_JVM_NOISE = (b"WARNING: Using incubator modules",)


@contextmanager
def _jvm_stderr_filtered():
    """Start the JVM inside the block with its stderr through a filter that drops `_JVM_NOISE`
    lines and passes every other line on to this process's stderr, for the JVM's lifetime."""
    try:
        real, saved = os.dup(2), os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    read_end, write_end = os.pipe()

    def forward() -> None:
        with os.fdopen(read_end, "rb") as lines, os.fdopen(real, "wb", buffering=0) as out:
            for line in lines:
                if not line.startswith(_JVM_NOISE):
                    out.write(line)

    threading.Thread(target=forward, name="jvm-stderr", daemon=True).start()
    os.dup2(write_end, 2)  # the JVM inherits this descriptor as its stderr
    try:
        yield
    finally:
        os.dup2(saved, 2)  # this process writes to its own stderr directly again
        os.close(saved)
        os.close(write_end)


def _claim_pyspark_error_loggers() -> None:
    """Create PySpark's query-context loggers as PySparkLoggers before anyone else can.

    PySpark logs a failed query through `logging.getLogger("SQLQueryContextLogger")` with
    keyword arguments only its own logger class takes; if another library (seen with Dagster
    in the same process) created that name first as a plain Logger, the error message is lost
    behind a TypeError.
    """
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        existing = logging.Logger.manager.loggerDict.get(name)
        if isinstance(existing, logging.Logger) and not isinstance(existing, PySparkLogger):
            del logging.Logger.manager.loggerDict[name]
        PySparkLogger.getLogger(name)


_engine_sessions: dict[Path, SparkSession] = {}  # per lake: client sessions of its engine


def _engine_session(settings: Settings) -> SparkSession | None:
    from lakehouse import engine

    root = Path(settings.lake_root).resolve()
    if root not in _engine_sessions:
        session = engine.connect(settings)
        if session is None:
            return None
        _engine_sessions[root] = session
    return _engine_sessions[root]


def get_spark(
    settings: Settings | None = None, extra_conf: dict[str, str] | None = None
) -> SparkSession:
    """The process's SparkSession (built on first call, then reused): a client session of the
    lake's running engine (`lakehouse.engine`, setting `engine`), else a local one.

    `extra_conf` adds to or replaces settings of `spark_conf` for a process with special needs
    (the SQL endpoint, the engine itself): such a process always runs a local session; the
    settings apply only when this call builds it.

    >>> spark = get_spark()
    >>> spark.sql("SELECT 1 AS one").collect()
    [Row(one=1)]
    """
    settings = settings or get_settings()
    if extra_conf is None:
        remote = _engine_session(settings)
        if remote is not None:
            return remote
    if _engine_sessions:
        raise SparkSetupError(
            f"this process works through the engine of {', '.join(map(str, _engine_sessions))}; "
            f"the lake {Path(settings.lake_root).resolve()} needs an engine of its own "
            "(`plantlake engine`) or a process of its own"
        )
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    _claim_pyspark_error_loggers()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # the interpreter as this process names it: a virtual environment's `python` is a link to
    # the base interpreter, and resolved it would run Python workers outside the environment
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in {**spark_conf(settings), **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    with _jvm_stderr_filtered():
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # PySpark logs every failed query as JSON with the whole JVM stack before raising it; the
    # raised exception already carries Spark's message, so these loggers only add noise.
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True
    return spark
