"""The workbench's MES/ERP database: one login role per use, declared here, and the superuser
kept for `plantlake up` alone (issue 14). A lake made by an older plantlake, whose services all
logged in as the superuser `plantlake`, is migrated on its first `up`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lakehouse.services.ports import ServiceStartError
from lakehouse.services.postgres import PasswordRefused, Postgres, Role, start_postgres

ADMIN = "plantlake_admin"  # the initdb superuser: makes the roles and the database, nothing else
PLANT = "plant"  # the simulator: owns the MES/ERP schemas and writes them
INGESTION = "ingestion"  # the extractor: SELECT on the tables it extracts
READER = "reader"  # people: SELECT on every MES/ERP table
LEGACY_SUPERUSER, LEGACY_SECRET = "plantlake", "postgres"  # an older lake's superuser


def secret_name(role: str) -> str:
    """The workbench secret (secrets.json) holding `role`'s password."""
    return "pg_admin" if role == ADMIN else f"pg_{role}"


SECRETS = tuple(secret_name(r) for r in (ADMIN, PLANT, INGESTION, READER))


def roles() -> tuple[Role, ...]:
    """Who may do what in the MES/ERP database."""
    from orchestration.live import MES_TABLES
    from plant.servers.mes import PRIMARY_KEYS

    return (
        Role(PLANT, owns=("erp", "mes")),
        Role(INGESTION, reads=tuple(t["table"] for t in MES_TABLES)),
        Role(READER, reads=tuple(PRIMARY_KEYS)),
    )


def start_database(
    data_dir: Path, port: int, dbname: str, secret: Mapping[str, str], log_file: Path
) -> Postgres:
    """Start the database as its superuser, make every role of `roles()`, the MES/ERP schema as
    the plant, and the read grants; an older lake's superuser is renamed on the way."""
    from plant.servers.mes import MesWriter

    declared = roles()
    pg = _start_as_admin(data_dir, port, dbname, secret, log_file)
    try:
        pg.ensure_roles(declared, {r.name: secret[secret_name(r.name)] for r in declared})
        # the MES schema exists, owned by the plant, before the extractor's first poll
        MesWriter(pg.conninfo(user=PLANT, password=secret[secret_name(PLANT)])).close()
        pg.grant_reads(declared)
    except BaseException:
        pg.stop()
        raise
    return pg


def _start_as_admin(
    data_dir: Path, port: int, dbname: str, secret: Mapping[str, str], log_file: Path
) -> Postgres:
    admin_password = secret[secret_name(ADMIN)]
    try:
        return start_postgres(data_dir, port, ADMIN, admin_password, dbname, log_file)
    except PasswordRefused:
        if LEGACY_SECRET not in secret:
            raise ServiceStartError(
                f"the MES/ERP database in {data_dir} refused the password of {ADMIN!r} kept in "
                "secrets.json: was the file replaced? Put back the one that made the database, "
                "or delete the database's folder to start it anew (the plant writes it again)"
            ) from None
    try:
        pg = start_postgres(
            data_dir, port, LEGACY_SUPERUSER, secret[LEGACY_SECRET], dbname, log_file
        )
    except PasswordRefused:
        raise ServiceStartError(
            f"the MES/ERP database in {data_dir} refuses both {ADMIN!r} and the older "
            f"{LEGACY_SUPERUSER!r} with the passwords of secrets.json; delete the database's "
            "folder to start it anew (the plant writes it again)"
        ) from None
    try:
        pg.rename_superuser(ADMIN, admin_password)
    except BaseException:
        pg.stop()
        raise
    return pg
