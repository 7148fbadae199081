"""Read, transform, write: how each silver and gold table is built from the tables below it.

One function per table (the Dagster assets call them; so do the demo and the benchmarks). A
daily-partitioned table is rebuilt for the given UTC dates only, reading the days around them
that its transform needs; silver.readings takes only the bronze rows added since its last run
(Delta change data feed), so a refresh costs in proportion to new data.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.catalog import get_table
from lakehouse.lake import Lake
from lakehouse.plant_model import PlantModel, lake_model_path, model_for_lake
from transforms.gold import asset_state as asset_state_t
from transforms.gold import (
    downtime,
    energy,
    features,
    oee,
    quality,
    quality_features,
    reliability,
    spc,
)
from transforms.silver import (
    counts,
    master_data,
    mes_events,
    plant_model,
    readings,
    signals,
    states,
)

log = logging.getLogger(__name__)

READING_SOURCES = ("bronze.mqtt_messages", "bronze.sparkplug_messages", "bronze.opcua_values")
STATE_TAGS = ("state", "reason_code", "product_id", "work_order_id")
COUNT_TAGS = (
    "parts_total",
    "parts_good",
    "parts_scrap",
    "parts_rework",
    "product_id",
    "work_order_id",
)
COUNTER_LOOKBACK_DAYS = 3  # the last counter value before a day may be a weekend away
OPEN_INTERVAL_LOOKBACK_DAYS = 7  # how far back a state interval may still be open


@dataclass
class Built:
    """What one build wrote: the table, its rows (in the days written), the days, the version."""

    table: str
    rows: int
    days: list[date] = field(default_factory=list)
    version: int | None = None
    seconds: float = 0.0
    note: str = ""
    also: list[Built] = field(default_factory=list)  # tables written on the way (unmapped)


def _days(days: Iterable[date] | None) -> list[date]:
    return sorted(set(days or ()))


def _between(df: DataFrame, first: date, last: date, column: str = "event_date") -> DataFrame:
    return df.where(F.col(column).between(F.lit(first), F.lit(last)))


def _written(lake: Lake, table: str, days: list[date], started: float, note: str = "") -> Built:
    """What the last commit wrote, from the Delta log (no Spark job to count it)."""
    commit = lake.last_commit(table)
    rows = commit.rows_written or 0
    return Built(table, rows, days, commit.version, time.perf_counter() - started, note)


def _ensure(lake: Lake, *tables: str) -> None:
    for t in tables:
        lake.create(t)


# -- progress of incremental reads ----------------------------------------------------------
def _progress(lake: Lake, consumer: str) -> dict[str, int]:
    _ensure(lake, "ops.transform_progress")
    rows = lake.read("ops.transform_progress").where(F.col("consumer") == consumer).collect()
    return {r.source_table: r.last_version for r in rows}


def _save_progress(lake: Lake, consumer: str, versions: dict[str, int]) -> None:
    _ensure(lake, "ops.transform_progress")
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(consumer, t, v, now) for t, v in versions.items()]
    df = lake.spark.createDataFrame(
        rows, "consumer string, source_table string, last_version bigint, updated_at timestamp"
    )
    lake.upsert("ops.transform_progress", df)


# -- silver: master data and MES events (small: rebuilt whole when bronze.mes_rows moved) ---
# Which MES/ERP source tables each silver table reads (a table is rebuilt when one of them moved).
# "plant_model" stands for the lake's plant model file.
MASTER_SOURCES = {
    "silver.equipment": ("mes.equipment", "plant_model"),
    "silver.tags": ("mes.equipment_tags",),
    "silver.products": ("erp.products", "erp.bill_of_materials"),
    "silver.routings": ("erp.routings",),
    "silver.ideal_cycle_times": ("plant_model",),
    "silver.work_orders": ("mes.work_orders", "mes.operations"),
    "silver.downtime_events": ("mes.downtime_events",),
    "silver.quality_inspections": ("mes.quality_inspections", "mes.work_orders"),
}
CALENDAR_MARGIN_DAYS = 1  # model shifts are laid out one day beyond the data on each side


def lake_model(lake: Lake) -> PlantModel | None:
    """The lake's plant model, or None when it has none (MES master data still builds)."""
    if not lake_model_path(lake.root).exists():
        return None
    return model_for_lake(lake.root)


