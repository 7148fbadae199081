"""The lake is its owner's alone (issue 14, item 3): Spark writes Delta files 0600 in 0700
folders whatever the process's umask, and `make_owner_only` closes what was made open before;
Spark's own ports ask for a secret (issue 14 review)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lakehouse.private import make_owner_only


def modes(root: Path) -> dict[str, int]:
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = Path(folder, name)
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_spark_writes_delta_files_for_the_owner_only(spark, tmp_path):
    previous = os.umask(0o022)  # a caller's umask that would open files to everyone
    try:
        spark.range(5).write.format("delta").save(str(tmp_path / "t"))
        spark.sql(f"INSERT INTO delta.`{tmp_path / 't'}` VALUES (9)")
    finally:
        os.umask(previous)
    written = modes(tmp_path / "t")
    assert any(name.endswith(".parquet") for name in written)
    assert any(name.startswith("_delta_log/0000") for name in written)
    assert {name: oct(mode) for name, mode in written.items() if mode & 0o077} == {}


def test_make_owner_only_closes_files_and_folders_made_open(tmp_path):
    (tmp_path / "lake" / "gold" / "t").mkdir(parents=True)
    for folder in ("lake", "lake/gold", "lake/gold/t"):
        (tmp_path / folder).chmod(0o755)
    data = tmp_path / "lake" / "gold" / "t" / "part-0.parquet"
    data.write_bytes(b"x")
    data.chmod(0o644)
    config = tmp_path / "lake" / "ingestion.yaml"
    config.write_text("sources: []")
    config.chmod(0o666)
    outside = tmp_path / "outside"
    outside.write_text("not ours to change")
    outside.chmod(0o644)
    (tmp_path / "lake" / "link").symlink_to(outside)

    assert make_owner_only(tmp_path / "lake") >= 4
    assert {
        n: oct(m) for n, m in modes(tmp_path / "lake").items() if m & 0o077 and n != "link"
    } == {}
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a link is not followed
    assert make_owner_only(tmp_path / "lake") == 0


def test_spark_ports_ask_for_a_secret_that_is_on_no_command_line(spark):
    """Spark's RPC and block-manager ports on loopback: a local user without the application's
    secret (made by Spark for a local master, kept in the JVM) is not served."""
    import psutil

    security = spark.sparkContext._jsc.sc().env().securityManager()
    assert security.isAuthenticationEnabled()
    secret = security.getSecretKey()
    assert secret and len(secret) >= 32
    shown = []
    for proc in psutil.Process().children(recursive=True):
        try:
            shown.append(" ".join(proc.cmdline()))
        except psutil.Error:
            continue
    assert shown and not [line for line in shown if secret in line]
