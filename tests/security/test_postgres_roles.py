"""The MES/ERP database's roles (issue 14, item 3): the superuser is `plantlake up`'s alone; the
plant owns and writes the MES/ERP tables, ingestion and people only read. Each refused probe
is replayed as a service or an outsider would send it, and no table's row count moves."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ingestion.landing import LandingZone
from ingestion.sql.extractor import PostgresExtractor, PostgresSourceConfig, SqlTable
from lakehouse.services import postgres
from lakehouse.services.ports import ServiceStartError, free_port
from lakehouse.services.postgres import start_postgres
from orchestration.live import MES_TABLES
from orchestration.workbench import database
from orchestration.workbench.database import ADMIN, INGESTION, PLANT, READER, start_database
from plant.mes import MesChange
from plant.servers.mes import PRIMARY_KEYS, MesWriter

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
PASSWORDS = {"pg_admin": "admin-pw", "pg_plant": "plant-pw", "pg_ingestion": "ingestion-pw"}
PASSWORDS["pg_reader"] = "reader-pw"
EXTRACTED = [t["table"] for t in MES_TABLES]
ROWS = [
    MesChange("erp.products", "insert", {"product_id": p, "name": p, "updated_at": T0}, 0)
    for p in ("P-1", "P-2")
] + [
    MesChange(
        "erp.cost_rates",
        "insert",
        {"equipment_kind": "cnc", "eur_per_hour": 80.0, "updated_at": T0},
        0,
    ),
    *(
        MesChange(
            "mes.work_orders",
            "insert",
            {
                "work_order_id": f"WO-{i}",
                "product_id": "P-1",
                "equipment_id": "cnc-1",
                "qty_planned": 10,
                "status": "released",
                "updated_at": T0,
            },
            0,
        )
        for i in range(3)
    ),
]


def password(role: str) -> str:
    return PASSWORDS[database.secret_name(role)]


def server_dir(prefix: str) -> Path:
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)  # the server runs as the `postgres` user when we are root
    return base


@pytest.fixture(scope="module")
def pg():
    """The workbench's database, brought up twice on one folder as two `plantlake up` would."""
    base = server_dir("plantlake-pg-roles-")
    port = free_port()
    server = None
    try:
        start_database(base / "pg", port, "plant", PASSWORDS, base / "pg.log").stop()
        server = start_database(base / "pg", port, "plant", PASSWORDS, base / "pg.log")
        writer = MesWriter(server.conninfo(user=PLANT, password=password(PLANT)))
        writer.apply(ROWS)
        writer.close()
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


def connect(pg, role: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(
        pg.conninfo(user=role, password=password(role)), autocommit=True, **kwargs
    )


def row_counts(pg) -> dict[str, int]:
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in sorted(PRIMARY_KEYS)
        }


def refused(pg, role: str, probes: list[str]) -> list[str]:
    """The probes the role got through; each on a fresh connection, every count unchanged."""
    before = row_counts(pg)
    accepted = []
    for probe in probes:
        with connect(pg, role) as conn:
            try:
                conn.execute(probe)
                accepted.append(probe)
            except psycopg.errors.InsufficientPrivilege:
                pass
        assert row_counts(pg) == before, f"{probe!r} changed a table"
    return accepted


@pytest.mark.parametrize("role", [ADMIN, PLANT, INGESTION, READER])
def test_no_password_and_a_wrong_one_are_refused(pg, role, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    bare = psycopg.conninfo.make_conninfo(host=pg.host, port=pg.port, dbname="plant", user=role)
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(bare)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bare + " password=wrong")
    with psycopg.connect(pg.conninfo(user=role, password=password(role))) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (role,)


def test_only_the_admin_is_superuser_and_no_role_has_more_than_login(pg):
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolcanlogin ORDER BY rolname"
        ).fetchall()
        members = conn.execute(
            "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
            "WHERE r.rolname = ANY(%s)",
            [[PLANT, INGESTION, READER]],
        ).fetchone()[0]
        owners = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
            "WHERE relnamespace IN ('mes'::regnamespace, 'erp'::regnamespace)"
        ).fetchall()
    assert rows == [
        (INGESTION, False, False, False, False, False),
        (PLANT, False, False, False, False, False),
        (ADMIN, True, True, True, True, True),
        (READER, False, False, False, False, False),
    ]
    assert members == 0 and owners == [(PLANT,)]


