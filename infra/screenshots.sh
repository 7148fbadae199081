#!/usr/bin/env bash
# PNG screenshots of the workbench's Dagster asset graph and MLflow experiments, taken with
# headless Chromium (the Debian package, installed here when missing) into
# <lake>/_workbench/screenshots/. Starts the workbench first when it is not running.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  echo "screenshots: installing the Debian package chromium"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium \
    >/tmp/plantlake-apt-chromium.log 2>&1 || { cat /tmp/plantlake-apt-chromium.log; exit 1; }
fi

export SPARK_LOCAL_IP=127.0.0.1
.venv/bin/plantlake up  # the table of services, or what is already running
exec .venv/bin/python -m orchestration.workbench.screenshots "$@"
