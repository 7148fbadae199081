"""Local services keep their secrets private and start wherever the project lives (issue 14,
items 3 and 7): the broker's password file is hashed and 0600 without the password ever on a
command line; PostgreSQL starts under a path far beyond the 107-byte Unix socket limit (it
listens on loopback TCP only) and refuses a wrong password."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from lakehouse.services.mosquitto import start_mosquitto
from lakehouse.services.postgres import start_postgres

pytestmark = pytest.mark.integration


def test_the_broker_password_file_is_private_and_hashed():
    base = Path(tempfile.mkdtemp(prefix="plantlake-mqtt-"))
    base.chmod(0o755)  # reachable by the broker's user (mosquitto) when we are root
    broker = start_mosquitto(base / "mosquitto", username="plant", password="s3cret-pw")
    try:
        passwd = base / "mosquitto" / "passwd"
        assert passwd.stat().st_mode & 0o777 == 0o600
        text = passwd.read_text()
        assert text.startswith("plant:$7$") and "s3cret-pw" not in text
    finally:
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_postgres_starts_under_a_deep_path_and_refuses_a_wrong_password(monkeypatch):
    # initdb keeps the locale it runs in for the server's messages; a refused password is told
    # by its English text, whatever that locale is
    monkeypatch.setenv("LC_MESSAGES", "C.UTF-8")
    base = Path(tempfile.mkdtemp(prefix="plantlake-deep-"))
    base.chmod(0o755)  # reachable by the server user when we are root
    deep = base / ("a-rather-long-folder-name-of-a-checkout-" * 4) / "lake" / "_workbench"
    assert len(str(deep / "postgres" / "sock" / ".s.PGSQL.54321")) > 107
    for part in [*reversed(deep.relative_to(base).parents), deep.relative_to(base)]:
        (base / part).mkdir(exist_ok=True)
        (base / part).chmod(0o755)
    pg = start_postgres(deep / "postgres", user="plant", password="right", dbname="plant")
    try:
        with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.execute("SHOW lc_messages").fetchone() == ("C",)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(pg.conninfo().replace("password=right", "password=wrong"))
        assert not (deep / "postgres" / "pwfile").exists()
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
