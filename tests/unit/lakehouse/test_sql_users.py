"""The SQL endpoint's users file and `plantlake users`: salted hashes, roles, no password kept or
printed; the endpoint's JVM checks the same hashes (tests/security/test_sql_endpoint_auth.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import stat

import pytest
from typer.testing import CliRunner

from lakehouse import cli
from lakehouse.settings import load_settings
from lakehouse.sql_users import (
    ROLES,
    SqlUserError,
    add_user,
    hash_password,
    list_users,
    remove_user,
    role_conf,
    users_file,
    verify_password,
)

runner = CliRunner()


def test_hash_password_is_pbkdf2_sha256_of_the_salt():
    entry = hash_password("pw", salt=b"s" * 16, iterations=1000)
    # RFC 8018 PBKDF2 with HMAC-SHA256, as Java's PBKDF2WithHmacSHA256 computes it
    expected = hashlib.pbkdf2_hmac("sha256", b"pw", b"s" * 16, 1000, 32)
    assert entry == {
        "salt": base64.b64encode(b"s" * 16).decode(),
        "iterations": 1000,
        "hash": base64.b64encode(expected).decode(),
    }
    assert verify_password(entry, "pw") and not verify_password(entry, "pW")


def test_each_user_gets_a_salt_of_its_own(tmp_path):
    path = users_file(tmp_path)
    add_user(path, "ann", "analyst", "same")
    add_user(path, "bob", "analyst", "same")
    users = json.loads(path.read_text())["users"]
    assert users["ann"]["salt"] != users["bob"]["salt"]
    assert users["ann"]["hash"] != users["bob"]["hash"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "same" not in path.read_text()


def test_add_refuses_a_bad_role_or_name_and_a_duplicate(tmp_path):
    path = users_file(tmp_path)
    with pytest.raises(SqlUserError, match="unknown role 'admin': choose one of analyst, engineer"):
        add_user(path, "ann", "admin", "pw")
    for name in ("ann@corp", "a/b", "_ann", ""):
        with pytest.raises(SqlUserError, match="is not allowed"):
            add_user(path, name, "analyst", "pw")
    with pytest.raises(SqlUserError, match="empty"):
        add_user(path, "ann", "analyst", "")
    add_user(path, "ann", "analyst", "pw")
    with pytest.raises(SqlUserError, match="exists"):
        add_user(path, "ann", "engineer", "pw2")
    add_user(path, "ann", "engineer", "pw2", replace=True)
    assert list_users(path) == [("ann", "engineer")]
    remove_user(path, "ann")
    assert list_users(path) == []
    with pytest.raises(SqlUserError, match="no user 'ann'"):
        remove_user(path, "ann")


def test_roles_reach_the_endpoint_as_spark_settings():
    assert ROLES["analyst"] == ("silver", "gold")
    assert role_conf() == {
        "spark.plantlake.sql.role.analyst": "silver,gold",
        "spark.plantlake.sql.role.engineer": "bronze,silver,gold,ops",
    }


@pytest.fixture
def cli_root(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "get_settings", lambda: load_settings(lake_root=tmp_path))
    monkeypatch.setattr(cli.console, "width", 200)
    return tmp_path


def test_users_cli_adds_lists_and_removes(cli_root):
    added = runner.invoke(
        cli.app, ["users", "add", "ann", "--role", "analyst", "--password-stdin"], input="s3cret\n"
    )
    assert added.exit_code == 0, added.output
    prompted = runner.invoke(
        cli.app, ["users", "add", "eve", "--role", "engineer"], input="pw-eve\npw-eve\n"
    )
    assert prompted.exit_code == 0, prompted.output
    users = json.loads(users_file(cli_root).read_text())["users"]
    assert verify_password(users["ann"], "s3cret") and verify_password(users["eve"], "pw-eve")
    listed = runner.invoke(cli.app, ["users", "list"])
    assert listed.exit_code == 0, listed.output
    rows = [line.split("│")[1:4] for line in listed.output.splitlines() if "│" in line]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["ann", "analyst", "silver, gold"],
        ["eve", "engineer", "bronze, silver, gold, ops"],
    ]
    assert users["ann"]["hash"] not in listed.output
    removed = runner.invoke(cli.app, ["users", "remove", "ann"])
    assert removed.exit_code == 0, removed.output
    assert list_users(users_file(cli_root)) == [("eve", "engineer")]


def test_users_cli_names_a_bad_role_before_asking_for_a_password(cli_root):
    result = runner.invoke(cli.app, ["users", "add", "ann", "--role", "boss"], input="")
    assert result.exit_code == 1
    assert "unknown role 'boss'" in result.output and "password" not in result.output.lower()
    assert not users_file(cli_root).exists()
