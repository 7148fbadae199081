"""Benchmark: every gold example query through the SQL endpoint against in-process Spark, same run.

The endpoint (`plantlake sql-endpoint`, its own process) answers each example query of every gold
table N times through the DB-API client (impyla); then the endpoint stops and the same queries
run N times in this process with `spark.sql(...).collect()` (the baseline). Each query runs once
untimed first on both sides. Prints the median and p90 latency per query and overall, and the
endpoint/in-process ratios. The analyst's goal (DESIGN.md): a gold query answered in about a second.

    .venv/bin/python benchmarks/sql_endpoint.py [--lake ./lake] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from lakehouse.catalog import all_tables
from lakehouse.services.ports import free_port, stop_process

Example = tuple[str, str, str]  # table, title, sql


def gold_examples(lake_root: Path) -> list[Example]:
    """Every gold example query whose tables exist in the lake."""
    examples = []
    for spec in all_tables("gold"):
        if not (lake_root / spec.layer / spec.name / "_delta_log").is_dir():
            continue
        for number, sql in enumerate(spec.examples, 1):
            first = sql.strip().splitlines()[0]
            title = first.lstrip("- ") if first.startswith("--") else f"example {number}"
            examples.append((spec.full_name, title, sql))
    return examples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_runs(run, sql: str, runs: int) -> list[float]:
    run(sql)  # untimed: first planning and caches
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        run(sql)
        seconds.append(time.perf_counter() - started)
    return seconds


def through_endpoint(lake_root: Path, examples: list[Example], runs: int, env: dict) -> list:
    from lakehouse.sql_endpoint import connect
    from lakehouse.sql_users import add_user, remove_user, users_file

    # an analyst account for this run only, removed again at the end
    user, password = f"bench-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    add_user(users_file(lake_root), user, "analyst", password)
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="plantlake-bench-endpoint-", suffix=".log")[1])
    process = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.cli", "sql-endpoint", "--port", str(port)],
        env=dict(env, PLANTLAKE_LAKE_ROOT=str(lake_root)),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        started = time.perf_counter()
        while "ready" not in log.read_text():
            if process.poll() is not None or time.perf_counter() - started > 600:
                raise RuntimeError(f"the endpoint did not start; log {log}")
            time.sleep(0.5)
        print(f"endpoint ready in {time.perf_counter() - started:.0f} s", flush=True)
        with closing(connect(port, user, password)) as conn, closing(conn.cursor()) as cur:

            def run(sql: str) -> None:
                cur.execute(sql)
                cur.fetchall()

            return [time_runs(run, sql, runs) for _, _, sql in examples]
    finally:
        stop_process(process, timeout_s=60)
        log.unlink(missing_ok=True)
        remove_user(users_file(lake_root), user)


def in_process(lake_root: Path, examples: list[Example], runs: int) -> list:
    from lakehouse.lake import open_lake
    from lakehouse.settings import load_settings

    lake = open_lake(load_settings(lake_root=lake_root))
    return [time_runs(lambda q: lake.spark.sql(q).collect(), sql, runs) for _, _, sql in examples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, default=Path("lake"), help="lake root (make demo's)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query and side")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    lake_root = args.lake.resolve()
    examples = gold_examples(lake_root)
    if not examples:
        print(f"skipped: no gold tables in {lake_root}; run `make demo` first or pass --lake")
        return
    print(f"{len(examples)} gold example queries, {args.runs} timed runs each, lake {lake_root}")
    endpoint = through_endpoint(lake_root, examples, args.runs, dict(os.environ))
    baseline = in_process(lake_root, examples, args.runs)

    print(f"\n{'table':<28} {'query':<58} {'endpoint ms':>17} {'in-process ms':>17} {'ratio':>6}")
    print(f"{'':<28} {'':<58} {'median':>8} {'p90':>8} {'median':>8} {'p90':>8} {'':>6}")
    for (table, title, _), ep, base in zip(examples, endpoint, baseline, strict=True):
        ep_med, base_med = statistics.median(ep), statistics.median(base)
        print(
            f"{table:<28} {title[:58]:<58} {1000 * ep_med:>8.0f} "
            f"{1000 * percentile(ep, 0.9):>8.0f} {1000 * base_med:>8.0f} "
            f"{1000 * percentile(base, 0.9):>8.0f} {ep_med / base_med:>6.2f}"
        )
    all_ep = [s for runs in endpoint for s in runs]
    all_base = [s for runs in baseline for s in runs]
    print(
        f"\n{'overall':<87} {1000 * statistics.median(all_ep):>8.0f} "
        f"{1000 * percentile(all_ep, 0.9):>8.0f} {1000 * statistics.median(all_base):>8.0f} "
        f"{1000 * percentile(all_base, 0.9):>8.0f} "
        f"{statistics.median(all_ep) / statistics.median(all_base):>6.2f}"
    )


if __name__ == "__main__":
    main()
