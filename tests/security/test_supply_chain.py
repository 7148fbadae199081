"""Supply chain (issue 14, item 6): every locked distribution carries the hashes of its files,
setup installs with hash checking, and uv itself is pinned by hash."""

from __future__ import annotations

import re

from lakehouse.settings import REPO_ROOT

INFRA = REPO_ROOT / "infra"


def _requirements(path) -> dict[str, list[str]]:
    """name==version -> its hashes, from a `uv pip compile --generate-hashes` file."""
    out: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if re.match(r"^[A-Za-z0-9][\w.-]*==", line):
            current = line.split()[0]
            out[current] = []
        elif current and (m := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            out[current].append(m.group(1))
    return out


def test_every_locked_distribution_has_its_hashes():
    locked = _requirements(INFRA / "requirements.lock")
    assert len(locked) > 100
    assert [name for name, hashes in locked.items() if not hashes] == []


def test_uv_is_pinned_by_hash_and_setup_checks_hashes():
    (uv,) = _requirements(INFRA / "uv.lock.txt").items()
    assert uv[0].startswith("uv==") and uv[1]
    setup = (INFRA / "setup.sh").read_text()
    assert "--require-hashes -r infra/uv.lock.txt" in setup
    assert "--require-hashes -r infra/requirements.lock" in setup
    assert "pip install -q uv\n" not in setup