def _data_days(lake: Lake) -> tuple[date, date] | None:
    """The first and last day of silver.readings (partition values: read from the metadata)."""
    row = lake.read("silver.readings").agg(F.min("event_date"), F.max("event_date")).first()
    return None if row[0] is None else (row[0], row[1])


def _model_version(lake: Lake, *also: object) -> int:
    """A number that changes when the model file (or anything in `also`) changes."""
    path = lake_model_path(lake.root)
    text = path.read_bytes() if path.exists() else b""
    return zlib.crc32(text + repr(also).encode())


def _changed_sources(lake: Lake, since: int, until: int) -> set[str]:
    """The source tables of the bronze.mes_rows rows committed in (since, until]."""
    changes = (
        lake.spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", since + 1)
        .option("endingVersion", until)
        .load(str(lake.path("bronze.mes_rows")))
    )
    return {r.source_table for r in changes.select("source_table").distinct().collect()}


def build_master_data(lake: Lake, *, force: bool = False) -> list[Built]:
    """silver.equipment, tags, products, routings, shift_calendar, work_orders, downtime_events
    and quality_inspections from bronze.mes_rows. Each is rebuilt whole (they are small) but only
    when rows of its source tables arrived since the last build."""
    tables = tuple(MASTER_SOURCES)
    _ensure(lake, "bronze.mes_rows", *READING_SOURCES, *tables)
    version = lake.version("bronze.mes_rows")
    progress = _progress(lake, "silver.master_data")
    done = progress.get("bronze.mes_rows")
    model = lake_model(lake)
    model_version = _model_version(lake)
    if force or done is None:
        changed = {s for sources in MASTER_SOURCES.values() for s in sources}
    elif done == version:
        changed = set()
    else:
        changed = _changed_sources(lake, done, version)
    if progress.get("plant_model") != model_version:
        changed.add("plant_model")
    todo = [t for t in tables if changed & set(MASTER_SOURCES[t])]
    built = [Built(t, 0, note="its sources did not change") for t in tables if t not in todo]
    if not todo:
        return built
    mes = (
        lake.spark.read.format("delta")
        .option("versionAsOf", version)
        .load(str(lake.path("bronze.mes_rows")))
        .where(F.col("source_table").isin(sorted({s for t in todo for s in MASTER_SOURCES[t]})))
        .cache()
    )
    spark = lake.spark
    declared = cycle_times = None
    if model is not None:
        declared = plant_model.model_equipment(spark, model)
        cycle_times = plant_model.model_cycle_times(spark, model)
    if cycle_times is None:
        cycle_times = spark.createDataFrame([], get_table("silver.ideal_cycle_times").schema)
    frames = {
        "silver.equipment": lambda: master_data.equipment(mes, declared=declared),
        "silver.ideal_cycle_times": lambda: cycle_times,
        "silver.tags": lambda: master_data.tags(mes),
        "silver.products": lambda: master_data.products(mes),
        "silver.routings": lambda: master_data.routings(mes),
        "silver.work_orders": lambda: mes_events.work_orders(mes),
        "silver.downtime_events": lambda: mes_events.downtime_events(mes),
        "silver.quality_inspections": lambda: mes_events.quality_inspections(
            mes, lake.read("silver.work_orders")
        ),
    }
    for table in todo:  # in MASTER_SOURCES order: equipment and work orders before their users
        built.append(_whole(lake, table, frames[table]()))
    mes.unpersist()
    _save_progress(
        lake, "silver.master_data", {"bronze.mes_rows": version, "plant_model": model_version}
    )
    return built


# -- silver: shift calendar and planned downtime (the MES's and the model's) --------------
CALENDAR_TABLES = ("silver.shift_calendar", "silver.planned_downtime")
CALENDAR_SOURCES = ("mes.shift_calendar", "mes.equipment")


