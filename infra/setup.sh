#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: Debian packages, the Python venv, the JVM jars.
# A second run on a ready machine only checks, in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
DEBIAN_PACKAGES=(mosquitto mosquitto-clients postgresql openjdk-17-jdk-headless maven caddy)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  # The packages' own services are not wanted: plantlake starts its own on loopback ports.
  echo exit 101 | $SUDO tee /usr/sbin/policy-rc.d >/dev/null; $SUDO chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/plantlake-apt.log 2>&1 \
    || { cat /tmp/plantlake-apt.log; exit 1; }
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

stamp=.venv/.plantlake-installed
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
# uv is pinned, and pip checks the hash of its wheel (infra/uv.lock.txt).
if [ ! -x .venv/bin/uv ] || ! grep -q "^uv==$(.venv/bin/uv --version | cut -d' ' -f2) " infra/uv.lock.txt; then
  .venv/bin/pip install -q --require-hashes -r infra/uv.lock.txt
fi
# Reinstall only when the dependency declaration or the lock changed.
# infra/requirements.lock is the whole resolved set with the hash of every file (`make lock`
# rewrites it); installing it with --no-deps and --require-hashes gives every fresh clone the
# same versions and refuses a file whose bytes differ from the ones locked.
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ infra/requirements.lock -nt "$stamp" ]; then
  echo "setup: installing plantlake and its locked dependencies into .venv"
  .venv/bin/uv pip install -q --python .venv/bin/python --no-deps --require-hashes -r infra/requirements.lock
  .venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .
  touch "$stamp"
fi

jar_stamp=infra/jars/.resolved
if [ ! -f "$jar_stamp" ] || [ infra/pom.xml -nt "$jar_stamp" ]; then
  echo "setup: resolving JVM jars with Maven (infra/pom.xml -> infra/jars/)"
  rm -rf infra/jars
  mvn -q -B -Dstyle.color=never -f infra/pom.xml dependency:copy-dependencies
  touch "$jar_stamp"
fi
# The SQL endpoint's read-only rule (infra/readonly/src), compiled against pyspark's own jars.
# Rebuilt only when its source or the pyspark version changed.
readonly_jar=infra/readonly/build/plantlake-readonly.jar
spark_jars=$(.venv/bin/python -c 'import pyspark, pathlib; print(pathlib.Path(pyspark.__file__).parent / "jars")')
readonly_key=$(cat infra/readonly/src/org/plantlake/sql/*.java <(ls "$spark_jars") | sha256sum | cut -c1-16)
if [ ! -f "$readonly_jar" ] || [ "$(cat infra/readonly/build/.key 2>/dev/null)" != "$readonly_key" ]; then
  echo "setup: compiling the SQL endpoint's read-only rule (infra/readonly -> $readonly_jar)"
  classes=$(mktemp -d)
  javac -nowarn --release 17 -cp "$spark_jars/*" -d "$classes" infra/readonly/src/org/plantlake/sql/*.java
  mkdir -p infra/readonly/build
  jar --create --file "$readonly_jar.tmp" -C "$classes" . && mv "$readonly_jar.tmp" "$readonly_jar"
  rm -rf "$classes"
  echo "$readonly_key" > infra/readonly/build/.key
fi
echo "setup: ready ($(ls infra/jars/*.jar | wc -l) jars, $(.venv/bin/python --version))"
