# plantlake: every verb is a one-liner; the logic lives in infra/ scripts and the plantlake CLI.
SHELL := /bin/bash
PY := .venv/bin/python
export SPARK_LOCAL_IP := 127.0.0.1

.PHONY: setup demo test fuzz lint format lock bench clean up down screenshots

setup:            ## idempotent: Debian packages, .venv, JVM jars
	@infra/setup.sh

demo: setup       ## the main job, end to end
	@.venv/bin/plantlake demo --fresh

test: setup       ## the whole test suite
	@.venv/bin/pytest

fuzz: setup       ## the connectors' decoders under a long property-based run (FUZZ_EXAMPLES per target)
	@HYPOTHESIS_PROFILE=fuzz .venv/bin/pytest -m fuzz -p no:cacheprovider --timeout=0 --durations=0 --hypothesis-show-statistics

up: setup         ## the workbench on 127.0.0.1: broker, database, live plant, ingestion, Dagster, MLflow, JupyterLab, SQL (TLS=1: MQTT over TLS)
	@.venv/bin/plantlake up $(if $(filter 1,$(TLS)),--tls)

down:             ## stop exactly what `make up` started
	@.venv/bin/plantlake down

screenshots: setup  ## PNGs of the Dagster asset graph and MLflow (headless Chromium) under <lake>/_workbench/screenshots
	@infra/screenshots.sh

lint: setup
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

format: setup
	@.venv/bin/ruff check --fix . && .venv/bin/ruff format .

lock: setup       ## re-resolve infra/requirements.lock (with hashes) from pyproject.toml, and uv's own pin
	@.venv/bin/uv pip compile -q --no-header --generate-hashes --python $(PY) pyproject.toml --extra dev --override infra/overrides.txt -o infra/requirements.lock
	@.venv/bin/uv pip compile -q --no-header --generate-hashes infra/uv.in -o infra/uv.lock.txt

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf lake .pytest_cache
