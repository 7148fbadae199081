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
# # 01 · Exploring one machine's sensors
#
# **Purpose**: what a machine measures, how its raw readings look over a day, and how the
# time-series functions of `transforms/timeseries.py` turn irregular historian samples into
# regular series and honest averages, with the machine's states behind the curves.
#
# **Parameters** (next cell): `EQUIPMENT_ID` (default: the first CNC mill), `DAY` (UTC day,
# default: the machine's weekday with the most unplanned downtime), `RESAMPLE_EVERY`.
#
# **Reads**: `silver.equipment`, `silver.tags`, `silver.readings`, `silver.equipment_states`.

# %%
from lakehouse.lake import open_lake; lake = open_lake(); spark = lake.spark

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import Patch
from pyspark.sql import functions as F

from transforms.timeseries import resample, time_weighted_average

EQUIPMENT_ID = None  # e.g. "acme.berlin.machining.line1.cell1.cnc01"; None: the first CNC mill
DAY = None  # e.g. "2026-02-24" (UTC); None: the weekday with the most unplanned downtime
RESAMPLE_EVERY = "15 minutes"
SIGNALS = ["vibration_mm_s", "temperature_c", "power_kw"]

# %% [markdown]
# ## The machine and the day to look at
#
# `silver.equipment` is the ISA-95 hierarchy (enterprise.site.area.line.cell.equipment).
# Unless `DAY` is set, the weekday on which this machine spent the longest in `unplanned_stop`
# (from `silver.equipment_states`), so the plots have something to show.

# %%
if EQUIPMENT_ID is None:
    EQUIPMENT_ID = spark.sql(
        "SELECT min(equipment_id) FROM silver.equipment WHERE is_current AND kind = 'cnc_mill'"
    ).first()[0]
states = spark.table("silver.equipment_states").where(F.col("equipment_id") == EQUIPMENT_ID)
if DAY is None:
    DAY = (
        states.where("state = 'unplanned_stop' AND dayofweek(event_date) BETWEEN 2 AND 6")
        .groupBy("event_date")
        .agg(F.sum("duration_s").alias("down_s"))
        .orderBy(F.desc("down_s"))
        .first()["event_date"]
    )
day_start = pd.Timestamp(DAY)
day_end = day_start + pd.Timedelta(days=1)
# timestamps go to Spark as text, read in the session's time zone (UTC), whatever the laptop's is
start_utc, end_utc = F.lit(str(day_start)).cast("timestamp"), F.lit(str(day_end)).cast("timestamp")
print("equipment:", EQUIPMENT_ID)
print("day (UTC):", day_start.date())

# %% [markdown]
# ## Its tags
#
# `silver.tags` says what each tag of the machine measures, in which unit and within which
# plausible range. Joined with a count of the day's `silver.readings` (a partition read: the
# table is partitioned by `event_date`), it shows which tags report and how often: analog
# values every few minutes, states and counters on change. A historian export may leave out
# auxiliary probes that the live feed has.

# %%
readings = spark.table("silver.readings").where(F.col("equipment_id") == EQUIPMENT_ID)
counts = (
    readings.where(F.col("event_date") == F.lit(day_start.date()))
    .groupBy("tag")
    .agg(F.count("*").alias("readings"), F.min("event_time").alias("first_utc"),
         F.max("event_time").alias("last_utc"))
)
tags = (
    spark.table("silver.tags")
    .where(F.col("equipment_id") == EQUIPMENT_ID)
    .join(counts, "tag", "left")
    .select("tag", "datatype", "unit", "low", "high", "is_counter", "description", "readings",
            "first_utc", "last_utc")
    .orderBy(F.col("readings").isNull(), "tag")
    .toPandas()
)
print(f"{len(tags)} tags, {tags['readings'].notna().sum()} with readings that day")
tags[tags["readings"].notna()]

# %% [markdown]
# ## Raw readings, resampled, and time-weighted averages
#
# Raw samples arrive when the source sends them (here every few minutes, on change for some
# tags). `resample` gives one time-weighted value per bucket (`linear`: the value moves in a
# straight line between samples, right for temperature or vibration); `time_weighted_average`
# weighs each value by how long it held, which an arithmetic mean of samples does not: a burst
# of samples during a short event would otherwise count as much as hours of steady running.

