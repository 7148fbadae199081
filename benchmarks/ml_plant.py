"""Benchmark: the plant's two models on 63 days of history, beside their baselines and the
ceiling — an oracle that scores the same holdout rows with the simulator's own truth.

The history is the simulated plant (seed 1, analog tags every 5 minutes) built into bronze,
silver and gold by the Dagster `refresh` job, as the tests' 14-day lake is. Both models train
as the weekly Dagster job trains them (`train_maintenance`, `train_quality`: the last 30 % of
the time range held out), in the benchmark's own lake and MLflow store. The oracle
(`plant.oracle`) knows each machine's true wear and wear rate and each part's true defect
probability, but not the breakdown threshold nor anything drawn after the hour: no model that
reads the lake can do better on average. Its metrics are logged into each model's MLflow run
(`oracle_*`). Goal: the maintenance model closes at least half of the PR-AUC gap between the
base rate and the oracle.

    .venv/bin/python benchmarks/ml_plant.py [--days 63] [--keep DIR]
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import typer

from lakehouse.lake import open_lake
from lakehouse.settings import load_settings
from ml import evaluate, registry
from ml.labels import RUL

FIRST_DAY = date(2026, 1, 5)
SEED = 1
SAMPLE_S = 300
RUL_GRID_H = 3  # the oracle's expected remaining life: survival summed every 3 hours


def _metrics(y, p, w=None) -> dict[str, float]:
    m = evaluate.classification_metrics(y, p, 0.5, w)
    return {k: m[k] for k in ("pr_auc", "roc_auc", "brier", "log_loss", "positive_rate")}


def expected_rul(plant, ids, hours, cap: float) -> np.ndarray:
    """E[min(T, cap)] = ∫₀^cap P(no failure within h) dh from the oracle (trapezoid, 3 h)."""
    from plant.oracle import failure_probability

    grid = np.arange(0.0, cap + RUL_GRID_H / 2, RUL_GRID_H)
    survive = [np.ones(len(ids))]
    survive += [1 - failure_probability(plant, ids, hours, horizon_h=h) for h in grid[1:]]
    return np.trapezoid(np.vstack(survive), grid, axis=0)


def _gap(model: float, base: float, oracle: float) -> float:
    return (model - base) / (oracle - base) if oracle > base else float("nan")


def main(
    days: int = typer.Option(63, help="days of history (the goal asks for at least 60)"),
    keep: Path | None = typer.Option(None, help="build the lake here and keep it (re-used)"),
) -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from orchestration.history import build_history
    from plant.config import load_plant_config
    from plant.model import PlantModel
    from plant.oracle import defect_oracle, failure_probability

    root = keep or Path(tempfile.mkdtemp(prefix="plantlake-bench-ml-"))
    try:
        settings = load_settings(
            lake_root=root / "lake", spark_master="local[2]", spark_shuffle_partitions=4
        )
        lake = open_lake(settings)
        t0 = time.perf_counter()
        if not (lake.exists("gold.asset_health_features") and keep):
            lake.create_all()
            h = build_history(lake, first_day=FIRST_DAY, days=days, seed=SEED, sample_s=SAMPLE_S)
            print(
                f"history: {days} days, {h.readings:,} readings, {h.failures} failures; "
                f"generate {h.seconds_generate:.0f} s, load {h.seconds_load:.0f} s, "
                f"silver+gold through Dagster {h.seconds_build:.0f} s"
            )
        registry.configure(lake.root, settings)
        from ml.maintenance import train_maintenance
        from ml.quality import train_quality

        t1 = time.perf_counter()
        m = train_maintenance(lake)
        q = train_quality(lake)
        print(f"training both models: {time.perf_counter() - t1:.0f} s")

        start_s = int(
            datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC).timestamp()
        )
        plant = PlantModel(load_plant_config(), SEED, start_s, start_s + days * 86400)

        # maintenance: P(failure within 24 h), on the classifier's holdout rows
        clf = m.classifier
        hold = clf.holdout
        y = hold[clf.problem.label_col].to_numpy(int)
        oracle_p = failure_probability(plant, hold["equipment_id"], hold["hour_start"], 24.0)
        keys = ("pr_auc", "roc_auc", "brier", "log_loss", "positive_rate")
        rows = {"model": _metrics(y, hold["score"].to_numpy())}
        for name, values in clf.baseline_metrics.items():  # base rate; the vibration rule
            rows[f"baseline: {name}"] = {k: values[k] for k in keys}
        rows["oracle (simulator)"] = _metrics(y, oracle_p)
        # remaining life: RMSE on the RUL model's holdout rows; the oracle's E[min(T, cap)]
        rul = m.rul
        cap = float(rul.params["target_upper"])
        ry = rul.holdout[RUL].to_numpy(float)
        oracle_rul = expected_rul(
            plant, rul.holdout["equipment_id"], rul.holdout["hour_start"], cap
        )
        rmse = {
            "model": evaluate.regression_metrics(ry, rul.holdout["score"])["rmse"],
            "baseline: base_rate": evaluate.regression_metrics(
                ry, rul.holdout["baseline_train_mean"]
            )["rmse"],
            "oracle (simulator)": evaluate.regression_metrics(ry, oracle_rul)["rmse"],
        }
        table = pd.DataFrame(rows).T
        table["rul_rmse_h"] = pd.Series(rmse)
        failures = int(m.lead.get("failures", 0))
        print(
            f"\n## maintenance: {len(hold):,} holdout equipment-hours "
            f"({clf.split.test_window[0]} – {clf.split.test_window[1]}), {failures} failures, "
            f"positive rate {y.mean():.3f}; model trained on {clf.train_rows:,} rows"
        )
        print(table.round(4).to_markdown())
        gap = _gap(
            rows["model"]["pr_auc"],
            rows["baseline: base_rate"]["positive_rate"],
            rows["oracle (simulator)"]["pr_auc"],
        )
        print(
            f"\nPR-AUC gap between the base rate and the oracle closed by the model: {gap:.1%} "
            f"(goal >= 50 %: {'met' if gap >= 0.5 else 'NOT met'}); caught "
            f"{m.lead.get('failures_caught', 0)} of {failures} failures, median lead "
            f"{m.lead.get('lead_time_median', float('nan')):.1f} h"
        )
        cover = rul.metrics["interval_coverage"]
        print(
            f"RUL interval: target {rul.interval.coverage:.0%}, measured {cover:.1%} on "
            f"{int(np.isfinite(ry).sum()):,} holdout rows, mean width "
            f"{rul.metrics['interval_width']:.1f} h (cap {cap:g} h)"
        )

        # quality: P(defect) per part, on the quality model's holdout (weighted by parts)
        qc = q.classifier
        qh = qc.holdout
        qy, qw = qh["label"].to_numpy(int), qh["weight"].to_numpy(float)
        truth = defect_oracle(plant, qh)
        base = qh["baseline_base_rate"].to_numpy()
        matched = truth["p_defect"].notna().to_numpy()
        q_oracle = np.where(matched, truth["p_defect"].to_numpy(), base)
        qrows = {
            "model": _metrics(qy, qh["score"].to_numpy(), qw),
            "baseline: base_rate": _metrics(qy, base, qw),
            "oracle (simulator)": _metrics(qy, q_oracle, qw),
        }
        print(
            f"\n## quality: {qw.sum() / 1:,.0f} holdout parts in {len(qh) // 2:,} rows "
            f"(oracle matched {matched.mean():.1%} of the rows), defect rate "
            f"{np.average(qy, weights=qw):.4f}"
        )
        print(pd.DataFrame(qrows).T.round(4).to_markdown())
        qgap = _gap(
            qrows["model"]["pr_auc"],
            qrows["baseline: base_rate"]["positive_rate"],
            qrows["oracle (simulator)"]["pr_auc"],
        )
        print(f"\nPR-AUC gap closed by the quality model: {qgap:.1%}")

        for run_id, oracle in (
            (m.run_id, {**rows["oracle (simulator)"], "rul_rmse": rmse["oracle (simulator)"]}),
            (q.run_id, qrows["oracle (simulator)"]),
        ):
            for key, value in oracle.items():
                if np.isfinite(value):
                    mlflow.MlflowClient().log_metric(run_id, f"oracle_{key}", float(value))
        print(f"\nwall time {time.perf_counter() - t0:.0f} s; oracle metrics logged as oracle_*")
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    typer.run(main)
