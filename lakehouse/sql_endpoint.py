"""The SQL endpoint: Spark's Thrift server (HiveServer2 protocol) serving every lake table by name.

beeline, JDBC and DB-API clients connect to `jdbc:hive2://127.0.0.1:<port>` with a user and password
of the lake's users file (`plantlake users`); each reads the schemas of its role. The endpoint is
read-only unless started with `read_write=True` (`plantlake sql-endpoint --read-write`).
"""

from __future__ import annotations

import logging
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.lake import Lake, open_lake
from lakehouse.services.ports import LOOPBACK
from lakehouse.settings import REPO_ROOT, Settings
from lakehouse.spark import SparkSetupError, get_spark, spark_conf
from lakehouse.sql_users import list_users, role_conf, users_file

log = logging.getLogger(__name__)

# Built by `make setup` (infra/setup.sh) from infra/readonly/src.
READONLY_JAR = REPO_ROOT / "infra" / "readonly" / "build" / "plantlake-readonly.jar"
READONLY_EXTENSION = "org.plantlake.sql.ReadOnlyExtension"
READ_ONLY_REFUSAL = "plantlake SQL endpoint is read-only"
THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
PASSWORD_CHECK = "org.plantlake.sql.PasswordAuthenticator"
# The account the endpoint signs in with to warm itself up: in the JVM's memory while it starts.
WARM_UP_USER = "_endpoint"
WORK_FOLDERS = ("operation_logs", "scratch", "local_scratch", "resources", "warehouse")


class EndpointStartError(RuntimeError):
    """The SQL endpoint could not start; the message says why."""


def jdbc_url(port: int) -> str:
    """The JDBC URL of an endpoint on this machine."""
    return f"jdbc:hive2://{LOOPBACK}:{port}"


def connect(port: int, user: str, password: str, timeout_s: float = 120.0):
    """A DB-API 2.0 connection (impyla) to the endpoint on this machine's `port`, signed in as
    `user` (an account of `plantlake users`).

    >>> with closing(connect(10000, "analyst", password)) as conn, closing(conn.cursor()) as cur:
    ...     cur.execute("SELECT line, oee FROM gold.oee_line_day LIMIT 3")
    ...     rows = cur.fetchall()
    """
    from impala.dbapi import connect as hs2_connect

    return hs2_connect(
        host=LOOPBACK,
        port=port,
        auth_mechanism="PLAIN",
        user=user,
        password=password,
        timeout=timeout_s,
    )


def endpoint_conf(
    settings: Settings, port: int, work_dir: Path, *, read_write: bool = False
) -> dict[str, str]:
    """What the endpoint adds to `spark_conf`: the Thrift server on loopback, its password check,
    the read-only rule with the schemas of each role.

    The catalog stays in-memory (the lake registers its tables by name); the Thrift server's
    own Hive state (scratch, operation logs, an in-memory Derby) stays under `work_dir`,
    private to this process.
    """
    hive = {
        "server2.thrift.port": str(port),
        "server2.thrift.bind.host": LOOPBACK,
        "server2.transport.mode": "binary",
        # a user and password of the users file (PASSWORD_CHECK, named to Hive in start_endpoint)
        "server2.authentication": "CUSTOM",
        "server2.custom.authentication.class": PASSWORD_CHECK,
        # no `hive.server2.proxy.user` in a session's settings: an analyst may not act as another
        "server2.allow.user.substitution": "false",
        "server2.enable.doAs": "false",
        "server2.logging.operation.log.location": str(work_dir / "operation_logs"),
        "exec.scratchdir": str(work_dir / "scratch"),
        "exec.local.scratchdir": str(work_dir / "local_scratch"),
        # one folder per client session, as Hive's default: a session deletes its folder when
        # it closes, so a shared one vanished under sessions opening at the same moment
        "downloaded.resources.dir": str(work_dir / "resources" / "${hive.session.id}_resources"),
        "metastore.warehouse.dir": str(work_dir / "warehouse"),
    }
    conf = {f"spark.hive.{key}": value for key, value in hive.items()}
    conf.update(
        {
            "spark.app.name": "plantlake-sql-endpoint",
            # A session per client connection (its temp views, SET) over the shared catalog.
            "spark.sql.hive.thriftServer.singleSession": "false",
            # Thrift sessions use java.time dates, which Delta's metadata-only answer to
            # max(date column) cannot cast (ClassCastException): let Spark compute it.
            "spark.databricks.delta.optimizeMetadataQuery.enabled": "false",
        }
    )
    if not read_write:  # no `text.\`/etc/…\``: the read-only rule refuses file relations too
        conf["spark.sql.runSQLOnFiles"] = "false"
    base = spark_conf(settings)
    if not READONLY_JAR.is_file():
        raise SparkSetupError(
            f"{READONLY_JAR} is missing: run `make setup` (it compiles the password check and "
            f"the read-only rule of the SQL endpoint from infra/readonly/src)"
        )
    jars = [*base["spark.jars"].split(","), str(READONLY_JAR)]
    if not read_write:
        conf["spark.sql.extensions"] = f"{base['spark.sql.extensions']},{READONLY_EXTENSION}"
        conf.update(role_conf())
    conf["spark.jars"] = ",".join(jars)
    # The Thrift server opens client sessions under Hive's class loader, which does not see
    # `spark.jars`: Delta's catalog and our rule must be on the JVM's class path itself.
    conf["spark.driver.extraClassPath"] = ":".join(jars)
    return conf


