# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: plantlake (Python 3, Spark)
#     language: python
#     name: plantlake
# ---

# %% [markdown]
# # 03 · Predictive maintenance
#
# **Purpose**: train the failure model on `gold.asset_health_features` exactly as the weekly
# Dagster job does (`ml.maintenance.train_maintenance`), read its holdout metrics next to the
# baselines it has to beat, see what the champion gate decided in the MLflow registry, and
# look at the model's risk over time for one machine with its failures marked.
#
# The model answers, at the end of every equipment-hour: *what is the probability that this
# machine fails (breakdown or electrical fault) within the next `HORIZON_H` hours?* It is
# evaluated on the **last 30 % of the time range** (never seen in training, with a purge gap
# of one horizon), against two baselines: the training base rate (a constant: "no failure")
# and a rule an engineer would set up by hand (alarm on the 24-hour mean vibration).
#
# **Parameters** (next cell): `HORIZON_H`, `EQUIPMENT_ID` for the risk plot (None: the machine
# with the most failures in the holdout).
#
# **Reads**: `gold.asset_health_features`, `silver.equipment_states`, `gold.reliability`;
# **writes**: an MLflow run and a new version of `plantlake-maintenance` (and `-rul`); the
# `champion` alias moves only if the new version beats the champion on the same holdout.

# %%
from lakehouse.lake import open_lake; lake = open_lake(); spark = lake.spark

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd

from ml import evaluate, maintenance, registry
from transforms.gold.reliability import failure_events

pd.set_option("display.max_colwidth", 120)  # the gate's reasons are sentences

HORIZON_H = 24.0
EQUIPMENT_ID = None  # e.g. "acme.chicago.assembly.line1.cell1.cnc11"

# MLflow: PLANTLAKE_MLFLOW_TRACKING_URI if set, else SQLite in <lake>/_mlflow/
print("MLflow tracking URI:", registry.configure(lake.root))

# %% [markdown]
# ## The features, by table name
#
# One row per equipment and UTC hour: vibration, temperature and power statistics (of the hour
# and rolling over 24 h), running time, stops, parts and hours since planned maintenance.
# Aggregated in Spark, only the summary comes to pandas.

# %%
features = spark.table("gold.asset_health_features")
spark.sql("""
    SELECT kind, count(DISTINCT equipment_id) AS equipment, count(*) AS hours,
           min(hour_start) AS first_hour, max(hour_start) AS last_hour,
           round(avg(vibration_mean_mm_s), 2) AS vibration_mm_s,
           round(avg(temperature_mean_c), 1) AS temperature_c,
           round(avg(power_mean_kw), 1) AS power_kw,
           round(avg(tool_wear_pct), 1) AS tool_wear_pct
    FROM gold.asset_health_features GROUP BY kind ORDER BY kind
""").toPandas()

# %% [markdown]
# Failures are unplanned stops for `breakdown` or `electrical_fault` in
# `silver.equipment_states` (`gold.reliability` counts them per month with MTBF and MTTR).
# Electrical faults come without warning in the sensors: no model catches those.

# %%
failures = (
    failure_events(spark.table("silver.equipment_states"))
    .select("equipment_id", "start_time", "end_time", "reason_code", "repair_s")
    .toPandas()
)
spark.sql("""
    SELECT equipment_id, sum(failures) AS failures, round(sum(repair_s) / 3600, 1) AS repair_h,
           round(sum(operating_s) / 3600 / nullif(sum(failures), 0), 1) AS mtbf_h
    FROM gold.reliability GROUP BY equipment_id ORDER BY failures DESC
""").toPandas()

# %% [markdown]
# ## The champion before this training
#
# `registry.champion` loads the version holding the `champion` alias, or gives None when the
# registry has none yet (a new lake): then this training's model becomes the champion.

# %%
before = registry.champion(maintenance.NAME)
print(f"champion before training: v{before.version} (run {before.run_id})" if before
      else f"no champion of {maintenance.NAME} yet: the model trained next becomes it")

