"""Files only their owner may read (secrets, tokens, password files), private from the start."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: str | bytes) -> Path:
    """Write `path` atomically with mode 0600 from its creation: no moment in which another
    local user could open it (a chmod after writing leaves one)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data.encode() if isinstance(data, str) else data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return path


# What every plantlake command creates: files 0600, folders 0700 (Spark's files too, through
# Hadoop's own umask in lakehouse.spark).
OWNER_ONLY_UMASK = 0o077


def make_owner_only(root: Path) -> int:
    """Take group and other rights off everything under `root` (files and folders made before
    plantlake created them owner-only, or by another tool); returns how many were changed."""
    changed = 0
    for folder, dirs, files in os.walk(root):
        for path in (folder, *(os.path.join(folder, name) for name in (*dirs, *files))):
            try:
                mode = os.lstat(path).st_mode
                if mode & 0o077 and not os.path.islink(path):
                    os.chmod(path, mode & ~0o077 & 0o7777)
                    changed += 1
            except FileNotFoundError:  # removed meanwhile (a writer's temporary file)
                continue
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return changed
