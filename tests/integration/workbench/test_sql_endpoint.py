"""`plantlake sql-endpoint` on a free loopback port over a small lake: beeline and the DB-API client
read every table by name (signed in as an engineer), tables created later appear, writes of every
kind are refused, every gold example query runs, and SIGTERM stops it. Logins and roles:
tests/security/test_sql_endpoint_auth.py."""

from __future__ import annotations

import csv
import hashlib
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from thrift.transport.TTransport import TTransportException

from lakehouse.catalog import LAYERS, all_tables, get_table
from lakehouse.services.ports import free_port
from lakehouse.sql_endpoint import (
    READ_ONLY_REFUSAL,
    READONLY_EXTENSION,
    connect,
    endpoint_conf,
    jdbc_url,
)
from lakehouse.sql_users import add_user, users_file

pytestmark = pytest.mark.integration

LATE_TABLE = "gold.asset_state"  # created after the endpoint is up: it must appear by name
PROMPT = re.compile(r"^\d+: jdbc:hive2://\S+> ")
USER = "engineer"  # reads every layer
PASSWORD = secrets.token_urlsafe(12)
BEELINE_ARGS = ("--silent=true", "--outputformat=csv2")
JDBC_CATALOG = "org.apache.spark.sql.execution.datasources.v2.jdbc.JDBCTableCatalog"
DAY = date(2026, 3, 2)
T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
_DEFAULTS = {
    "string": "",
    "double": 0.0,
    "bigint": 0,
    "int": 0,
    "boolean": False,
    "date": DAY,
    "timestamp": T0,
    "array<string>": [],
    "map<string,string>": {},
}


def _frame(spark, name: str, rows: list[dict]):
    """A DataFrame of the table's exact schema: the given values, typed defaults elsewhere."""
    spec = get_table(name)
    data = [
        tuple(row.get(c.name, _DEFAULTS[c.data_type.simpleString()]) for c in spec.columns)
        for row in rows
    ]
    return spark.createDataFrame(data, spec.schema)


def _wait_for(predicate, what: str, process: subprocess.Popen, log: Path, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            break
        time.sleep(0.5)
    pytest.fail(f"{what} (exit {process.poll()}); log {log}:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def endpoint(spark, tmp_path_factory, sql_endpoint_process):
    """The endpoint as `make up` runs it (its own process, settings from the environment)."""
    from lakehouse.lake import Lake

    base = tmp_path_factory.mktemp("sql-endpoint")
    lake = Lake(spark, base / "lake")
    add_user(users_file(lake.root), USER, "engineer", PASSWORD)
    # Started first: its JVM comes up while this process writes the lake.
    with sql_endpoint_process(lake.root, base / "endpoint.log") as running:
        # Creating a table mostly waits on files and Spark's scheduler: a few at once is faster.
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lake.create, [s.full_name for s in all_tables() if s.full_name != LATE_TABLE]
                )
            )
        lake.append(
            "gold.oee_shift",
            _frame(
                spark,
                "gold.oee_shift",
                [
                    {"equipment_id": "e.a", "line": "L1", "shift_id": "s1", "oee": 0.8},
                    {"equipment_id": "e.b", "line": "L1", "shift_id": "s1", "oee": 0.6},
                ],
            ),
        )
        lake.append(
            "gold.energy",
            _frame(
                spark,
                "gold.energy",
                [{"line": "L1", "energy_kwh": 120.0, "good_units": 400, "kwh_per_good_unit": 0.3}],
            ),
        )
        running.wait_ready()
        yield {
            "process": running.process,
            "port": running.port,
            "lake": lake,
            "log": running.log,
            "beeline": running.beeline,
        }


def _query(port: int, sql: str) -> list[tuple]:
    with closing(connect(port, USER, PASSWORD)) as conn, closing(conn.cursor()) as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_startup_prints_ready_with_the_jdbc_url(endpoint):
    line = next(ln for ln in endpoint["log"].read_text().splitlines() if "ready" in ln)
    assert jdbc_url(endpoint["port"]) in line and "read-only" in line


