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
# # 02 · OEE: where the planned time goes
#
# **Purpose**: the OEE loss waterfall of a site (or the whole plant), the downtime Pareto, and
# OEE by shift and by line. Every ratio here is computed from **summed times and counts**
# (ISO 22400-2), never by averaging shift OEEs: a short shift must not weigh as much as a
# long one.
#
# **Parameters** (next cell): `SITE` (None: every site), `FIRST_DAY` / `LAST_DAY` (local
# dates, None: all the data).
#
# **Reads**: `gold.oee_shift`, `gold.oee_line_day`, `gold.downtime_pareto`.

# %%
from lakehouse.lake import open_lake; lake = open_lake(); spark = lake.spark

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

SITE = None  # e.g. "berlin"; None: every site
FIRST_DAY = None  # e.g. "2026-02-16" (the site's local date); None: from the first day
LAST_DAY = None  # None: to the last day



def where(date_col: str = "local_date", complete: bool = True) -> str:
    """The parameters as a SQL filter; `complete`: leave out shifts still running (they would
    show as losses)."""
    conditions = ["is_complete"] if complete else []
    if SITE:
        conditions.append(f"site = '{SITE}'")
    if FIRST_DAY:
        conditions.append(f"{date_col} >= DATE'{FIRST_DAY}'")
    if LAST_DAY:
        conditions.append(f"{date_col} <= DATE'{LAST_DAY}'")
    return " AND ".join(conditions) or "true"


# %% [markdown]
# ## The loss waterfall
#
# From the planned operation time down to the **fully productive time** (good parts at the
# ideal cycle time):
#
# | step | from `gold.oee_shift` |
# | --- | --- |
# | planned downtime (breaks, planned maintenance) | `planned_downtime_s` |
# | availability loss (unplanned stops, idle, changeovers) | `planned_busy_s − run_s` |
# | performance loss (slow cycles, small stops) | `run_s − ideal_time_s` |
# | quality loss (ideal time of scrap and rework) | `quality_loss_min` |
#
# OEE = fully productive time / planned busy time.

# %%
totals = spark.sql(f"""
    SELECT sum(planned_s) AS planned_s, sum(planned_downtime_s) AS planned_downtime_s,
           sum(planned_busy_s) AS planned_busy_s, sum(run_s) AS run_s,
           sum(ideal_time_s) AS ideal_time_s, sum(quality_loss_min) * 60 AS quality_loss_s,
           sum(produced) AS produced, sum(good) AS good, count(*) AS equipment_shifts
    FROM gold.oee_shift WHERE {where()}
""").toPandas().iloc[0]

h = totals / 3600
steps = [
    ("planned time", h.planned_s, "total"),
    ("planned downtime", -h.planned_downtime_s, "loss"),
    ("planned busy time", h.planned_busy_s, "total"),
    ("availability loss", -(h.planned_busy_s - h.run_s), "loss"),
    ("run time", h.run_s, "total"),
    ("performance loss", -(h.run_s - h.ideal_time_s), "loss"),
    ("net run time", h.ideal_time_s, "total"),
    ("quality loss", -h.quality_loss_s, "loss"),
    ("fully productive time", h.ideal_time_s - h.quality_loss_s, "total"),
]
fig, ax = plt.subplots(figsize=(11, 4.5))
level = 0.0
for i, (label, value, kind) in enumerate(steps):
    if kind == "total":
        ax.bar(i, value, color="C0")
        level = value
        ax.text(i, value, f"{value:,.0f} h", ha="center", va="bottom", fontsize=8)
    else:
        ax.bar(i, value, bottom=level, color="C3")
        ax.text(i, level, f"{value:,.0f} h", ha="center", va="bottom", fontsize=8)
        level += value
ax.set_xticks(range(len(steps)), [s[0] for s in steps], rotation=20, ha="right")
ax.set_ylabel("hours (all equipment)")
oee = (h.ideal_time_s - h.quality_loss_s) / h.planned_busy_s
ax.set_title(f"OEE loss waterfall, {SITE or 'all sites'}: OEE {oee:.1%} "
             f"over {int(totals.equipment_shifts)} equipment-shifts")
fig.tight_layout()

pd.Series({
    "availability": totals.run_s / totals.planned_busy_s,
    "performance": totals.ideal_time_s / totals.run_s,
    "quality": totals.good / totals.produced,
    "OEE": oee,
}).round(3).to_frame("from summed times and counts")

# %% [markdown]
# ## Downtime Pareto
#
# `gold.downtime_pareto` counts stops and minutes per line, day, state and reason. Summed over
# the period, sorted by minutes, with the cumulative share: the few reasons on the left are
# where an improvement project pays. Idle time (starved / blocked) points at the line's
# balance rather than at the machine.

