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
# # 04 · Quality prediction
#
# **Purpose**: train the scrap-and-rework model on `gold.quality_features` as the weekly
# Dagster job does (`ml.quality.train_quality`), compare it with the base defect rate on a
# later holdout, see the champion gate's decision in MLflow, and check the predicted against
# the actual defect rate by product and by tool-wear band: where a process engineer would act
# (change the tool earlier, watch one product more closely).
#
# The model gives, per equipment-hour × product × work order × material lot, the probability
# that a part is scrap or rework. Rows are batches (parts made, parts defective), so every
# metric is **weighted by parts**.
#
# **Parameters** (next cell): `WEAR_BANDS_PCT` (tool-wear band edges in %).
#
# **Reads**: `gold.quality_features`; **writes**: an MLflow run and a new version of
# `plantlake-quality` (the `champion` alias moves only if it beats the champion).

# %%
from lakehouse.lake import open_lake; lake = open_lake(); spark = lake.spark

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd

from ml import evaluate, quality, registry

pd.set_option("display.max_colwidth", 120)  # the gate's reasons are sentences

WEAR_BANDS_PCT = [0, 20, 40, 60, 80, 100, 150]

# MLflow: PLANTLAKE_MLFLOW_TRACKING_URI if set, else SQLite in <lake>/_mlflow/
print("MLflow tracking URI:", registry.configure(lake.root))

# %% [markdown]
# ## The features, by table name
#
# Defect rate = (scrap + rework) / parts produced, summed in Spark per product and equipment
# kind: the base rates the model has to improve on.

# %%
spark.sql("""
    SELECT product_id, kind, count(*) AS batches, sum(produced) AS produced,
           sum(defects) AS defects, round(100 * sum(defects) / sum(produced), 2) AS defect_pct,
           round(avg(tool_wear_pct), 1) AS mean_tool_wear_pct
    FROM gold.quality_features GROUP BY product_id, kind ORDER BY product_id, kind
""").toPandas()

# %% [markdown]
# ## The champion before this training
#
# None on a new lake: the model trained next becomes the champion.

# %%
before = registry.champion(quality.NAME)
print(f"champion before training: v{before.version} (run {before.run_id})" if before
      else f"no champion of {quality.NAME} yet: the model trained next becomes it")

# %% [markdown]
# ## Train, evaluate, log, register, gate

# %%
report = quality.train_quality(lake)
clf = report.classifier
(train_start, train_end), (test_start, test_end) = clf.split.train_window, clf.split.test_window
print(f"{report.rows} batches; train {train_start} – {train_end}, holdout "
      f"{test_start} – {test_end}; {report.train_seconds:.1f} s")

# %% [markdown]
# ### Holdout metrics beside the base rate
#
# The base rate predicts the training period's defect rate for every part: its PR-AUC equals
# the defect rate, and its Brier score is what "no model" costs. A useful model has a higher
# PR-AUC and a lower Brier score, with a small calibration error (ECE), because the predicted
# rate is used as a rate (expected scrap per shift), not only as a ranking.

# %%
table = report.table()
table[[c for c in ["model", "pr_auc", "roc_auc", "brier", "ece", "log_loss", "precision",
                   "recall", "threshold", "positive_rate"] if c in table]].round(4)

# %% [markdown]
# ### The gate and the registry

# %%
d = report.decision
print(f"v{report.version}: {'promoted to champion' if d.promoted else 'stays a challenger'} — {d.reason}")

client = mlflow.MlflowClient()
versions = []
for mv in client.search_model_versions(f"name = '{quality.NAME}'"):
    metrics = client.get_run(mv.run_id).data.metrics
    versions.append({
        "version": int(mv.version),
        "aliases": ",".join(mv.aliases),
        "role": mv.tags.get("role"),
        "pr_auc": metrics.get("pr_auc"),
        "baseline_base_rate_pr_auc": metrics.get("baseline_base_rate_pr_auc"),
        "brier": metrics.get("brier"),
        "baseline_base_rate_brier": metrics.get("baseline_base_rate_brier"),
        "registered": pd.Timestamp(mv.creation_timestamp, unit="ms"),
        "gate": mv.tags.get("gate"),
    })
pd.DataFrame(versions).sort_values("version", ascending=False).round(4)

# %% [markdown]
# ## Plots of the holdout (weighted by parts)

# %%
h = clf.holdout
y = h[clf.problem.label_col].to_numpy(int)
w = h[clf.problem.weight_col].to_numpy(float)
p = h["score"].to_numpy()
display(evaluate.pr_curve_figure(y, {"model": p, "base rate": h["baseline_base_rate"].to_numpy()}, w))
display(evaluate.calibration_figure(y, p, w))
display(evaluate.importance_figure(clf.importance))

# %% [markdown]
# ## Predicted against actual defect rate
#
# Each holdout batch stands for its parts (a row for its defective parts, a row for the good
# ones, weighted by count). Per group: actual = defective parts / parts; predicted = the
# parts-weighted mean probability, i.e. the defects the model expected. Bars that match mean
# the model can be trusted as a rate for that product or wear band; the wear bands show how
# fast defects rise as a tool wears, which is where a tool change pays.

# %%
h = h.assign(
    wear_band=pd.cut(h["tool_wear_pct"], WEAR_BANDS_PCT, right=False),
    defective=h[clf.problem.label_col] * h[clf.problem.weight_col],
    expected=h["score"] * h[clf.problem.weight_col],
)


def rates(by: str) -> pd.DataFrame:
    g = h.groupby(by, observed=True)[["defective", "expected", clf.problem.weight_col]].sum()
    parts = g[clf.problem.weight_col]
    return pd.DataFrame({
        "parts": parts.astype(int),
        "actual_pct": 100 * g["defective"] / parts,
        "predicted_pct": 100 * g["expected"] / parts,
    })


by_product, by_wear = rates("product_id"), rates("wear_band")
by_wear.index = by_wear.index.astype(str)

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, (title, r) in zip(axes, [("by product", by_product), ("by tool-wear band (%)", by_wear)]):
    x = np.arange(len(r))
    ax.bar(x - 0.2, r["actual_pct"], width=0.4, label="actual")
    ax.bar(x + 0.2, r["predicted_pct"], width=0.4, label="predicted")
    ax.set_xticks(x, r.index)
    ax.set_ylabel("defective parts (%)")
    ax.set_title(f"holdout defect rate {title}")
    ax.legend(fontsize=8)
fig.tight_layout()
pd.concat({"product": by_product, "tool wear": by_wear}).round(2)