def test_beeline_and_the_dbapi_client_return_the_rows(endpoint):
    sql = "SELECT equipment_id, shift_id, oee FROM gold.oee_shift ORDER BY equipment_id"
    result = endpoint["beeline"](USER, PASSWORD, *BEELINE_ARGS, "-e", sql)
    assert result.returncode == 0, result.stdout + result.stderr
    # beeline writes its prompt before the output when stdin is not a terminal
    lines = [PROMPT.sub("", ln) for ln in result.stdout.splitlines() if PROMPT.sub("", ln).strip()]
    assert list(csv.reader(lines)) == [
        ["equipment_id", "shift_id", "oee"],
        ["e.a", "s1", "0.8"],
        ["e.b", "s1", "0.6"],
    ]
    assert _query(endpoint["port"], sql) == [("e.a", "s1", 0.8), ("e.b", "s1", 0.6)]


def test_every_catalog_table_is_visible_and_new_ones_appear(endpoint, spark):
    endpoint["lake"].create(LATE_TABLE)

    def shown() -> dict[str, set[str]]:
        return {
            layer: {
                f"{layer}.{row[1]}" for row in _query(endpoint["port"], f"SHOW TABLES IN {layer}")
            }
            for layer in LAYERS
        }

    wanted = {layer: {s.full_name for s in all_tables(layer)} for layer in LAYERS}
    _wait_for(
        lambda: shown() == wanted,
        f"SHOW TABLES did not list the catalog; last: {shown()}",
        endpoint["process"],
        endpoint["log"],
        30,
    )
    assert _query(endpoint["port"], f"SELECT count(*) FROM {LATE_TABLE}") == [(0,)]


REFUSED = [
    ("INSERT INTO gold.oee_shift SELECT * FROM gold.oee_shift", "INSERT"),
    ("DELETE FROM gold.oee_shift WHERE equipment_id = 'e.a'", "DELETE"),
    ("UPDATE gold.energy SET energy_kwh = 0", "UPDATE"),
    (
        "MERGE INTO gold.energy t USING gold.energy s ON t.line = s.line WHEN MATCHED THEN DELETE",
        "MERGE INTO",
    ),
    ("CREATE TABLE gold.oee_copy AS SELECT * FROM gold.oee_shift", "CREATE TABLE AS SELECT"),
    ("CREATE TABLE gold.empty (a INT) USING delta", "CREATE TABLE"),
    ("CREATE VIEW gold.oee_view AS SELECT * FROM gold.oee_shift", "CREATE VIEW"),
    ("DROP TABLE gold.energy", "DROP TABLE"),
    ("TRUNCATE TABLE gold.energy", "TRUNCATE TABLE"),
    ("ALTER TABLE gold.energy SET TBLPROPERTIES ('note' = 'x')", "ALTER TABLE"),
    ("OPTIMIZE gold.oee_shift", "OPTIMIZE"),
    ("VACUUM gold.oee_shift", "VACUUM"),
    ("RESTORE TABLE gold.energy TO VERSION AS OF 0", "RESTORE"),
    ("SELECT reflect('java.lang.System', 'exit', 0)", "REFLECT"),
]


def test_writes_are_refused_and_the_tables_unchanged(endpoint):
    lake = endpoint["lake"]
    versions = {name: lake.version(name) for name in ("gold.oee_shift", "gold.energy")}
    problems = []
    with closing(connect(endpoint["port"], USER, PASSWORD)) as conn, closing(conn.cursor()) as cur:
        # a table by its path is no table here at all (spark.sql.runSQLOnFiles is off)
        with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
            cur.execute(f"INSERT INTO delta.`{lake.path('gold.energy')}` SELECT * FROM gold.energy")
        for sql, kind in REFUSED:
            try:
                cur.execute(sql)
            except Exception as exc:
                message = str(exc)
                if f"{READ_ONLY_REFUSAL}: {kind}" not in message or "--read-write" not in message:
                    problems.append(
                        f"{sql}: refused without the read-only message: {message[:300]}"
                    )
            else:
                problems.append(f"{sql}: accepted")
        # Reads and session-only statements keep working in the same session.
        cur.execute("CREATE TEMPORARY VIEW shifts AS SELECT * FROM gold.oee_shift")
        cur.execute("SELECT count(*) FROM shifts")
        assert cur.fetchall() == [(2,)]
    assert not problems, "\n".join(problems)
    assert {name: lake.version(name) for name in versions} == versions
    assert not [p for p in lake.root.rglob("*") if p.name in ("oee_copy", "empty")]
    assert _query(endpoint["port"], "SELECT count(*) FROM gold.oee_shift") == [(2,)]


