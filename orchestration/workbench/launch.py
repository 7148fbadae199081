"""`python -m orchestration.workbench.launch plant run …`: a plantlake command for the workbench,
with asyncua held to warnings. At INFO it logs every OPC UA notification in full (megabytes a
minute in a log that runs for days); the commands themselves log at INFO."""

import logging
import sys

if __name__ == "__main__":
    logging.getLogger("asyncua").setLevel(logging.WARNING)
    from lakehouse.cli import app

    sys.argv[0] = "plantlake"
    app()