def build_calendar(lake: Lake, *, force: bool = False) -> list[Built]:
    """silver.shift_calendar and silver.planned_downtime: the MES's shifts and the plant model's
    site calendars laid out over the days of silver.readings (a day more on each side).
    Rebuilt whole (small) when the MES rows, the model or the days of data changed."""
    _ensure(lake, "bronze.mes_rows", "silver.readings", "silver.equipment", *CALENDAR_TABLES)
    version = lake.version("bronze.mes_rows")
    span = _data_days(lake)
    key = _model_version(lake, span, version)
    if not force and _progress(lake, "silver.calendar").get("calendar") == key:
        return [
            Built(t, 0, note="the MES, the model and the days did not change")
            for t in CALENDAR_TABLES
        ]
    started = time.perf_counter()
    mes = (
        lake.spark.read.format("delta")
        .option("versionAsOf", version)
        .load(str(lake.path("bronze.mes_rows")))
        .where(F.col("source_table").isin(*CALENDAR_SOURCES))
    )
    model = lake_model(lake)
    model_shifts = model_windows = None
    if model is not None and span is not None:
        first = span[0] - timedelta(days=CALENDAR_MARGIN_DAYS)
        last = span[1] + timedelta(days=CALENDAR_MARGIN_DAYS)
        model_shifts, model_windows = plant_model.model_shifts(lake.spark, model, first, last)
    shifts = master_data.shift_calendar(
        mes, lake.read("silver.equipment"), model_shifts, model_windows
    )
    built = [_whole(lake, "silver.shift_calendar", shifts, started)]
    windows = master_data.planned_downtime(lake.read("silver.shift_calendar"), model_windows)
    built.append(_whole(lake, "silver.planned_downtime", windows))
    _save_progress(lake, "silver.calendar", {"calendar": key})
    return built


# -- silver.readings: incremental from bronze ----------------------------------------------
def _addressed(lake: Lake, frames: dict[str, DataFrame]) -> DataFrame:
    """Every value of the given bronze frames mapped by the lake's plant model (a lake without
    one may still build silver while its bronze holds no readings: the MES alone)."""
    if lake_model(lake) is None and all(df.isEmpty() for df in frames.values()):
        model = PlantModel(enterprise="none")
    else:
        model = model_for_lake(lake.root)
    return signals.map_signals(
        signals.compile_rules(model),
        lake.read("silver.equipment"),
        mqtt=frames.get("bronze.mqtt_messages"),
        sparkplug=frames.get("bronze.sparkplug_messages"),
        opcua=frames.get("bronze.opcua_values"),
    )


UNMAPPED_TXN_APP = "plantlake.silver.unmapped_addresses"


def _merge_unmapped(lake: Lake, unmapped: DataFrame, days: list[date], txn_version: int) -> None:
    """Add new unmapped counts to those of their day (an incremental run sees new rows only).

    The merge is an idempotent Delta transaction keyed by `txn_version` (the bronze versions
    read up to): a run that fails after it and is retried does not add the counts again.
    """
    in_days = ", ".join(f"DATE'{d}'" for d in days)
    target = DeltaTable.forPath(lake.spark, str(lake.path("silver.unmapped_addresses")))
    conf = lake.spark.conf
    conf.set("spark.databricks.delta.write.txnAppId", UNMAPPED_TXN_APP)
    conf.set("spark.databricks.delta.write.txnVersion", str(txn_version))
    try:
        _merge_unmapped_rows(target, unmapped, in_days)
    finally:
        conf.unset("spark.databricks.delta.write.txnAppId")
        conf.unset("spark.databricks.delta.write.txnVersion")


def _merge_unmapped_rows(target: DeltaTable, unmapped: DataFrame, in_days: str) -> None:
    (
        target.alias("t")
        .merge(
            unmapped.alias("s"),
            f"t.event_date IN ({in_days}) AND t.event_date = s.event_date AND "
            "t.source = s.source AND t.address = s.address AND t.reason = s.reason",
        )
        .whenMatchedUpdate(
            set={
                "value_count": "t.value_count + s.value_count",
                "first_seen": "least(t.first_seen, s.first_seen)",
                "last_seen": "greatest(t.last_seen, s.last_seen)",
                "example_value": "s.example_value",
                "last_ingested_at": "greatest(t.last_ingested_at, s.last_ingested_at)",
            }
        )
        .whenNotMatchedInsertAll()
        .execute()
    )