@pytest.fixture(scope="module")
def mes_database():
    """A real PostgreSQL with one MES table, its superuser's password known to the attacker (it
    was readable in secrets.json when issue 14 was filed)."""
    import psycopg

    from lakehouse.services.postgres import start_postgres

    base = Path(tempfile.mkdtemp(prefix="plantlake-probe-pg-"))
    base.chmod(0o755)  # the server runs as the `postgres` user when we are root
    server = start_postgres(base / "pg", user="admin", password="known-to-the-attacker")
    try:
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE TABLE work_orders (id text PRIMARY KEY, qty int)")
            conn.execute("INSERT INTO work_orders VALUES ('wo-1', 10)")
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _first_line(exc: Exception) -> str:
    """The server's message without the Thrift wrapping and Java's stack."""
    text = str(exc).split("Error running query: ", 1)[-1].split("HiveSQLException: ", 1)[-1]
    return text.strip().splitlines()[0][:220]


def _fingerprint(root: Path) -> dict[str, str]:
    """Every file under `root` (Delta logs and data included) by its SHA-256."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.security
def test_the_attackers_probes_are_refused_before_anything_runs(endpoint, mes_database):
    """Issue 14's probes and more of each kind: running programs, reading files, reaching other
    systems (a JDBC catalog or view onto the MES database, an embedded database's files),
    registering code, changing settings, writing outside the lake. Each is refused with a
    message; afterwards no lake file changed, nothing was created outside it, the MES table
    holds what it held; a harmless setting and a plain query still work."""
    import psycopg

    lake = endpoint["lake"]
    secrets_file = lake.root / "_workbench" / "secrets.json"
    outside = Path(tempfile.mkdtemp(prefix="plantlake-probe-"))  # where a probe would write
    pg = mes_database
    jdbc = f"jdbc:postgresql://127.0.0.1:{pg.port}/{pg.dbname}"
    pg_login = f"user '{pg.user}', password '{pg.password}'"
    passwd = "SELECT * FROM text.`/etc/passwd`"
    probes = [
        # running programs
        ("SELECT TRANSFORM('x') USING 'id' AS (out STRING)", "TRANSFORM"),
        ("SELECT TRANSFORM('x') USING 'touch " + str(outside / "t") + "' AS (o STRING)", None),
        ("SELECT java_method('java.lang.Runtime', 'getRuntime')", None),
        ("SELECT reflect('java.lang.System', 'getenv', 'HOME')", None),
        ("ADD JAR '/tmp/evil.jar'", None),
        ("CREATE TEMPORARY FUNCTION f AS 'org.apache.hadoop.hive.ql.udf.UDFReflect'", None),
        ("CREATE FUNCTION g AS 'java.lang.Runtime' USING JAR '/tmp/evil.jar'", None),
        # reading files
        (passwd, None),
        ("SELECT * FROM csv.`/etc/passwd`", None),
        (f"SELECT * FROM json.`{secrets_file}`", None),
        ("SELECT * FROM binaryFile.`/etc/passwd`", None),
        ("SELECT * FROM parquet.`/etc`", None),
        ("CREATE TEMPORARY VIEW leak AS " + passwd, None),
        ("CACHE TABLE leak2 AS " + passwd, None),
        ("CREATE TEMPORARY VIEW leak3 USING csv OPTIONS (path '/etc/passwd')", None),
        ("SELECT * FROM IDENTIFIER('text.`/etc/passwd`')", None),
        ("EXECUTE IMMEDIATE '" + passwd + "'", None),
        ("ADD FILE '/etc/passwd'", None),
        ("LOAD DATA LOCAL INPATH '/etc/passwd' INTO TABLE gold.energy", None),
        (f"SELECT * FROM delta.`{lake.path('gold.energy')}`", None),
        # other systems
        (f"SET spark.sql.catalog.mes={JDBC_CATALOG}", "SET spark.sql.catalog.mes"),
        (f"SET spark.sql.catalog.mes.url={jdbc}", "SET spark.sql.catalog.mes.url"),
        (
            f"CREATE TEMPORARY VIEW mes USING jdbc OPTIONS (url '{jdbc}', "
            f"dbtable 'work_orders', {pg_login})",
            None,
        ),
        (
            "CREATE TEMPORARY VIEW derby USING jdbc OPTIONS "
            f"(url 'jdbc:derby:{outside / 'derby'};create=true', dbtable 'x')",
            None,
        ),
        (
            f"SELECT * FROM jdbc.`{jdbc}`",
            None,
        ),
        # settings
        ("SET spark.sql.runSQLOnFiles=true", "SET spark.sql.runSQLOnFiles"),
        ("SET spark.sql.extensions=x", "SET spark.sql.extensions"),
        ("SET spark.sql.warehouse.dir=/tmp", "SET spark.sql.warehouse.dir"),
        ("RESET spark.sql.runSQLOnFiles", None),
        # writing outside the lake
        (f"INSERT OVERWRITE DIRECTORY '{outside / 'dir'}' USING csv SELECT 1", None),
        (
            f"CREATE TABLE spill USING delta LOCATION '{outside / 'spill'}' AS SELECT 1 AS x",
            None,
        ),
        ("VACUUM gold.energy RETAIN 0 HOURS", None),
    ]
    before = _fingerprint(lake.root)
    with psycopg.connect(pg.conninfo()) as conn:
        mes_before = conn.execute("SELECT * FROM work_orders ORDER BY id").fetchall()
    accepted = []
    with closing(connect(endpoint["port"], USER, PASSWORD)) as conn, closing(conn.cursor()) as cur:
        for sql, named in probes:
            try:
                cur.execute(sql)
                if sql.startswith("RESET"):  # allowed and harmless while files stay unreadable
                    cur.execute(passwd)
                accepted.append((sql, cur.fetchall() if cur.description else None))
            except Exception as exc:
                print(f"refused: {sql[:70]}\n    {_first_line(exc)}")
                if named and named not in str(exc):
                    accepted.append((sql, f"refused without naming {named!r}: {exc!s:.200}"))
        # XML external entities: xpath must not read a file into an answer (or an error)
        xxe = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
        try:
            cur.execute(f"SELECT xpath_string('{xxe}', '/r')")
            assert "root:" not in str(cur.fetchall())
        except Exception as exc:
            assert "root:" not in str(exc)
        cur.execute("SET spark.sql.session.timeZone=UTC")
        cur.execute("SELECT count(*) FROM gold.oee_shift")
        assert cur.fetchall() == [(2,)]
    assert accepted == []
    assert _fingerprint(lake.root) == before
    assert list(outside.iterdir()) == []
    with psycopg.connect(pg.conninfo()) as conn:
        assert conn.execute("SELECT * FROM work_orders ORDER BY id").fetchall() == mes_before
    shutil.rmtree(outside, ignore_errors=True)


def test_every_gold_example_runs_through_the_endpoint(endpoint):
    examples = [(spec.full_name, sql) for spec in all_tables("gold") for sql in spec.examples]

    def run(example: tuple[str, str]) -> str | None:
        table, sql = example
        try:
            _query(endpoint["port"], sql)
        except Exception as exc:
            return f"{table}: {str(exc).splitlines()[0][:300]}\n{sql}"
        return None

    # A session each, a few at once: like several analysts, and quicker on two cores.
    with ThreadPoolExecutor(4) as pool:
        failures = [f for f in pool.map(run, examples) if f]
    assert not failures, "\n\n".join(failures)


def test_sigterm_stops_the_endpoint(endpoint):
    process = endpoint["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, endpoint["log"].read_text()[-3000:]
    with pytest.raises(TTransportException):
        _query(endpoint["port"], "SELECT 1")


def test_read_write_leaves_out_the_read_only_rule(test_settings, tmp_path):
    read_only = endpoint_conf(test_settings, 10000, tmp_path)
    read_write = endpoint_conf(test_settings, 10000, tmp_path, read_write=True)
    assert READONLY_EXTENSION in read_only["spark.sql.extensions"]
    assert "spark.sql.extensions" not in read_write
    for conf in (read_only, read_write):
        assert conf["spark.hive.server2.thrift.bind.host"] == "127.0.0.1"
        assert conf["spark.hive.server2.thrift.port"] == "10000"


def test_read_only_refuses_a_session_built_without_the_rule(spark, test_settings):
    from lakehouse.sql_endpoint import EndpointStartError, start_endpoint

    with pytest.raises(EndpointStartError, match="without the read-only rule"):
        start_endpoint(test_settings, free_port())