# %% [markdown]
# ## Train, evaluate, log, register, gate
#
# One call does what the Dagster asset `ml/maintenance_model` does: label every hour from the
# failures, split by time, fit XGBoost (and a remaining-useful-life regressor), measure both on
# the holdout next to the baselines, log everything to MLflow and apply the gate.

# %%
report = maintenance.train_maintenance(lake, horizon=HORIZON_H)
clf = report.classifier
(train_start, train_end), (test_start, test_end) = clf.split.train_window, clf.split.test_window
print(f"{report.rows} labelled hours; train {train_start} – {train_end} "
      f"({clf.train_rows} rows, refit on all of them after early stopping on the last "
      f"{clf.validation_rows}), holdout {test_start} – {test_end} "
      f"({len(clf.holdout)} rows); {report.train_seconds:.1f} s")

# %% [markdown]
# ### Holdout metrics beside the baselines
#
# **PR-AUC** is the headline (failures are rare: ROC-AUC flatters a model on rare events);
# precision and recall are at the operating threshold chosen on a validation slice of the
# training period. `failures_caught` and the lead times count whole failures of the holdout:
# a failure is caught when an alarm came within the horizon before it. The RUL columns are the
# remaining-useful-life regressor's errors in hours (capped at 72 h), next to predicting the
# training mean.

# %%
table = report.table()
table[[c for c in ["model", "pr_auc", "roc_auc", "brier", "ece", "precision", "recall", "threshold",
                   "positive_rate", "failures", "failures_caught", "lead_time_median",
                   "rul_rmse_h", "rul_mae_h", "rul_interval_coverage", "rul_interval_width_h"]
       if c in table]].round(3)

# %% [markdown]
# ### The gate and the registry
#
# The gate scores the champion on the **same holdout** and moves the alias only if the new
# version is better on PR-AUC. Each version carries a `role` tag (champion or challenger) and
# the gate's reason; the metrics are those of its run.

# %%
d = report.decision
print(f"v{report.version}: {'promoted to champion' if d.promoted else 'stays a challenger'} — {d.reason}")

client = mlflow.MlflowClient()
versions = []
for mv in client.search_model_versions(f"name = '{maintenance.NAME}'"):
    metrics = client.get_run(mv.run_id).data.metrics
    versions.append({
        "version": int(mv.version),
        "aliases": ",".join(mv.aliases),
        "role": mv.tags.get("role"),
        "pr_auc": metrics.get("pr_auc"),
        "baseline_rule_pr_auc": metrics.get("baseline_rule_vibration_mean_24h_mm_s_pr_auc"),
        "baseline_base_rate_pr_auc": metrics.get("baseline_base_rate_pr_auc"),
        "roc_auc": metrics.get("roc_auc"),
        "registered": pd.Timestamp(mv.creation_timestamp, unit="ms"),
        "gate": mv.tags.get("gate"),
    })
pd.DataFrame(versions).sort_values("version", ascending=False).round(3)

# %%
now = registry.champion(maintenance.NAME)
print(f"champion now: v{now.version}" if now else "still no champion")

# %% [markdown]
# ## Plots of the holdout
#
# Precision-recall of the model and of the vibration rule; calibration (does a predicted 20 %
# mean one failure in five?); feature importance (total gain; a categorical sums its
# one-hot columns).

# %%
h = clf.holdout
y = h[clf.problem.label_col].to_numpy(int)
rule = clf.problem.baseline_col
display(evaluate.pr_curve_figure(
    y, {"model": h["score"].to_numpy(), f"rule: {rule}": h[rule].fillna(-np.inf).to_numpy(float)}
))
display(evaluate.calibration_figure(y, h["score"].to_numpy()))
display(evaluate.importance_figure(clf.importance))

# %% [markdown]
# ## Risk over time for one machine
#
# The model's probability per hour of the holdout, the operating threshold, and the machine's
# failures (red bands from failure to repair). The shaded hours before each failure are the
# ones the model should flag: a useful model rises there, ideally early enough to plan the
# repair into a break or a changeover.

# %%
window = failures[(failures["start_time"] >= test_start)
                  & (failures["start_time"] <= test_end + pd.Timedelta(hours=1))]