def build_readings(
    lake: Lake, days: Iterable[date] | None = None, *, rebuild: bool = False
) -> Built:
    """silver.readings. Incremental by default: the bronze rows committed since the last run are
    typed, deduplicated and merged in, and the days they touched are returned. `rebuild=True`
    replaces the given days (all days when none given) from bronze as a whole."""
    _ensure(lake, "silver.readings", "silver.unmapped_addresses", *READING_SOURCES)
    started = time.perf_counter()
    consumer = "silver.readings"
    versions = {t: lake.version(t) for t in READING_SOURCES}
    done = _progress(lake, consumer)
    tags = lake.read("silver.tags")
    wanted = _days(days)
    if rebuild or not done:
        # Days rebuilt beside incremental runs read bronze as far as those runs have: the rows
        # after that are the next incremental run's, so no value is counted twice.
        upto = {t: done.get(t, -1) for t in READING_SOURCES} if wanted and done else versions
        frames = {}
        for t in READING_SOURCES:
            if upto[t] < 0:
                continue
            df = (
                lake.spark.read.format("delta")
                .option("versionAsOf", upto[t])
                .load(str(lake.path(t)))
            )
            if wanted:
                # Sparkplug metrics may be stamped before their message: read a day further.
                df = _between(df, wanted[0], wanted[-1] + timedelta(days=1))
            frames[t] = df
        addressed = _addressed(lake, frames).cache()
        rows = readings.conform_readings(signals.mapped_readings(addressed), tags)
        unmapped = signals.unmapped_addresses(addressed)
        if wanted:
            rows = rows.where(F.col("event_date").isin(wanted))
            lake.replace_partitions("silver.readings", rows, wanted)
            lake.replace_partitions(
                "silver.unmapped_addresses",
                unmapped.where(F.col("event_date").isin(wanted)),
                wanted,
            )
            touched = wanted
        else:
            lake.overwrite("silver.readings", rows)
            lake.overwrite("silver.unmapped_addresses", unmapped)
            touched = [
                r.event_date
                for r in lake.read("silver.readings").select("event_date").distinct().collect()
            ]
        addressed.unpersist()
        if not wanted or not done:
            _save_progress(lake, consumer, versions)
        out = _written(lake, consumer, _days(touched), started, "rebuilt from bronze")
        out.also.append(_written(lake, "silver.unmapped_addresses", _days(touched), started))
        return out
    frames = {}
    for t in READING_SOURCES:
        start = done.get(t, -1) + 1
        if start > versions[t]:
            continue
        changes = (
            lake.spark.read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", start)
            .option("endingVersion", versions[t])
            .load(str(lake.path(t)))
            .where(F.col("_change_type") == "insert")
            .drop("_change_type", "_commit_version", "_commit_timestamp")
        )
        frames[t] = changes
    if not frames:
        return Built(
            consumer,
            0,
            [],
            lake.version(consumer),
            time.perf_counter() - started,
            "no new bronze rows",
        )
    addressed = _addressed(lake, frames).cache()
    new = readings.conform_readings(signals.mapped_readings(addressed), tags).cache()
    unmapped = signals.unmapped_addresses(addressed).cache()
    unmapped_days = sorted(r.event_date for r in unmapped.select("event_date").distinct().collect())
    touched = sorted(r.event_date for r in new.select("event_date").distinct().collect())
    if touched:
        in_days = ", ".join(f"DATE'{d}'" for d in touched)
        rank = "CASE {0}.source WHEN 'opcua' THEN 1 WHEN 'sparkplug' THEN 2 ELSE 3 END"
        target = DeltaTable.forPath(lake.spark, str(lake.path(consumer)))
        (
            target.alias("t")
            .merge(
                new.alias("s"),
                f"t.event_date IN ({in_days}) AND t.event_date = s.event_date AND "
                "t.equipment_id = s.equipment_id AND t.tag = s.tag AND t.event_time = s.event_time",
            )
            .whenMatchedUpdateAll(
                condition=f"(t.quality = 'bad' AND s.quality != 'bad') OR "
                f"(t.quality = s.quality AND {rank.format('s')} < {rank.format('t')})"
            )
            .whenNotMatchedInsertAll()
            .execute()
        )
    added = new.count()
    if unmapped_days:  # after the readings: their merge may run again, this one may not
        _merge_unmapped(lake, unmapped, unmapped_days, sum(versions.values()))
    unmapped.unpersist()
    new.unpersist()
    addressed.unpersist()
    _save_progress(lake, consumer, versions)
    built = Built(
        consumer,
        added,
        touched,
        lake.version(consumer),
        time.perf_counter() - started,
        "merged new bronze rows",
    )
    if unmapped_days:
        built.also.append(
            _written(lake, "silver.unmapped_addresses", unmapped_days, started, "merged")
        )
    return built


