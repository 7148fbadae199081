"""`dagster dev` with its webserver on a Unix socket (dagster-webserver has no option for one), so
only the workbench's front door reaches it: `python -m orchestration.workbench.dagster_socket
SOCKET <dagster dev options>`. The daemon and the code server run as `dagster dev` runs them."""

from __future__ import annotations

import sys
from types import SimpleNamespace

MODULE = "orchestration.workbench.dagster_socket"  # __name__ is __main__ under -m
WEBSERVER = "webserver"


def webserver(socket: str, argv: list[str]) -> None:
    """dagster-webserver's own command line, its uvicorn bound to `socket` instead of host:port."""
    import logging

    import dagster_webserver.cli as cli
    import uvicorn

    def run(app, **options) -> None:
        logging.getLogger("dagster-webserver").info("serving on the Unix socket %s", socket)
        uvicorn.run(app, uds=socket, log_level=options.get("log_level", "warning"))

    cli.uvicorn = SimpleNamespace(run=run)
    sys.argv = ["dagster-webserver", *argv]
    cli.main()


def dev(socket: str, argv: list[str]) -> None:
    """`dagster dev`, which starts its webserver as `python -m dagster_webserver …`: that command
    becomes this module's webserver on `socket`."""
    import dagster._cli.dev as dagster_dev

    open_subprocess = dagster_dev.open_ipc_subprocess

    def open_ipc_subprocess(command, **options):
        if list(command[1:3]) == ["-m", "dagster_webserver"]:
            command = [command[0], "-m", MODULE, WEBSERVER, socket, *command[3:]]
        return open_subprocess(command, **options)

    dagster_dev.open_ipc_subprocess = open_ipc_subprocess
    dagster_dev.dev_command(args=argv, prog_name="dagster dev")


def main(argv: list[str]) -> None:
    if argv[:1] == [WEBSERVER]:
        webserver(argv[1], argv[2:])
    else:
        dev(argv[0], argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