if EQUIPMENT_ID is None:
    counts = window["equipment_id"].value_counts()
    EQUIPMENT_ID = counts.index[0] if len(counts) else h["equipment_id"].iloc[0]
mine = h[h["equipment_id"] == EQUIPMENT_ID].sort_values("hour_start")
hour_end = mine["hour_start"] + pd.Timedelta(hours=1)

fig, ax = plt.subplots(figsize=(12, 3.8))
for k, f in enumerate(window[window["equipment_id"] == EQUIPMENT_ID].itertuples()):
    ax.axvspan(f.start_time - pd.Timedelta(hours=HORIZON_H), f.start_time, color="C1", alpha=0.12, lw=0)
    ax.axvspan(f.start_time, f.end_time if pd.notna(f.end_time) else f.start_time, color="C3", alpha=0.5, lw=0)
    ax.annotate(f.reason_code, (f.start_time, 1.0 - 0.06 * k), fontsize=8, color="C3", ha="right")
ax.plot(hour_end, mine["score"], color="C0", lw=1.2, label="P(failure within horizon)")
ax.plot(hour_end[mine["alarm"]], mine.loc[mine["alarm"], "score"], "o", color="C3", ms=3, label="alarm")
ax.axhline(clf.threshold, color="k", ls="--", lw=1, label=f"threshold {clf.threshold:.3f}")
ax.set_ylim(0, 1.05)
ax.set_xlim(test_start, test_end + pd.Timedelta(hours=1))
ax.set_ylabel("probability")
ax.set_xlabel("end of the hour (UTC)")
ax.set_title(f"{EQUIPMENT_ID}: failure risk over the holdout ({HORIZON_H:g} h horizon)")
ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
fig.autofmt_xdate()
fig.tight_layout()

# %% [markdown]
# ## Remaining useful life with its interval
#
# The RUL model predicts the hours until the next failure (capped at the model's cap), and
# every prediction carries a **split-conformal interval**: widths measured on validation rows
# the model was not fitted on, one width per band of predicted RUL, so that the stated share
# of true RULs (90 %) falls inside. The coverage measured on the holdout is printed beside the
# target; `gold.maintenance_predictions` carries the interval as `rul_low_h` / `rul_high_h`.

# %%
rul = report.rul
print(f"RUL v{report.rul_version}: holdout RMSE {rul.metrics['rmse']:.1f} h "
      f"(training mean {rul.baseline_metrics['train_mean']['rmse']:.1f} h); "
      f"{rul.interval.coverage:.0%} interval covers {rul.metrics['interval_coverage']:.1%} "
      f"of the holdout, mean width {rul.metrics['interval_width']:.1f} h; "
      f"gate: {report.rul_decision.reason}")

r = rul.holdout[rul.holdout["equipment_id"] == EQUIPMENT_ID].sort_values("hour_start")
end = r["hour_start"] + pd.Timedelta(hours=1)
fig, ax = plt.subplots(figsize=(12, 3.8))
ax.fill_between(end, r["low"], r["high"], color="C0", alpha=0.2, step="mid",
                label=f"{rul.interval.coverage:.0%} interval")
ax.plot(end, r["score"], color="C0", lw=1.2, label="predicted RUL")
ax.plot(end, r[rul.problem.label_col], color="k", lw=1, ls="--", label="true RUL (capped)")
ax.set_ylabel("hours")
ax.set_xlabel("end of the hour (UTC)")
ax.set_title(f"{EQUIPMENT_ID}: remaining useful life over the holdout")
ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
fig.autofmt_xdate()
fig.tight_layout()

# %% [markdown]
# What the scoring job wrote for this machine's latest hours: probability, RUL and interval.

# %%
spark.sql(f"""
    SELECT hour_start, round(failure_probability, 3) AS p_fail, round(rul_h, 1) AS rul_h,
           round(rul_low_h, 1) AS rul_low_h, round(rul_high_h, 1) AS rul_high_h,
           rul_interval_coverage, model_version, rul_model_version
    FROM gold.maintenance_predictions WHERE equipment_id = '{EQUIPMENT_ID}'
    ORDER BY hour_start DESC LIMIT 12
""").toPandas()