def _readings_between(
    lake: Lake, first: date, last: date, tags: Iterable[str] | None = None
) -> DataFrame:
    df = _between(lake.read("silver.readings"), first, last)
    return df.where(F.col("tag").isin(*tags)) if tags else df


# -- silver: states and counts per day -------------------------------------------------------
def build_states(lake: Lake, days: Iterable[date]) -> Built:
    """silver.equipment_states for the given days (intervals starting on them)."""
    days = _days(days)
    _ensure(lake, "silver.equipment_states")
    started = time.perf_counter()
    if not days:
        return Built("silver.equipment_states", 0)
    # An interval left open by an earlier build (a weekend's stop, whose end came with these
    # days' readings) is rebuilt too, so that it gets its end.
    open_since = (
        _between(
            lake.read("silver.equipment_states"),
            days[0] - timedelta(days=OPEN_INTERVAL_LOOKBACK_DAYS),
            days[0] - timedelta(days=1),
        )
        .where(F.col("end_time").isNull())
        .agg(F.min("event_date"))
        .first()[0]
    )
    if open_since is not None:
        days = _days(
            [*days, *(open_since + timedelta(days=i) for i in range((days[0] - open_since).days))]
        )
    src = _readings_between(
        lake, days[0] - timedelta(days=1), days[-1] + timedelta(days=2), STATE_TAGS
    )
    df = states.equipment_states(
        src, lake.read("silver.downtime_events"), day_from=days[0], day_to=days[-1]
    )
    return _replace_days(lake, "silver.equipment_states", df, days, started)


def build_counts(lake: Lake, days: Iterable[date]) -> Built:
    """silver.production_counts for the given days."""
    days = _days(days)
    _ensure(lake, "silver.production_counts", "silver.ideal_cycle_times")
    started = time.perf_counter()
    if not days:
        return Built("silver.production_counts", 0)
    src = _readings_between(
        lake, days[0] - timedelta(days=COUNTER_LOOKBACK_DAYS), days[-1], COUNT_TAGS
    )
    df = counts.production_counts(
        src,
        lake.read("silver.equipment"),
        lake.read("silver.routings"),
        lake.read("silver.work_orders"),
        lake.read("silver.ideal_cycle_times"),
        day_from=days[0],
        day_to=days[-1],
    )
    return _replace_days(lake, "silver.production_counts", df, days, started)


def data_as_of(lake: Lake) -> datetime:
    """The latest event time in silver.readings: how far the data reaches."""
    df = lake.read("silver.readings")
    last_day = df.agg(F.max("event_date")).first()[0]
    if last_day is None:
        return datetime(1970, 1, 1)
    return df.where(F.col("event_date") == last_day).agg(F.max("event_time")).first()[0]


# -- gold ------------------------------------------------------------------------------------
def build_oee(lake: Lake, days: Iterable[date], *, as_of: datetime | None = None) -> Built:
    """gold.oee_shift for shifts starting on the given days."""
    days = _days(days)
    _ensure(lake, "gold.oee_shift", "silver.planned_downtime")
    started = time.perf_counter()
    if days:
        # how far each equipment's data reaches: its open intervals and shifts stop there
        reach = (
            _readings_between(lake, days[0], days[-1] + timedelta(days=1))
            .groupBy("equipment_id")
            .agg(F.max("event_time").alias("as_of"))
        )
        if as_of is not None:
            reach = reach.withColumn("as_of", F.least("as_of", F.lit(as_of).cast("timestamp")))
        st = lake.read("silver.equipment_states").where(
            F.col("event_date").between(
                F.lit(days[0] - timedelta(days=7)), F.lit(days[-1] + timedelta(days=1))
            )
        )
        ct = _between(lake.read("silver.production_counts"), days[0], days[-1] + timedelta(days=1))
        df = oee.oee_shift(
            st,
            ct,
            lake.read("silver.shift_calendar"),
            lake.read("silver.equipment"),
            as_of=reach,
            planned=lake.read("silver.planned_downtime"),
            day_from=days[0],
            day_to=days[-1],
        )
        return _replace_days(lake, "gold.oee_shift", df, days, started)
    return _written(lake, "gold.oee_shift", days, started)