# %%
pareto = spark.sql(f"""
    SELECT state, reason_code, sum(stops) AS stops, sum(downtime_min) AS downtime_min
    FROM gold.downtime_pareto
    WHERE {where("event_date", complete=False)}  -- event_date: the UTC day the stops started
    GROUP BY state, reason_code
    ORDER BY downtime_min DESC
""").toPandas()
pareto["cumulative_pct"] = 100 * pareto["downtime_min"].cumsum() / pareto["downtime_min"].sum()
pareto["minutes_per_stop"] = pareto["downtime_min"] / pareto["stops"]

fig, ax = plt.subplots(figsize=(11, 4))
colours = {"unplanned_stop": "C3", "changeover": "C1", "idle": "C7"}
labels = pareto["reason_code"] + "\n(" + pareto["state"] + ")"
ax.bar(labels, pareto["downtime_min"] / 60, color=[colours.get(s, "C0") for s in pareto["state"]])
ax.set_ylabel("downtime (h)")
ax2 = ax.twinx()
ax2.plot(labels, pareto["cumulative_pct"], "ko-", ms=4)
ax2.axhline(80, color="0.6", ls=":", lw=1)
ax2.set_ylim(0, 105)
ax2.set_ylabel("cumulative share (%)")
ax.set_title(f"downtime by reason, {SITE or 'all sites'}")
ax.tick_params(axis="x", labelsize=8)
fig.tight_layout()
pareto.round(1)

# %% [markdown]
# ## OEE by shift
#
# Shift names belong to a site (Berlin runs early / late / night, Chicago first / second /
# third). A shift whose availability is lower than its neighbours' often has fewer
# maintenance staff on hand; a lower quality rate may point at warm-up after a weekend.

# %%
by_shift = spark.sql(f"""
    SELECT o.site, o.shift_name,
           min(date_format(from_utc_timestamp(c.start_time, c.timezone), 'HH:mm')) AS local_start,
           sum(o.run_s) / sum(o.planned_busy_s) AS availability,
           sum(o.ideal_time_s) / sum(o.run_s) AS performance,
           sum(o.good) / sum(o.produced) AS quality,
           sum(o.run_s) / sum(o.planned_busy_s) * sum(o.ideal_time_s) / sum(o.run_s)
             * sum(o.good) / sum(o.produced) AS oee,
           count(*) AS equipment_shifts
    FROM (SELECT * FROM gold.oee_shift WHERE {where()}) o
    JOIN silver.shift_calendar c USING (shift_id)
    GROUP BY o.site, o.shift_name
    ORDER BY o.site, local_start
""").toPandas()

fig, ax = plt.subplots(figsize=(11, 4))
x = np.arange(len(by_shift))
for k, metric in enumerate(["availability", "performance", "quality", "oee"]):
    ax.bar(x + (k - 1.5) * 0.2, by_shift[metric], width=0.2, label=metric)
ax.set_xticks(x, by_shift["site"] + " · " + by_shift["shift_name"] + " (" + by_shift["local_start"] + ")")
ax.set_ylim(0, 1.05)
ax.legend(ncols=4, loc="lower center", fontsize=8)
ax.set_title("OEE and its factors by shift")
fig.tight_layout()
by_shift.round(3)

# %% [markdown]
# ## OEE by line
#
# `gold.oee_line_day` sums each line's equipment and shifts per local day. The trend shows
# the bad days; the table gives each line's OEE over the period, again from summed times and
# counts, with the loss in hours that dominates it.

# %%
line_days = spark.sql(f"""
    SELECT concat(site, '/', area, '/', line) AS line, local_date, oee
    FROM gold.oee_line_day WHERE {where(complete=False)} ORDER BY line, local_date
""").toPandas()
fig, ax = plt.subplots(figsize=(11, 4))
for line, rows in line_days.groupby("line"):
    ax.plot(pd.to_datetime(rows["local_date"]), rows["oee"], "o-", ms=3, label=line)
ax.set_ylabel("OEE")
ax.set_ylim(0, 1)
ax.legend(fontsize=8, loc="lower left", ncols=3)
ax.set_title("daily OEE per line (local days)")
fig.autofmt_xdate()
fig.tight_layout()

spark.sql(f"""
    SELECT concat(site, '/', area, '/', line) AS line, count(*) AS days,
           round(sum(run_s) / sum(planned_busy_s), 3) AS availability,
           round(sum(ideal_time_s) / sum(run_s), 3) AS performance,
           round(sum(good) / sum(produced), 3) AS quality,
           round(sum(run_s) / sum(planned_busy_s) * sum(ideal_time_s) / sum(run_s)
                 * sum(good) / sum(produced), 3) AS oee,
           round(sum(availability_loss_min) / 60) AS availability_loss_h,
           round(sum(performance_loss_min) / 60) AS performance_loss_h,
           round(sum(quality_loss_min) / 60) AS quality_loss_h
    FROM gold.oee_line_day WHERE {where(complete=False)}
    GROUP BY site, area, line
    ORDER BY oee
""").toPandas()
