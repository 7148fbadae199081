"""The SQL endpoint's logins and roles (issue 14, items 1 and 2): a wrong or missing password and
an unknown user are refused; an analyst reads silver and gold only (bronze refused by name, and
hidden from SHOW SCHEMAS and from a schema browser's metadata calls), an engineer every layer; a removed user is refused from the next
statement on; session settings given when a session opens cannot turn file reading back on or
change the user; the users file is private and holds no password."""

from __future__ import annotations

import json
import secrets
import stat
import subprocess
import sys
from contextlib import closing
from datetime import date

import pytest

from lakehouse.catalog import LAYERS, get_table
from lakehouse.sql_endpoint import connect, jdbc_url
from lakehouse.sql_users import ITERATIONS, add_user, users_file

pytestmark = pytest.mark.integration

BRONZE, SILVER, GOLD = "bronze.mqtt_messages", "silver.equipment", "gold.energy"
PASSWORDS = {name: secrets.token_urlsafe(12) for name in ("analyst", "engineer", "leaver")}
ROLES = {"analyst": "analyst", "engineer": "engineer", "leaver": "analyst"}


@pytest.fixture(scope="module")
def endpoint(spark, tmp_path_factory, sql_endpoint_process):
    from lakehouse.lake import Lake

    base = tmp_path_factory.mktemp("sql-endpoint-auth")
    lake = Lake(spark, base / "lake")
    for name, role in ROLES.items():
        add_user(users_file(lake.root), name, role, PASSWORDS[name])
    with sql_endpoint_process(lake.root, base / "endpoint.log") as running:
        for table in (BRONZE, SILVER, GOLD):
            lake.create(table)
        schema = get_table(GOLD).schema
        row = {"line": "L1", "energy_kwh": 120.0, "event_date": date(2026, 3, 2)}
        lake.append(GOLD, spark.createDataFrame([[row.get(f.name) for f in schema]], schema))
        running.wait_ready()
        running.lake = lake
        yield running


def _query(endpoint, user: str, sql: str, password: str | None = None, **session) -> list:
    password = PASSWORDS[user] if password is None else password
    with (
        closing(connect(endpoint.port, user, password, timeout_s=60)) as conn,
        closing(conn.cursor(**session)) as cur,
    ):
        cur.execute(sql)
        return cur.fetchall() if cur.description else []


def _refusal(endpoint, user: str, sql: str, **kwargs) -> str:
    """The reason the endpoint gave for refusing `sql` (its first line, no Java stack)."""
    with pytest.raises(Exception) as refused:
        _query(endpoint, user, sql, **kwargs)
    message = str(refused.value)
    return message.split("SecurityException: ")[-1].split("\n")[0]


def _login_refused(message: str) -> bool:
    return "Error validating the login" in message


def test_a_wrong_or_missing_password_or_an_unknown_user_is_refused(endpoint):
    assert _query(endpoint, "analyst", "SELECT 1") == [(1,)]
    for user, password in [
        ("analyst", "wrong"),
        ("analyst", PASSWORDS["engineer"]),  # another user's
        ("analyst", ""),
        ("nobody", PASSWORDS["analyst"]),
        ("analyst@x", PASSWORDS["analyst"]),  # Hive would cut the name at '@'
        ("_endpoint", "x"),  # the endpoint's warm-up account is gone once it is up
    ]:
        message = _refusal(endpoint, user, "SELECT 1", password=password)
        assert _login_refused(message), f"{user}: {message}"


