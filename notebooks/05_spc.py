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
# # 05 · Statistical process control
#
# **Purpose**: individuals control charts of the inspected characteristics of one product,
# with the centre line and the ±3σ limits `gold.spc` computed from each machine's baseline
# window, and the points that break a Western Electric / Nelson rule marked with the rule.
# A quality engineer reads them as: a point beyond a limit (WE1) is a special cause to chase
# now; runs on one side (WE4 / N2) and trends (N3) are a process that has moved.
#
# **Parameters** (next cell): `PRODUCT_ID` (None: the product with the most inspections),
# `LINE` (`site/area/line`, None: the line where that product breaks the most rules).
#
# **Reads**: `gold.spc`, `silver.quality_inspections` (product of each point), `silver.equipment`.

# %%
from lakehouse.lake import open_lake; lake = open_lake(); spark = lake.spark

import matplotlib.pyplot as plt

PRODUCT_ID = None  # e.g. "P-100"
LINE = None  # e.g. "berlin/machining/line1"

# %% [markdown]
# ## Rule hits of the product, per line and characteristic
#
# `gold.spc` has one row per measured point; `silver.quality_inspections` says which product
# the part was, `silver.equipment` on which line the machine stands.

# %%
spark.sql("""
    CREATE OR REPLACE TEMP VIEW spc_points AS
    SELECT s.*, i.product_id, concat(e.site, '/', e.area, '/', e.line) AS line, e.name AS machine
    FROM gold.spc s
    JOIN silver.quality_inspections i USING (inspection_id)
    JOIN silver.equipment e ON e.equipment_id = s.equipment_id AND e.is_current
""")
if PRODUCT_ID is None:
    PRODUCT_ID = spark.sql(
        "SELECT product_id FROM spc_points GROUP BY product_id ORDER BY count(*) DESC, product_id LIMIT 1"
    ).first()[0]
summary = spark.sql(f"""
    SELECT line, characteristic, count(*) AS points, count_if(out_of_control) AS out_of_control,
           round(100 * count_if(out_of_control) / count(*), 1) AS out_of_control_pct
    FROM spc_points WHERE product_id = '{PRODUCT_ID}'
    GROUP BY line, characteristic
    ORDER BY out_of_control DESC
""").toPandas()
if LINE is None:
    LINE = summary["line"].iloc[0]
print(f"product {PRODUCT_ID}, line {LINE}")
summary

# %% [markdown]
# Which rules fire, over all of this product's points (a point may complete several rules):

# %%
spark.sql(f"""
    SELECT rule, count(*) AS points
    FROM (SELECT explode(rules_violated) AS rule FROM spc_points WHERE product_id = '{PRODUCT_ID}')
    GROUP BY rule ORDER BY points DESC
""").toPandas()

# %% [markdown]
# ## Control charts
#
# One chart per characteristic and machine of the line (limits belong to a machine: each has
# its own baseline), points in inspection order as an individuals chart plots them. Shaded
# bands are the ±1σ and ±2σ zones the run rules count in; red circles are beyond a control
# limit (WE1), orange triangles complete another rule (runs, trends, zone rules).

# %%
points = spark.sql(f"""
    SELECT characteristic, machine, inspected_at, measured, centre_line, sigma, ucl, lcl,
           rules_violated, out_of_control
    FROM spc_points
    WHERE product_id = '{PRODUCT_ID}' AND line = '{LINE}'
    ORDER BY characteristic, machine, inspected_at
""").toPandas()
charts = points.groupby(["characteristic", "machine"], sort=True)

fig, axes = plt.subplots(len(charts), 1, figsize=(12, 3 * len(charts)), squeeze=False)
for ax, ((characteristic, machine), p) in zip(axes[:, 0], charts):
    p = p.reset_index(drop=True)
    n = p.index.to_numpy()
    centre, sigma = p["centre_line"].iloc[-1], p["sigma"].iloc[-1]
    for k, alpha in ((2, 0.08), (1, 0.12)):
        ax.axhspan(centre - k * sigma, centre + k * sigma, color="C0", alpha=alpha, lw=0)
    ax.plot(n, p["measured"], ".-", color="C0", lw=0.6, ms=3)
    ax.step(n, p["centre_line"], where="post", color="k", lw=1, label="centre line")
    ax.step(n, p["ucl"], where="post", color="C3", lw=1, ls="--", label="UCL / LCL")
    ax.step(n, p["lcl"], where="post", color="C3", lw=1, ls="--")
    rules = p["rules_violated"].map(lambda r: list(r) if r is not None else [])
    beyond = rules.map(lambda r: "WE1" in r)
    other = rules.map(len).gt(0) & ~beyond
    ax.plot(n[beyond], p.loc[beyond, "measured"], "o", color="C3", ms=5, label="beyond a limit (WE1)")
    ax.plot(n[other], p.loc[other, "measured"], "^", color="C1", ms=5, label="other rule")
    if (beyond | other).sum() <= 30:  # more labels than that would hide the points
        for i in n[beyond | other]:
            ax.annotate(",".join(rules[i]), (i, p.loc[i, "measured"]), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=6, color="0.3")
    days = p["inspected_at"].dt.normalize()
    first_of_day = n[(days != days.shift()).to_numpy()]
    ax.set_xticks(first_of_day[:: max(1, len(first_of_day) // 10)])
    ax.set_xticklabels([f"{d:%m-%d}" for d in p.loc[ax.get_xticks(), "inspected_at"]], fontsize=8)
    ax.set_xlim(-1, len(p))
    ax.set_title(f"{characteristic} · {PRODUCT_ID} on {machine} ({LINE}): "
                 f"{int((beyond | other).sum())} of {len(p)} points break a rule", fontsize=10)
    ax.set_ylabel(characteristic)
axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
axes[-1, 0].set_xlabel("inspection (in order; ticks at the first of a UTC day)")
fig.tight_layout()

# %% [markdown]
# ## The control limits in force
#
# The latest centre line and limits per machine and characteristic, next to the
# specification limits of the drawing: limits narrower than the specification mean a capable
# process, which the rule hits above can still show drifting.

# %%
spark.sql(f"""
    SELECT s.machine, s.characteristic,
           round(max_by(s.centre_line, s.inspected_at), 4) AS centre_line,
           round(max_by(s.lcl, s.inspected_at), 4) AS lcl,
           round(max_by(s.ucl, s.inspected_at), 4) AS ucl,
           round(max_by(i.lower_limit, s.inspected_at), 4) AS lower_spec,
           round(max_by(i.upper_limit, s.inspected_at), 4) AS upper_spec,
           max(s.baseline_points) AS baseline_points
    FROM spc_points s JOIN silver.quality_inspections i USING (inspection_id)
    WHERE s.product_id = '{PRODUCT_ID}' AND s.line = '{LINE}'
    GROUP BY s.machine, s.characteristic
    ORDER BY s.characteristic, s.machine
""").toPandas()