@dataclass
class SqlEndpoint:
    """A Thrift server over the lake, running in this process."""

    lake: Lake
    port: int
    read_only: bool
    work_dir: Path
    _server: Any = field(repr=False)

    @property
    def url(self) -> str:
        return jdbc_url(self.port)

    def refresh(self) -> list[str]:
        """Register tables other processes created since the last call; returns all attached."""
        return self.lake.attach()

    def stop(self) -> None:
        """Stop the Thrift server and Spark, and remove the endpoint's private folders."""
        steps = [self.lake.spark.stop]
        if self._server is not None:
            steps.insert(0, self._server.stop)
        for step in steps:
            try:
                step()
            except Exception as exc:  # the JVM may be gone already (a signal to the group)
                log.warning("stopping the SQL endpoint: %s", exc)
        shutil.rmtree(self.work_dir, ignore_errors=True)


def start_endpoint(settings: Settings, port: int, *, read_write: bool = False) -> SqlEndpoint:
    """Start Spark with the lake's tables registered, then the Thrift server on `port`.

    Returns once a client has connected, queried and disconnected (the first of each costs
    seconds in a fresh JVM, so the endpoint pays them before it says it is ready).
    """
    work_dir = Path(tempfile.mkdtemp(prefix="plantlake-sql-endpoint-"))
    for folder in WORK_FOLDERS:
        (work_dir / folder).mkdir()
    try:
        spark = get_spark(settings, endpoint_conf(settings, port, work_dir, read_write=read_write))
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    jvm = spark.sparkContext._jvm
    # Hive makes its password check from a fresh HiveConf, which sees system properties only.
    jvm.java.lang.System.setProperty("hive.server2.custom.authentication.class", PASSWORD_CHECK)
    jvm.java.lang.System.setProperty("plantlake.sql.users", str(users_file(settings.lake_root)))
    # The JVM removes the folder as it exits too, even when this process is killed.
    jvm.org.apache.spark.util.ShutdownHookManager.registerShutdownDeleteDir(
        jvm.java.io.File(str(work_dir))
    )
    if not read_write:
        if READONLY_EXTENSION not in spark.conf.get("spark.sql.extensions", ""):
            # get_spark reused a session this process had already built without the rule.
            shutil.rmtree(work_dir, ignore_errors=True)
            raise EndpointStartError(
                "this process already runs Spark without the read-only rule: start the "
                "endpoint in a process of its own (`plantlake sql-endpoint`)"
            )
        # The endpoint's own session registers tables; the sessions of clients are new ones.
        jvm.org.plantlake.sql.ReadOnlyExtension.trust(spark._jsparkSession)
    endpoint = SqlEndpoint(open_lake(settings), port, not read_write, work_dir, None)
    try:
        client_base = spark._jsparkSession.newSession()
        endpoint._server = getattr(jvm, THRIFT_SERVER).startWithSparkSession(client_base, False)
        if not read_write:  # the rule checks the settings each client gave its session
            jvm.org.plantlake.sql.SessionSettings.watch(endpoint._server)
            # a schema browser's metadata calls see only the schemas of the user's role
            jvm.org.plantlake.sql.RoleScopedOperations.install(endpoint._server)
        # Hive's session code opens a metastore when a client disconnects. The URL Spark sets
        # for it does not open with the Derby pyspark ships (Hive then retries for 20 s), so
        # client sessions, whose settings copy the server's, get a working in-memory one.
        endpoint._server.getHiveConf().set(
            "javax.jdo.option.ConnectionURL",
            "jdbc:derby:memory:plantlake-sql-endpoint;create=true",
        )
        # Spark 4.2 warns at the end of every Thrift statement that it had no job to cancel.
        log4j = jvm.org.apache.logging.log4j
        log4j.core.config.Configurator.setLevel(
            "org.apache.spark.scheduler.DAGScheduler", log4j.Level.ERROR
        )
        _warm_up(endpoint)
    except Exception as exc:
        endpoint.stop()
        raise EndpointStartError(
            f"the SQL endpoint did not start on {jdbc_url(port)}: {exc}"
        ) from exc
    return endpoint


def _warm_up(endpoint: SqlEndpoint) -> None:
    tables = endpoint.refresh()
    accounts = endpoint.lake.spark.sparkContext._jvm.org.plantlake.sql.SqlUsers
    password = secrets.token_urlsafe(16)
    accounts.addTransient(WARM_UP_USER, "engineer", password)
    try:
        with (
            closing(connect(endpoint.port, WARM_UP_USER, password)) as conn,
            closing(conn.cursor()) as cur,
        ):
            cur.execute("SELECT 1")
            cur.fetchall()
            if tables:  # the first read of a Delta table loads Delta's code paths
                cur.execute(f"SELECT * FROM {tables[0]} LIMIT 1")
                cur.fetchall()
    finally:
        accounts.forget(WARM_UP_USER)


def serve(
    settings: Settings,
    port: int,
    *,
    read_write: bool = False,
    refresh_s: float = 10.0,
    ready: Callable[[str], None] = print,
) -> None:
    """Run the endpoint until SIGTERM or SIGINT; register new tables every `refresh_s` seconds."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping the SQL endpoint", signum)
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        endpoint = start_endpoint(settings, port, read_write=read_write)
        try:
            mode = "read-only" if endpoint.read_only else "read-write"
            tables = endpoint.refresh()
            accounts = users_file(settings.lake_root)
            users = len(list_users(accounts))
            hint = "" if users else "; add one with `plantlake users add NAME --role analyst`"
            ready(
                f"plantlake SQL endpoint ready: {endpoint.url} ({mode}, {len(tables)} tables "
                f"of {endpoint.lake.root}, {users} users in {accounts}{hint})"
            )
            while not stop.wait(refresh_s):
                try:
                    endpoint.refresh()
                except Exception:  # a table half-created by another process: next round
                    log.exception("registering new tables failed; trying again in %s s", refresh_s)
        finally:
            endpoint.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