def test_ingestion_extracts_every_table_it_is_given_and_reads_nothing_else(
    pg, tmp_path, monkeypatch
):
    monkeypatch.setenv("TEST_PG_INGESTION_PASSWORD", password(INGESTION))
    config = PostgresSourceConfig(
        name="mes",
        host=pg.host,
        port=pg.port,
        dbname="plant",
        user=INGESTION,
        password_env="TEST_PG_INGESTION_PASSWORD",
        tables=[SqlTable(**t) for t in MES_TABLES],
    )
    extractor = PostgresExtractor(config, LandingZone(tmp_path / "landing"))
    assert extractor.check() == []
    landed = extractor.poll()
    assert landed == {t: {"mes.work_orders": 3, "erp.products": 2}.get(t, 0) for t in EXTRACTED}
    not_extracted = sorted(set(PRIMARY_KEYS) - set(EXTRACTED))
    assert not_extracted == ["erp.cost_rates", "erp.materials"]
    assert refused(pg, INGESTION, [f"SELECT * FROM {t}" for t in not_extracted]) == []
    with connect(pg, READER) as conn:  # people read every MES/ERP table
        assert conn.execute("SELECT count(*) FROM erp.cost_rates").fetchone() == (1,)


def test_the_readers_cannot_write_run_programs_read_files_or_become_another_role(pg):
    marker = Path(tempfile.gettempdir()) / f"plantlake-probe-{uuid.uuid4().hex}"
    probes = [
        "INSERT INTO mes.work_orders (work_order_id, product_id, equipment_id, qty_planned, "
        "status, updated_at) VALUES ('WO-X', 'P-1', 'cnc-1', 1, 'released', now())",
        "UPDATE mes.work_orders SET status = 'completed'",
        "DELETE FROM mes.work_orders",
        "TRUNCATE mes.work_orders",
        "DROP TABLE mes.work_orders",
        "ALTER TABLE mes.work_orders ADD COLUMN x int",
        "CREATE TABLE mes.stolen (x int)",
        "CREATE TABLE public.stolen (x int)",
        "CREATE TEMP TABLE stolen (x int)",
        "CREATE SCHEMA stolen",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE FUNCTION mes.f() RETURNS int LANGUAGE plpgsql AS 'BEGIN RETURN 1; END'",
        "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE c AS '/bin/sh', 'main'",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE internal AS 'int4in'",
        "CREATE EXTENSION file_fdw",
        f"COPY mes.work_orders TO PROGRAM 'touch {marker}'",
        f"COPY (SELECT 1) TO '{marker}'",
        "COPY mes.work_orders (work_order_id) FROM '/etc/passwd'",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_read_binary_file('/etc/passwd')",
        "SELECT pg_ls_dir('.')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT pg_reload_conf()",
        "ALTER SYSTEM SET log_statement = 'all'",
        "SET log_statement = 'all'",
        f"SET ROLE {PLANT}",
        f"SET ROLE {ADMIN}",
        f"SET SESSION AUTHORIZATION {PLANT}",
        f"GRANT {PLANT} TO CURRENT_USER",
        "CREATE ROLE intruder LOGIN SUPERUSER",
        "CREATE DATABASE stolen",
        "ALTER ROLE CURRENT_USER SUPERUSER",
        "ALTER ROLE CURRENT_USER CREATEROLE",
        "ALTER ROLE CURRENT_USER BYPASSRLS",
    ]
    for role in (INGESTION, READER):
        assert refused(pg, role, probes) == [], role
    assert not marker.exists()


@pytest.mark.parametrize("other", ["postgres", "template1"])
def test_the_roles_connect_to_the_plant_database_alone(pg, other):
    for role in (PLANT, INGESTION, READER):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(pg.conninfo(other, user=role, password=password(role)))


def test_the_plant_writes_its_tables_but_is_no_superuser(pg):
    marker = Path(tempfile.gettempdir()) / f"plantlake-probe-{uuid.uuid4().hex}"
    probes = [
        f"COPY mes.work_orders TO PROGRAM 'touch {marker}'",
        f"COPY (SELECT 1) TO '{marker}'",
        "COPY mes.work_orders (work_order_id) FROM '/etc/passwd'",
        "COPY mes.work_orders (work_order_id) FROM PROGRAM 'cat /etc/passwd'",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_ls_dir('.')",
        "SELECT lo_import('/etc/passwd')",
        "CREATE FUNCTION mes.f() RETURNS int LANGUAGE c AS '/bin/sh', 'main'",
        "CREATE FUNCTION mes.f() RETURNS int LANGUAGE internal AS 'int4in'",
        "CREATE EXTENSION file_fdw",
        "ALTER SYSTEM SET log_statement = 'all'",
        f"SET ROLE {ADMIN}",
        f"SET ROLE {INGESTION}",
        "CREATE ROLE intruder LOGIN SUPERUSER",
        "CREATE DATABASE stolen",
        "ALTER ROLE CURRENT_USER SUPERUSER",
        "ALTER ROLE CURRENT_USER CREATEROLE",
    ]
    assert refused(pg, PLANT, probes) == []
    assert not marker.exists()
    before = row_counts(pg)
    changes = [
        MesChange("mes.work_orders", "update", r.row | {"status": "started"}, 1)
        for r in ROWS
        if r.table == "mes.work_orders"
    ]
    changes.append(MesChange("erp.products", "insert", ROWS[0].row | {"product_id": "P-9"}, 1))
    writer = MesWriter(pg.conninfo(user=PLANT, password=password(PLANT)))
    try:
        assert writer.apply(changes) == 4
    finally:
        writer.close()
    assert row_counts(pg) == before | {"erp.products": before["erp.products"] + 1}
    with connect(pg, PLANT) as conn:
        assert conn.execute("SHOW is_superuser").fetchone() == ("off",)
        assert conn.execute(
            "SELECT count(*) FROM mes.work_orders WHERE status = 'started'"
        ).fetchone() == (3,)


