"""Accounts of the SQL endpoint: a users file of salted PBKDF2-HMAC-SHA256 hashes and each user's role.

The endpoint's JVM checks logins against the file and reads it again when it changes
(infra/readonly/src/org/plantlake/sql/SqlUsers.java), so `plantlake users add/remove` need no restart.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from lakehouse.catalog import LAYERS
from lakehouse.private import write_private

# The schemas (layers) each role reads; the endpoint passes them to its JVM as Spark settings.
ROLES: dict[str, tuple[str, ...]] = {"analyst": ("silver", "gold"), "engineer": LAYERS}
ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256 (2023)
SALT_BYTES = 16
HASH_BYTES = 32
# No '@' or '/': HiveServer2 cuts a login name there (Kerberos style), the role check would not.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
USERS_FILE = "sql-users.json"


class SqlUserError(ValueError):
    """A users-file request that cannot be done; the message says why."""


def users_file(lake_root: Path) -> Path:
    """Where the endpoint of the lake at `lake_root` keeps its accounts."""
    return Path(lake_root) / "_workbench" / USERS_FILE


def role_conf() -> dict[str, str]:
    """The Spark settings that tell the endpoint's read rule which schemas each role reads."""
    return {f"spark.plantlake.sql.role.{role}": ",".join(layers) for role, layers in ROLES.items()}


def hash_password(
    password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS
) -> dict:
    """The stored form of `password`: salt, iteration count and PBKDF2-HMAC-SHA256 hash (base64)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, HASH_BYTES)
    return {
        "salt": base64.b64encode(salt).decode(),
        "iterations": iterations,
        "hash": base64.b64encode(digest).decode(),
    }


def verify_password(entry: dict, password: str) -> bool:
    """Whether `password` matches a stored entry (compared in constant time)."""
    salt = base64.b64decode(entry["salt"])
    expected = base64.b64decode(entry["hash"])
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, entry["iterations"], len(expected))
    return hmac.compare_digest(got, expected)


def list_users(path: Path) -> list[tuple[str, str]]:
    """(name, role) of every account, by name; no hashes."""
    return sorted((name, entry["role"]) for name, entry in _read(path).items())


def check_new_user(name: str, role: str) -> None:
    """SqlUserError unless `name` is a valid login name and `role` one of ROLES."""
    if not NAME.fullmatch(name):
        raise SqlUserError(
            f"user name {name!r} is not allowed: a letter, then letters, digits, '_', '.' or '-' "
            f"(at most 64)"
        )
    if role not in ROLES:
        raise SqlUserError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")


def add_user(path: Path, name: str, role: str, password: str, *, replace: bool = False) -> None:
    """Add `name` with `role`; with `replace`, an existing account gets the new role and password."""
    check_new_user(name, role)
    if not password:
        raise SqlUserError("the password is empty")
    with _locked(path):
        users = _read(path)
        if name in users and not replace:
            raise SqlUserError(f"user {name!r} exists: remove it first, or use --replace")
        users[name] = {"role": role, **hash_password(password)}
        _write(path, users)


def remove_user(path: Path, name: str) -> None:
    """Remove `name`; its next login is refused, and so are the statements of its open sessions."""
    with _locked(path):
        users = _read(path)
        if name not in users:
            raise SqlUserError(f"no user {name!r} in {path}")
        del users[name]
        _write(path, users)


def start_users_file(path: Path, name: str, role: str, password: str) -> bool:
    """Make the users file with its first account `name`, unless the file exists: an account
    removed or given another password since stays so. True if the file was made."""
    with _locked(path):
        if path.exists():
            return False
        _write(path, {name: {"role": role, **hash_password(password)}})
        return True


def logs_in(path: Path, name: str, password: str) -> bool:
    """Whether the file has `name` and `password` is its password."""
    entry = _read(path).get(name)
    return entry is not None and verify_password(entry, password)


def _read(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    return json.loads(path.read_text())["users"]


def _write(path: Path, users: dict[str, dict]) -> None:
    text = json.dumps({"format": 1, "users": dict(sorted(users.items()))}, indent=1)
    write_private(path, text + "\n")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time: read, change and write the file under one lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
