"""PostgreSQL on a loopback port, in a cluster of its own, with a password-authenticated role.

The role `start_postgres` is given is the cluster's superuser; `Postgres.ensure_roles` and
`Postgres.grant_reads` make the login roles services use, each with only the rights its `Role`
declares.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from lakehouse.private import write_private
from lakehouse.services.ports import LOOPBACK, free_port
from lakehouse.services.processes import ServiceStartError, spawn, stop_process, wait_ready
from lakehouse.services.system_user import check_reachable, command_as, hand_over, popen_as

SYSTEM_USER = "postgres"  # created by the Debian package; the server refuses to run as root


class PasswordRefused(ServiceStartError):
    """The server runs but refused the role's password (or the role does not exist)."""


@dataclass(frozen=True)
class Role:
    """A login role of the database and everything it may do there: no superuser, CREATEDB,
    CREATEROLE, REPLICATION or BYPASSRLS, no role memberships, no right by way of PUBLIC.

    `owns`: schemas it creates and owns, with their tables (and so CREATE on the database).
    `reads`: tables ("schema.table") it may SELECT, with USAGE on their schemas.
    """

    name: str
    owns: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()


def postgres_bindir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not versions:
        raise ServiceStartError(
            "PostgreSQL is not installed: run `make setup` (it installs the Debian package)"
        )
    return versions[-1].parent


@dataclass
class Postgres:
    """A server we started; as root it runs as the `postgres` system user."""

    data_dir: Path
    port: int
    user: str
    password: str
    dbname: str = "plant"
    host: str = LOOPBACK
    log_file: Path | None = None  # default: postgres.log in data_dir
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.log_file or self.data_dir / "postgres.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def conninfo(
        self, dbname: str | None = None, user: str | None = None, password: str | None = None
    ) -> str:
        """libpq conninfo of the superuser, or of `user` with `password`."""
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            dbname=dbname or self.dbname,
            user=user or self.user,
            password=password if user else self.password,
        )

    def _init(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        hand_over(SYSTEM_USER, self.data_dir)
        pwfile = write_private(self.data_dir / "pwfile", self.password + "\n")
        hand_over(SYSTEM_USER, pwfile)
        done = subprocess.run(
            command_as(
                SYSTEM_USER,
                [
                    str(postgres_bindir() / "initdb"),
                    "-D",
                    str(self.data_dir / "pgdata"),
                    "-U",
                    self.user,
                    "--pwfile",
                    str(pwfile),
                    "-A",
                    "scram-sha-256",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
            ),
            capture_output=True,
            text=True,
        )
        pwfile.unlink()
        if done.returncode:
            raise ServiceStartError(f"initdb failed in {self.data_dir}: {done.stderr[-2000:]}")

    def start(self) -> Postgres:
        if not (self.data_dir / "pgdata" / "PG_VERSION").exists():
            self._init()
        self.process = spawn(
            [
                str(postgres_bindir() / "postgres"),
                "-D",
                str(self.data_dir / "pgdata"),
                "-h",
                LOOPBACK,
                "-p",
                str(self.port),
                # no Unix-domain socket: every client comes by TCP on loopback, and a socket
                # path under a deep checkout exceeds the 107-byte limit
                "-k",
                "",
                # the server's messages in English whatever the locale initdb was run in: a
                # refused password is told by its text (libpq gives no SQLSTATE for a failed
                # connection)
                "-c",
                "lc_messages=C",
            ],
            self.log,
            # the server itself, not runuser: runuser, signalled, kills its child two seconds
            # later, mid-checkpoint, and the lock file left keeps the next start out
            **popen_as(SYSTEM_USER),
        )
        hand_over(SYSTEM_USER, self.log)
        wait_ready("postgres", self._make_database, self.process, self.log, timeout_s=30)
        return self

    def _make_database(self) -> bool:
        """Whether the server takes connections; makes `dbname` on the first. PasswordRefused
        (the server stopped) if it refuses the role's password."""
        try:
            with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
                if not conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [self.dbname]
                ).fetchone():
                    conn.execute(f'CREATE DATABASE "{self.dbname}"')
            return True
        except psycopg.OperationalError as exc:
            if "password authentication failed" not in str(exc):
                return False
        self.stop()
        raise PasswordRefused(
            f"PostgreSQL in {self.data_dir} refused the password of role {self.user!r}"
        )

    def stop(self) -> None:
        stop_process(self.process, timeout_s=30)  # SIGTERM: a smart shutdown

    # -- roles -------------------------------------------------------------------------------------
    def ensure_roles(self, roles: Sequence[Role], passwords: Mapping[str, str]) -> None:
        """Create or update every role (attributes, SCRAM password) so that it has exactly the
        rights its declaration gives on this database, hand it the schemas it owns (and their
        tables, should another role own them), and take PUBLIC's default rights away.

        Idempotent. Tables are read-granted by `grant_reads`, once their owner has made them.
        """
        if self.user in {r.name for r in roles}:
            raise ValueError(f"{self.user!r} is the superuser: it cannot be a service's role")
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            for statement in _role_statements(conn, self.dbname, roles, passwords):
                conn.execute(statement)

    def grant_reads(self, roles: Sequence[Role]) -> None:
        """SELECT on every table a role `reads`, USAGE on their schemas, and no other right on
        the tables of those schemas. Raises ServiceStartError naming tables that do not exist."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            for role in roles:
                missing = [
                    t
                    for t in role.reads
                    if conn.execute("SELECT to_regclass(%s)", [t]).fetchone()[0] is None
                ]
                if missing:
                    raise ServiceStartError(
                        f"cannot let role {role.name!r} read {', '.join(missing)}: no such table in "
                        f"database {self.dbname!r} (its owner makes the schema first)"
                    )
                name = sql.Identifier(role.name)
                for schema in sorted({t.split(".")[0] for t in role.reads} - set(role.owns)):
                    conn.execute(
                        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                            sql.Identifier(schema), name
                        )
                    )
                    conn.execute(
                        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(
                            sql.Identifier(schema), name
                        )
                    )
                if role.reads:
                    tables = sql.SQL(", ").join(sql.Identifier(*t.split(".")) for t in role.reads)
                    conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(tables, name))

    def rename_superuser(self, name: str, password: str) -> None:
        """Give the initdb superuser a new name and password (a lake of an older plantlake gave
        it to every service): the old name and password log in no more. A helper superuser does
        the renaming, as PostgreSQL renames no role of the session doing it; both changes are one
        transaction. The helper expires a minute after it is made and is dropped over the
        superuser's own connection, opened before the rename, whatever happens."""
        helper, helper_password = "plantlake_rename", secrets.token_urlsafe(16)
        with psycopg.connect(self.conninfo(), autocommit=True) as admin:
            expires = admin.execute("SELECT (now() + interval '1 minute')::text").fetchone()[0]
            admin.execute(
                sql.SQL("CREATE ROLE {} SUPERUSER LOGIN PASSWORD {} VALID UNTIL {}").format(
                    sql.Identifier(helper),
                    sql.Literal(_scram(admin, helper, helper_password)),
                    sql.Literal(expires),
                )
            )
            try:
                with (
                    psycopg.connect(self.conninfo(user=helper, password=helper_password)) as conn,
                    conn.transaction(),
                ):
                    conn.execute(
                        sql.SQL("ALTER ROLE {} RENAME TO {}").format(
                            sql.Identifier(self.user), sql.Identifier(name)
                        )
                    )
                    conn.execute(
                        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                            sql.Identifier(name), sql.Literal(_scram(conn, name, password))
                        )
                    )
                self.user, self.password = name, password
            finally:
                # the session of `admin` outlives its role's rename: it still may drop the helper
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(helper)))