def _whole(lake: Lake, table: str, df: DataFrame, started: float | None = None) -> Built:
    """Replace the whole table with `df`."""
    started = time.perf_counter() if started is None else started
    _ensure(lake, table)
    lake.overwrite(table, df)
    return _written(lake, table, [], started)


def _replace_days(lake: Lake, table: str, df: DataFrame, days: list[date], started: float) -> Built:
    """Replace the given days of a daily-partitioned table with `df`'s rows of those days."""
    lake.replace_partitions(table, df.where(F.col("event_date").isin(days)), days)
    return _written(lake, table, days, started)


def build_oee_rollups(lake: Lake) -> list[Built]:
    """gold.oee_line_day and gold.oee_site_week from all of gold.oee_shift (small)."""
    shifts = lake.read("gold.oee_shift")
    return [
        _whole(lake, "gold.oee_line_day", oee.oee_line_day(shifts)),
        _whole(lake, "gold.oee_site_week", oee.oee_site_week(shifts)),
    ]


def build_downtime_pareto(lake: Lake, days: Iterable[date]) -> Built:
    """gold.downtime_pareto for stops starting on the given days."""
    days = _days(days)
    _ensure(lake, "gold.downtime_pareto")
    started = time.perf_counter()
    st = lake.read("silver.equipment_states").where(F.col("event_date").isin(days))
    df = downtime.downtime_pareto(st, lake.read("silver.equipment"))
    return _replace_days(lake, "gold.downtime_pareto", df, days, started)


def build_quality(lake: Lake, days: Iterable[date]) -> Built:
    """gold.quality for the given days."""
    days = _days(days)
    _ensure(lake, "gold.quality")
    started = time.perf_counter()
    ct = lake.read("silver.production_counts").where(F.col("event_date").isin(days))
    df = quality.quality_by_product(ct, lake.read("silver.equipment"))
    return _replace_days(lake, "gold.quality", df, days, started)


def build_energy(lake: Lake, days: Iterable[date]) -> Built:
    """gold.energy for the given days (the meter reading before each day is its baseline)."""
    days = _days(days)
    _ensure(lake, "gold.energy")
    started = time.perf_counter()
    if not days:
        return Built("gold.energy", 0)
    src = _readings_between(
        lake, days[0] - timedelta(days=COUNTER_LOOKBACK_DAYS), days[-1], ("energy_kwh",)
    )
    ct = lake.read("silver.production_counts").where(F.col("event_date").isin(days))
    df = energy.energy_by_line(
        src, ct, lake.read("silver.equipment"), day_from=days[0], day_to=days[-1]
    )
    return _replace_days(lake, "gold.energy", df, days, started)


def build_reliability(lake: Lake) -> Built:
    """gold.reliability from every state interval (months are small)."""
    states_df = lake.read("silver.equipment_states")
    return _whole(lake, "gold.reliability", reliability.reliability(states_df))


def build_spc(lake: Lake) -> Built:
    """gold.spc from every inspection (baselines are the first points of each chart)."""
    return _whole(lake, "gold.spc", spc.spc_points(lake.read("silver.quality_inspections")))