def test_an_analyst_reads_silver_and_gold_and_not_bronze(endpoint):
    bronze_path = endpoint.lake.path(BRONZE)
    assert _query(endpoint, "analyst", f"SELECT line, energy_kwh FROM {GOLD}") == [("L1", 120.0)]
    assert _query(endpoint, "analyst", f"SELECT count(*) FROM {SILVER}") == [(0,)]
    shown = {row[0] for row in _query(endpoint, "analyst", "SHOW SCHEMAS")}
    assert shown == {"default", "silver", "gold"}
    assert {row[0] for row in _query(endpoint, "analyst", "SHOW SCHEMAS LIKE 'b*|g*'")} == {"gold"}
    assert {row[1] for row in _query(endpoint, "analyst", "SHOW TABLES IN gold")} == {"energy"}
    refused = [
        (f"SELECT * FROM {BRONZE}", f"table {BRONZE}"),
        (f"SELECT count(*) FROM spark_catalog.{BRONZE}", f"table {BRONZE}"),
        (f"SELECT * FROM {GOLD} WHERE line IN (SELECT topic FROM {BRONZE})", f"table {BRONZE}"),
        (f"CREATE TEMPORARY VIEW v AS SELECT * FROM {BRONZE}", f"table {BRONZE}"),
        (f"DESCRIBE TABLE {BRONZE}", f"table {BRONZE}"),
        (f"SHOW COLUMNS IN {BRONZE}", f"table {BRONZE}"),
        ("SHOW TABLES IN bronze", "schema bronze"),
        ("SHOW TABLES IN ops", "schema ops"),
        ("USE bronze", "schema bronze"),
        (f"SELECT * FROM table_changes('{BRONZE}', 0)", BRONZE),
        (f"SELECT * FROM table_changes_by_path('{bronze_path}', 0)", f"table {BRONZE}"),
        (f"DESCRIBE HISTORY {BRONZE}", f"table {BRONZE}"),
        (f"DESCRIBE HISTORY '{bronze_path}'", f"table {BRONZE}"),
        ("SHOW TABLE EXTENDED IN bronze LIKE '*'", "schema bronze"),
        ("SHOW VIEWS IN bronze", "schema bronze"),
        ("SHOW FUNCTIONS IN bronze", "schema bronze"),
    ]
    wrong = []
    for sql, named in refused:
        message = _refusal(endpoint, "analyst", sql)
        if f"{named} refused (role analyst reads gold, silver)" not in message:
            wrong.append(f"{sql}: {message}")
    assert wrong == []


def test_an_engineer_reads_every_layer(endpoint):
    assert _query(endpoint, "engineer", f"SELECT count(*) FROM {BRONZE}") == [(0,)]
    assert _query(endpoint, "engineer", f"SELECT count(*) FROM table_changes('{GOLD}', 0)") == [
        (1,)
    ]
    assert len(_query(endpoint, "engineer", f"DESCRIBE HISTORY {GOLD}")) >= 2
    shown = {row[0] for row in _query(endpoint, "engineer", "SHOW SCHEMAS")}
    assert shown == {"default", *LAYERS}


def test_a_table_outside_the_lake_is_refused_by_path_to_every_role(endpoint, spark, tmp_path):
    """A Delta table with a change feed that is no table of the lake's catalog: its path names
    no table, so neither the change feed nor the history are read, even by an engineer."""
    outside = tmp_path / "outside"
    spark.range(3).write.format("delta").option("delta.enableChangeDataFeed", "true").save(
        str(outside)
    )
    for sql in (
        f"SELECT * FROM table_changes_by_path('{outside}', 0)",
        f"DESCRIBE HISTORY '{outside}'",
    ):
        message = _refusal(endpoint, "engineer", sql)
        assert f"reading {outside} by path refused" in message, (sql, message)
    assert _query(endpoint, "analyst", f"DESCRIBE HISTORY {GOLD}")  # a table of its role


def _browse(endpoint, user: str) -> tuple[set, set, int]:
    """What a JDBC tool's schema browser gets by Thrift metadata calls (no SQL): schemas, tables,
    and how many functions it is shown in schema `bronze`."""
    with (
        closing(connect(endpoint.port, user, PASSWORDS[user], timeout_s=60)) as conn,
        closing(conn.cursor()) as cur,
    ):
        cur.get_databases()
        schemas = {row[0] for row in cur.fetchall()}
        cur.get_tables()
        tables = {f"{row[1]}.{row[2]}" for row in cur.fetchall()}
        cur.get_functions("bronze")
        return schemas, tables, len(cur.fetchall())