def _scram(conn: psycopg.Connection, role: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of `password`, made by libpq on the client: the password itself
    never reaches the server's statements (nor, on an error, its log)."""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


def _role_statements(
    conn: psycopg.Connection, dbname: str, roles: Sequence[Role], passwords: Mapping[str, str]
) -> Iterator[sql.Composable]:
    """What `ensure_roles` runs, from the declarations and what the server already holds."""
    db = sql.Identifier(dbname)
    yield sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db)
    others = conn.execute(
        "SELECT datname FROM pg_database WHERE datallowconn AND datname <> %s", [dbname]
    ).fetchall()
    for (other,) in others:  # `postgres`, `template1`: PUBLIC may connect there by default
        yield sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
            sql.Identifier(other)
        )
    yield sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    for role in roles:
        name = sql.Identifier(role.name)
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role.name]).fetchone()
        yield sql.SQL(
            "{} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
            "PASSWORD {}"
        ).format(
            sql.SQL("ALTER" if exists else "CREATE"),
            name,
            sql.Literal(_scram(conn, role.name, passwords[role.name])),
        )
        granted = conn.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s",
            [role.name],
        ).fetchall()
        for (group,) in granted:
            yield sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), name)
        yield sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(db, name)
        rights = "CONNECT, CREATE" if role.owns else "CONNECT"
        yield sql.SQL("GRANT {} ON DATABASE {} TO {}").format(sql.SQL(rights), db, name)
        for schema in role.owns:
            if not conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]
            ).fetchone():
                continue  # the role makes it
            yield sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), name)
            tables = conn.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace "
                "AND relkind IN ('r', 'p', 'v', 'm', 'f')",
                [schema],
            ).fetchall()
            for (table,) in tables:
                yield sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                    sql.Identifier(schema, table), name
                )


def start_postgres(
    data_dir: Path,
    port: int | None = None,
    user: str = "plantlake",
    password: str = "plantlake",
    dbname: str = "plant",
    log_file: Path | None = None,
) -> Postgres:
    """Start (initialising on first use) a PostgreSQL server on 127.0.0.1.

    It runs in a session of its own, so it outlives its caller until `stop()` or a signal to its PID.
    """
    data_dir = Path(data_dir).resolve()
    check_reachable(SYSTEM_USER, data_dir, "the database")
    return Postgres(
        data_dir, port or free_port(), user, password, dbname, log_file=log_file
    ).start()