# %%
day = readings.where(
    F.col("tag").isin(SIGNALS)
    & F.col("event_date").between(
        F.lit((day_start - pd.Timedelta(days=1)).date()), F.lit(day_end.date())
    )
)
window = day.where((F.col("event_time") >= start_utc) & (F.col("event_time") < end_utc))
raw = window.select("tag", "event_time", "value").orderBy("event_time").toPandas()
resampled = (
    resample(day, RESAMPLE_EVERY, method="linear")
    .where((F.col("bucket_start") >= start_utc) & (F.col("bucket_start") < end_utc))
    .select("tag", "bucket_start", "value", "samples")
    .orderBy("bucket_start")
    .toPandas()
)
twa = time_weighted_average(day, str(day_start), str(day_end), method="linear").select("tag", "twa", "covered_s")
mean = window.groupBy("tag").agg(F.avg("value").alias("mean_of_samples"), F.count("*").alias("samples"))
twa.join(mean, "tag").orderBy("tag").toPandas()

# %% [markdown]
# ## Vibration, temperature and power with the machine's states behind them
#
# Shaded bands are the intervals of `silver.equipment_states`: green running, grey idle, blue
# planned stops (breaks, maintenance), red unplanned stops, orange changeovers. Power drops and
# temperature cools when the machine stops; rising vibration before an unplanned stop is what
# the predictive-maintenance model (notebook 03) learns from.

# %%
COLOURS = {
    "running": "#c7e9c0",
    "idle": "#e0e0e0",
    "planned_stop": "#c6dbef",
    "unplanned_stop": "#fcbba1",
    "changeover": "#fdd0a2",
}
intervals = (
    states.where(
        (F.col("start_time") < end_utc) & (F.coalesce("end_time", end_utc) > start_utc)
    )
    .select("start_time", "end_time", "state", "reason_code")
    .toPandas()
)
units = dict(zip(tags["tag"], tags["unit"]))

fig, axes = plt.subplots(len(SIGNALS), 1, figsize=(12, 2.6 * len(SIGNALS)), sharex=True)
for ax, tag in zip(axes, SIGNALS):
    for row in intervals.itertuples():
        ax.axvspan(
            max(row.start_time, day_start),
            min(row.end_time if pd.notna(row.end_time) else day_end, day_end),
            color=COLOURS.get(row.state, "white"),
            linewidth=0,
        )
    r = raw[raw["tag"] == tag]
    s = resampled[resampled["tag"] == tag]
    ax.plot(r["event_time"], r["value"], ".", ms=3, color="0.35", label="raw samples")
    ax.step(s["bucket_start"], s["value"], where="post", color="C3", label=f"resampled ({RESAMPLE_EVERY})")
    ax.set_ylabel(f"{tag}\n[{units.get(tag) or ''}]")
axes[0].legend(
    handles=[*axes[0].get_legend_handles_labels()[0]]
    + [Patch(color=c, label=s) for s, c in COLOURS.items()],
    loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
)
axes[0].set_title(f"{EQUIPMENT_ID} on {day_start.date()}")
axes[-1].set_xlim(day_start, day_end)
axes[-1].set_xlabel("time (UTC)")
fig.tight_layout()

# %% [markdown]
# ## Where the day went
#
# The same state intervals, clipped to the day, summed per state and reason: the raw material
# of the OEE availability loss (notebook 02).

# %%
clipped = intervals.assign(
    start=intervals["start_time"].clip(lower=day_start),
    end=intervals["end_time"].fillna(day_end).clip(upper=day_end),
)
clipped["hours"] = (clipped["end"] - clipped["start"]).dt.total_seconds() / 3600
(
    clipped.groupby(["state", "reason_code"], dropna=False)["hours"]
    .agg(["count", "sum"])
    .rename(columns={"count": "intervals", "sum": "hours"})
    .sort_values("hours", ascending=False)
    .round(2)
)