def build_features(lake: Lake, days: Iterable[date]) -> Built:
    """gold.asset_health_features for the hours of the given days."""
    days = _days(days)
    _ensure(lake, "gold.asset_health_features")
    started = time.perf_counter()
    if not days:
        return Built("gold.asset_health_features", 0)
    src = _readings_between(
        lake,
        days[0] - timedelta(days=1),
        days[-1],
        ("vibration_mm_s", "temperature_c", "power_kw", "tool_wear_pct"),
    )
    st = lake.read("silver.equipment_states").where(
        F.col("event_date").between(F.lit(days[0] - timedelta(days=14)), F.lit(days[-1]))
    )
    ct = _between(lake.read("silver.production_counts"), days[0], days[-1])
    df = features.asset_health_features(
        src, st, ct, lake.read("silver.equipment"), day_from=days[0], day_to=days[-1]
    )
    return _replace_days(lake, "gold.asset_health_features", df, days, started)


def build_quality_features(lake: Lake, days: Iterable[date]) -> Built:
    """gold.quality_features for the hours of the given days (lots looked up 7 days back)."""
    days = _days(days)
    _ensure(lake, "gold.quality_features")
    started = time.perf_counter()
    if not days:
        return Built("gold.quality_features", 0)
    back = days[0] - timedelta(days=7)
    df = quality_features.quality_features(
        _between(lake.read("silver.production_counts"), back, days[-1]),
        _between(lake.read("gold.asset_health_features"), days[0], days[-1]),
        _readings_between(lake, back, days[-1], ("material_lot",)),
        lake.read("silver.shift_calendar"),
        lake.read("silver.equipment"),
        day_from=days[0],
        day_to=days[-1],
    )
    return _replace_days(lake, "gold.quality_features", df, days, started)


def build_asset_state(
    lake: Lake, predictions: DataFrame | None = None, *, as_of: datetime | None = None
) -> Built:
    """gold.asset_state: rebuilt whole from the latest two days of data."""
    _ensure(lake, "gold.asset_state")
    started = time.perf_counter()
    as_of = as_of or data_as_of(lake)
    recent = as_of.date() - timedelta(days=1)
    if predictions is None and lake.exists("gold.maintenance_predictions"):
        latest = Window.partitionBy("equipment_id").orderBy(F.col("hour_start").desc())
        predictions = (
            lake.read("gold.maintenance_predictions")
            .withColumn("_n", F.row_number().over(latest))
            .where("_n = 1")
            .select("equipment_id", "failure_probability", "predicted_at")
        )
    df = asset_state_t.asset_state(
        lake.read("silver.equipment"),
        lake.read("silver.equipment_states"),
        _readings_between(lake, recent, as_of.date(), asset_state_t.KEY_VALUES),
        lake.read("gold.oee_shift"),
        predictions,
        now=datetime.now(UTC).replace(tzinfo=None),
    )
    return _whole(lake, "gold.asset_state", df, started)


@dataclass
class Refresh:
    """What a refresh of the whole graph did, table by table."""

    built: list[Built]
    seconds: float
    days: list[date]


def refresh(lake: Lake, days: Iterable[date] | None = None, *, rebuild: bool = False) -> Refresh:
    """Bring every silver and gold table up to date with bronze, in dependency order.

    Incremental (default): only the bronze rows added since the last refresh are read, and the
    days they touched (with the day before, for intervals and shifts across midnight) rebuilt.
    `rebuild=True` rebuilds the given days (all when none) from bronze.
    """
    started = time.perf_counter()
    built = list(build_master_data(lake, force=rebuild))
    r = build_readings(lake, days, rebuild=rebuild)
    built.append(r)
    built += r.also
    built += build_calendar(lake, force=rebuild)
    touched = _days(r.days)
    around = _days([*touched, *(d - timedelta(days=1) for d in touched)])
    if touched:
        built.append(build_states(lake, around))
        built.append(build_counts(lake, touched))
        as_of = data_as_of(lake)
        built.append(build_oee(lake, around, as_of=as_of))
        built += build_oee_rollups(lake)
        built.append(build_downtime_pareto(lake, around))
        built.append(build_quality(lake, touched))
        built.append(build_energy(lake, touched))
        built.append(build_features(lake, touched))
        built.append(build_quality_features(lake, touched))
        built.append(build_reliability(lake))
        inspections = next(b for b in built if b.table == "silver.quality_inspections")
        if rebuild or inspections.version is not None or not lake.exists("gold.spc"):
            built.append(build_spc(lake))
        built.append(build_asset_state(lake, as_of=as_of))
    return Refresh(built, time.perf_counter() - started, touched)