def test_an_outsider_with_psql_and_the_ingestion_password_runs_no_program(pg):
    """Plain psql from the Debian package, the password in PGPASSWORD as a script would."""
    psql = shutil.which("psql")
    assert psql, "psql is missing: `make setup` installs the PostgreSQL client"
    marker = Path(tempfile.gettempdir()) / f"plantlake-probe-{uuid.uuid4().hex}"
    before = row_counts(pg)
    env = dict(os.environ, PGPASSWORD=password(INGESTION), PGPASSFILE=os.devnull)
    login = ["-X", "-v", "ON_ERROR_STOP=1", "-h", pg.host, "-p", str(pg.port), "-U", INGESTION]
    for probe, refusal in (
        (f"COPY mes.work_orders TO PROGRAM 'touch {marker}'", "must be superuser"),
        ("SELECT pg_read_file('/etc/passwd')", "permission denied for function pg_read_file"),
        ("DELETE FROM mes.work_orders", "permission denied for table work_orders"),
    ):
        done = subprocess.run(
            [psql, *login, "-d", "plant", "-c", probe],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode != 0 and refusal in done.stderr, (probe, done)
        assert "root:" not in done.stdout
    assert not marker.exists()
    assert row_counts(pg) == before
    done = subprocess.run(
        [psql, *login, "-d", "plant", "-tAc", "SELECT count(*) FROM mes.work_orders"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout.strip()) == (0, str(before["mes.work_orders"]))


def test_an_older_lake_whose_services_were_the_superuser_is_migrated():
    """Older plantlake: initdb's superuser `plantlake` made the MES schema and every service used
    it. The first `up` renames it, gives it the new admin password, and hands the tables to the
    plant; the old password logs in no more."""
    base = server_dir("plantlake-pg-legacy-")
    port = free_port()
    try:
        old = start_postgres(base / "pg", port, "plantlake", "old-pw", "plant", base / "pg.log")
        writer = MesWriter(old.conninfo())
        writer.apply(ROWS[:2])
        writer.close()
        old.stop()
        secret = PASSWORDS | {"postgres": "old-pw"}
        pg = start_database(base / "pg", port, "plant", secret, base / "pg.log")
        try:
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(old.conninfo())
            with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
                assert conn.execute(
                    "SELECT rolname, rolsuper FROM pg_roles WHERE oid = 10"
                ).fetchone() == (ADMIN, True)
                assert conn.execute(
                    "SELECT count(*) FROM pg_roles WHERE rolname IN ('plantlake', 'plantlake_rename')"
                ).fetchone() == (0,)
                owners = conn.execute(
                    "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                    "WHERE relnamespace IN ('mes'::regnamespace, 'erp'::regnamespace)"
                ).fetchall()
            assert owners == [(PLANT,)]
            with connect(pg, INGESTION) as conn:
                assert conn.execute("SELECT count(*) FROM erp.products").fetchone() == (2,)
        finally:
            pg.stop()
        # secrets.json replaced by one that made no role of this database: a clear refusal
        wrong = PASSWORDS | {"pg_admin": "not-this-one"}
        with pytest.raises(ServiceStartError, match="refused the password of 'plantlake_admin'"):
            start_database(base / "pg", port, "plant", wrong, base / "pg.log")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_rename_that_fails_half_way_leaves_no_helper_superuser(monkeypatch):
    """The password change fails after the rename: neither happens (one transaction), and the
    helper superuser is dropped all the same."""
    base = server_dir("plantlake-pg-rename-")
    pg = start_postgres(base / "pg", free_port(), "plantlake", "old-pw", "plant", base / "pg.log")
    try:
        scram = postgres._scram

        def fails_for_the_new_name(conn, role, password):
            if role == ADMIN:
                raise RuntimeError("the connection broke after the rename")
            return scram(conn, role, password)

        monkeypatch.setattr(postgres, "_scram", fails_for_the_new_name)
        with pytest.raises(RuntimeError, match="after the rename"):
            pg.rename_superuser(ADMIN, "new-pw")
        with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
            assert conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolsuper OR rolname = 'plantlake_rename'"
            ).fetchall() == [("plantlake",)]
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