def test_a_schema_browser_sees_only_the_schemas_of_the_role(endpoint):
    """Thrift metadata calls never reach Spark's analyzer: the endpoint narrows their schema
    pattern to the role's. An analyst's browser lists no bronze schema or table, and nothing in
    bronze even when it asks for it by name; an engineer's lists every layer. (GetColumns is
    narrowed the same way, but shows no columns of a Delta table to anyone: its catalog entry
    holds none, the schema lives in the Delta log.)"""
    schemas, tables, bronze_functions = _browse(endpoint, "analyst")
    assert schemas == {"default", "silver", "gold"}
    assert tables == {SILVER, GOLD}
    assert bronze_functions == 0
    schemas, tables, bronze_functions = _browse(endpoint, "engineer")
    assert schemas == {"default", *LAYERS}
    assert tables == {BRONZE, SILVER, GOLD}
    assert bronze_functions > 100  # Spark's built-in functions, listed in each schema shown


def test_a_removed_user_is_refused_from_its_next_statement(endpoint):
    conn = connect(endpoint.port, "leaver", PASSWORDS["leaver"])
    with closing(conn), closing(conn.cursor()) as open_session:
        open_session.execute(f"SELECT count(*) FROM {GOLD}")
        assert open_session.fetchall() == [(1,)]
        removed = subprocess.run(
            [sys.executable, "-m", "lakehouse.cli", "users", "remove", "leaver"],
            env=endpoint.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert removed.returncode == 0, removed.stderr
        assert _login_refused(_refusal(endpoint, "leaver", "SELECT 1"))
        with pytest.raises(Exception, match="user leaver is not in the users file"):
            open_session.execute(f"SELECT count(*) FROM {GOLD}")


def test_session_settings_given_at_connection_are_refused(endpoint):
    """Settings a client passes when it opens its session (the JDBC URL's `?key=value`, which
    the driver sends as `set:hiveconf:key`) bypass the SET check: each statement of such a
    session is refused, naming the setting; acting as another user is refused at once."""
    probes = {
        "set:hiveconf:spark.sql.runSQLOnFiles": "true",
        "set:hivevar:spark.sql.runSQLOnFiles": "true",
        "set:hiveconf:spark.sql.catalog.mes": (
            "org.apache.spark.sql.execution.datasources.v2.jdbc.JDBCTableCatalog"
        ),
    }
    wrong = []
    for key, value in probes.items():
        setting = key.split(":")[-1]
        message = _refusal(endpoint, "analyst", "SELECT 1", configuration={key: value})
        if f"session setting {setting} refused" not in message:
            wrong.append(f"{key}: {message}")
    assert wrong == []
    message = _refusal(
        endpoint,
        "analyst",
        f"SELECT count(*) FROM {BRONZE}",
        configuration={"hive.server2.proxy.user": "engineer"},
    )
    assert "substitution is not allowed" in message, message
    # the JDBC URL itself, through beeline
    url = f"{jdbc_url(endpoint.port)}/;?spark.sql.runSQLOnFiles=true"
    result = endpoint.beeline(
        "analyst", PASSWORDS["analyst"], "-e", "SELECT * FROM text.`/etc/passwd`", url=url
    )
    assert result.returncode != 0
    assert "session setting spark.sql.runSQLOnFiles refused" in result.stdout + result.stderr
    assert "root:" not in result.stdout
    # an allowed setting in the URL is fine
    result = endpoint.beeline(
        "analyst",
        PASSWORDS["analyst"],
        *("--silent=true", "--outputformat=csv2", "-e", f"SELECT count(*) FROM {GOLD}"),
        url=f"{jdbc_url(endpoint.port)}/;?spark.sql.session.timeZone=UTC",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_users_file_is_private_and_holds_no_password(endpoint):
    path = users_file(endpoint.lake.root)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert not [name for name, password in PASSWORDS.items() if password in text]
    users = json.loads(text)["users"]
    assert users["analyst"]["role"] == "analyst" and users["engineer"]["role"] == "engineer"
    for entry in users.values():
        assert set(entry) == {"role", "salt", "iterations", "hash"}
        assert entry["iterations"] == ITERATIONS >= 200_000
    listed = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "users", "list"],
        env=endpoint.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert "analyst" in listed.stdout and "engineer" in listed.stdout
    assert not [e["hash"] for e in users.values() if e["hash"][:12] in listed.stdout]
