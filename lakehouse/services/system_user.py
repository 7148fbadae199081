"""A local server run as an unprivileged system user when we are root (the Debian packages'
`postgres` and `mosquitto`): running it as that user, handing it its files, and checking that
it can reach them, as it opens them by path after giving up root."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from lakehouse.services.processes import ServiceStartError


def as_root() -> bool:
    return os.geteuid() == 0


def command_as(user: str, command: list[str]) -> list[str]:
    """`command`, run as `user` by runuser when we are root; unchanged otherwise."""
    return ["runuser", "-u", user, "--", *command] if as_root() else command


def popen_as(user: str) -> dict:
    """Popen arguments that make the started process itself run as `user` when we are root (no
    runuser in between: the process we start, signal and record is the server)."""
    if not as_root():
        return {}
    return {"user": user, "group": user, "extra_groups": []}


def hand_over(user: str, *paths: Path) -> None:
    """As root, give `paths` to `user` (owner and group); nothing otherwise."""
    if as_root():
        for path in paths:
            shutil.chown(path, user, user)


def check_reachable(user: str, folder: Path, what: str) -> None:
    """As root: `user` exists and may pass through every parent of `folder`; ServiceStartError
    naming `what` (e.g. "the broker") and the closed parent otherwise."""
    if not as_root():
        return
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise ServiceStartError(
            f"there is no `{user}` user for {what} to run as: run `make setup` "
            "(it installs the Debian package, which creates it)"
        ) from None
    for parent in Path(folder).parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise ServiceStartError(
                f"the {user} user cannot reach {folder}: {parent} is closed to other users; "
                f"put {what} under a folder others may traverse (e.g. a fresh "
                "tempfile.mkdtemp() made 0755)"
            )
