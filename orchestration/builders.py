"""The builds that read for themselves: bronze into silver.readings (incremental merge), the MES
master data and calendars (rebuilt when their sources moved), state intervals (which may
reopen earlier days) and asset state (the latest data). The catalog names them in `build`;
`orchestration.steps` runs them like any other.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime, timedelta

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.catalog import get_table
from lakehouse.catalog.silver import STATE_TAGS
from lakehouse.contracts.sources import source_rank_sql
from lakehouse.lake import Lake
from lakehouse.plant_model import PlantModel, lake_model_path, model_for_lake
from orchestration.steps import Built, model_version, written
from transforms.gold import asset_state as asset_state_t
from transforms.silver import master_data as master_data_t
from transforms.silver import mes_events, plant_model, signals, states
from transforms.silver import readings as readings_t

log = logging.getLogger(__name__)

READING_SOURCES = ("bronze.mqtt_messages", "bronze.sparkplug_messages", "bronze.opcua_values")
OPEN_INTERVAL_LOOKBACK_DAYS = 7  # how far back a state interval may still be open


def _days(days) -> list[date]:
    return sorted(set(days or ()))


def _between(df: DataFrame, first: date, last: date, column: str = "event_date") -> DataFrame:
    return df.where(F.col(column).between(F.lit(first), F.lit(last)))


def _whole(lake: Lake, table: str, df: DataFrame, inputs: dict, started: float) -> Built:
    """Replace the whole table with `df`, recording what it was built from."""
    with lake.recorded(table, inputs):
        lake.overwrite(table, df)
    return written(lake, table, [], started, "rebuilt whole")


# -- progress of silver.readings (written last: a failed run is read again) ----------------
def _progress(lake: Lake, consumer: str) -> dict[str, int]:
    rows = lake.read("ops.transform_progress").where(F.col("consumer") == consumer).collect()
    return {r.source_table: r.last_version for r in rows}


def _save_progress(lake: Lake, consumer: str, versions: dict[str, int]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(consumer, t, v, now) for t, v in versions.items()]
    df = lake.spark.createDataFrame(rows, get_table("ops.transform_progress").schema)
    lake.upsert("ops.transform_progress", df)


def lake_model(lake: Lake) -> PlantModel | None:
    """The lake's plant model, or None when it has none (MES master data still builds)."""
    if not lake_model_path(lake.root).exists():
        return None
    return model_for_lake(lake.root)


# -- silver: master data and MES events (small: rebuilt whole when their sources moved) -----
# Which MES/ERP source tables each silver table reads ("plant_model": the lake's model file).
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
MAX_UNRECORDED_VERSIONS = 50  # bronze commits a master table may lag behind before recorded


def _changed_sources(lake: Lake, since: dict[str, int], until: int) -> dict[str, set[str]]:
    """Per table, the MES source tables of the bronze.mes_rows rows committed after its `since`."""
    first = min(since.values())
    rows = (
        lake.spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", first + 1)
        .option("endingVersion", until)
        .load(str(lake.path("bronze.mes_rows")))
        .select("source_table", "_commit_version")
        .distinct()
        .collect()
    )
    return {t: {r.source_table for r in rows if r._commit_version > v} for t, v in since.items()}


def master_data(lake: Lake, *, rebuild: bool | list[date] = False) -> list[Built]:
    """silver.equipment, tags, products, routings, ideal_cycle_times, work_orders,
    downtime_events and quality_inspections from bronze.mes_rows. Each is rebuilt whole (they
    are small), only when rows of its source tables (or the plant model) changed since."""
    version = lake.version("bronze.mes_rows")
    model_crc = model_version(lake)
    consumed = {t: lake.progress(t) for t in MASTER_SOURCES}
    since = {t: p.get("bronze.mes_rows") for t, p in consumed.items()}
    if rebuild is True or any(v is None for v in since.values()):
        changed = {t: set(MASTER_SOURCES[t]) for t in MASTER_SOURCES}
    else:
        stale = {t: v for t, v in since.items() if v < version}
        changed = {t: set() for t in MASTER_SOURCES}
        if stale:
            try:
                changed.update(_changed_sources(lake, stale, version))
            except PySparkException as exc:  # the log of that range was cleaned up
                log.warning("bronze.mes_rows changes since %s unreadable (%s)", stale, exc)
                changed.update({t: set(MASTER_SOURCES[t]) for t in stale})
    for t in MASTER_SOURCES:
        if "plant_model" in MASTER_SOURCES[t] and consumed[t].get("plant_model") != model_crc:
            changed[t].add("plant_model")
    todo = [t for t in MASTER_SOURCES if changed[t] & set(MASTER_SOURCES[t])]
    built = []
    for t in MASTER_SOURCES:
        if t in todo:
            continue
        if version - (since[t] or 0) > MAX_UNRECORDED_VERSIONS:
            # nothing to rebuild, but record how far it is up to date, so that the change
            # feed read next time stays short (and within the log's retention)
            lake.record(t, {**consumed[t], "bronze.mes_rows": version})
        built.append(Built(t, 0, note="its sources did not change", wrote=False))
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
    model = lake_model(lake)
    declared = cycle_times = None
    if model is not None:
        declared = plant_model.model_equipment(spark, model)
        cycle_times = plant_model.model_cycle_times(spark, model)
    if cycle_times is None:
        cycle_times = spark.createDataFrame([], get_table("silver.ideal_cycle_times").schema)
    frames = {
        "silver.equipment": lambda: master_data_t.equipment(mes, declared=declared),
        "silver.ideal_cycle_times": lambda: cycle_times,
        "silver.tags": lambda: master_data_t.tags(mes),
        "silver.products": lambda: master_data_t.products(mes),
        "silver.routings": lambda: master_data_t.routings(mes),
        "silver.work_orders": lambda: mes_events.work_orders(mes),
        "silver.downtime_events": lambda: mes_events.downtime_events(mes),
        "silver.quality_inspections": lambda: mes_events.quality_inspections(
            mes, lake.read("silver.work_orders")
        ),
    }
    inputs = {"bronze.mes_rows": version, "plant_model": model_crc}
    for table in todo:  # in MASTER_SOURCES order: equipment and work orders before their users
        built.append(_whole(lake, table, frames[table](), inputs, time.perf_counter()))
    mes.unpersist()
    return built


# -- silver: shift calendar and planned downtime (the MES's and the model's) --------------
CALENDAR_TABLES = ("silver.shift_calendar", "silver.planned_downtime")
CALENDAR_SOURCES = ("mes.shift_calendar", "mes.equipment")


def _data_days(lake: Lake) -> tuple[date, date] | None:
    """The first and last day of silver.readings."""
    row = lake.read("silver.readings").agg(F.min("event_date"), F.max("event_date")).first()
    return None if row[0] is None else (row[0], row[1])


def calendar(lake: Lake, *, rebuild: bool | list[date] = False) -> list[Built]:
    """silver.shift_calendar and silver.planned_downtime: the MES's shifts and the plant model's
    site calendars laid out over the days of silver.readings (a day more on each side).
    Rebuilt whole (small) when the MES's shifts or equipment, the model, silver.equipment or
    the days of data changed."""
    version = lake.version("bronze.mes_rows")
    span = _data_days(lake)
    inputs = {
        "bronze.mes_rows": version,
        "silver.equipment": lake.version("silver.equipment"),
        "plant_model": model_version(lake),
        "span": str(span),
    }
    consumed = lake.progress("silver.shift_calendar")
    if not rebuild and consumed:
        moved = {k for k, v in inputs.items() if consumed.get(k) != v}
        if moved == {"bronze.mes_rows"}:
            since = {"calendar": consumed["bronze.mes_rows"]}
            try:
                sources = _changed_sources(lake, since, version)["calendar"]
            except PySparkException:  # the log of that range was cleaned up: rebuild
                sources = set(CALENDAR_SOURCES)
            if not sources & set(CALENDAR_SOURCES):
                moved = set()
        if not moved:
            return [
                Built(t, 0, note="the MES, the model and the days did not change", wrote=False)
                for t in CALENDAR_TABLES
            ]
    started = time.perf_counter()
    mes = (
        lake.spark.read.format("delta")
        .option("versionAsOf", inputs["bronze.mes_rows"])
        .load(str(lake.path("bronze.mes_rows")))
        .where(F.col("source_table").isin(*CALENDAR_SOURCES))
    )
    model = lake_model(lake)
    model_shifts = model_windows = None
    if model is not None and span is not None:
        first = span[0] - timedelta(days=CALENDAR_MARGIN_DAYS)
        last = span[1] + timedelta(days=CALENDAR_MARGIN_DAYS)
        model_shifts, model_windows = plant_model.model_shifts(lake.spark, model, first, last)
    shifts = master_data_t.shift_calendar(
        mes, lake.read("silver.equipment"), model_shifts, model_windows
    )
    built = [_whole(lake, "silver.shift_calendar", shifts, inputs, started)]
    windows = master_data_t.planned_downtime(lake.read("silver.shift_calendar"), model_windows)
    built.append(_whole(lake, "silver.planned_downtime", windows, inputs, time.perf_counter()))
    return built


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
    txn = {
        "spark.databricks.delta.write.txnAppId": UNMAPPED_TXN_APP,
        "spark.databricks.delta.write.txnVersion": str(txn_version),
    }
    with lake.session_settings(txn):
        lake.merge(
            "silver.unmapped_addresses",
            unmapped,
            f"t.event_date IN ({in_days}) AND t.event_date = s.event_date AND "
            "t.source = s.source AND t.address = s.address AND t.reason = s.reason",
            update={
                "value_count": "t.value_count + s.value_count",
                "first_seen": "least(t.first_seen, s.first_seen)",
                "last_seen": "greatest(t.last_seen, s.last_seen)",
                "example_value": "s.example_value",
                "last_ingested_at": "greatest(t.last_ingested_at, s.last_ingested_at)",
            },
        )


# Session settings for writing silver.readings: its deduplication keeps one row of groups of one
# or two, where Spark's top-k sort before the shuffle (WindowGroupLimit) only sorts everything
# twice (8 of 24 s on a day of 2.3 M readings).
DEDUP_SETTINGS = {"spark.sql.optimizer.windowGroupLimitThreshold": "-1"}


def readings(lake: Lake, *, rebuild: bool | list[date] = False) -> list[Built]:
    """silver.readings. Incremental by default: the bronze rows committed since the last run are
    typed, deduplicated and merged in (late data lands in its own day). `rebuild=True` rebuilds
    every day from bronze, `rebuild=[days]` those days; the days written are in the result."""
    started = time.perf_counter()
    consumer = "silver.readings"
    lake.create("ops.transform_progress")
    versions = {t: lake.version(t) for t in READING_SOURCES}
    done = _progress(lake, consumer)
    tags = lake.read("silver.tags")
    wanted = _days(rebuild) if isinstance(rebuild, list) else []
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
        rows = readings_t.conform_readings(signals.mapped_readings(addressed), tags)
        unmapped = signals.unmapped_addresses(addressed)
        if wanted:
            rows = rows.where(F.col("event_date").isin(wanted))
            with lake.session_settings(DEDUP_SETTINGS):
                lake.replace_partitions("silver.readings", rows, wanted)
            lake.replace_partitions(
                "silver.unmapped_addresses",
                unmapped.where(F.col("event_date").isin(wanted)),
                wanted,
            )
            touched = wanted
        else:
            before = lake.version(consumer)
            with lake.session_settings(DEDUP_SETTINGS):
                lake.overwrite("silver.readings", rows)
            lake.overwrite("silver.unmapped_addresses", unmapped)
            # the days the overwrite wrote or removed, from its commit (no Spark job)
            touched = sorted(lake.changed_days(consumer, before) or ())
        addressed.unpersist()
        if not wanted or not done:
            _save_progress(lake, consumer, versions)
        return [
            written(lake, consumer, _days(touched), started, "rebuilt from bronze"),
            written(lake, "silver.unmapped_addresses", _days(touched), started),
        ]
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
        return [
            Built(consumer, 0, note="no new bronze rows", wrote=False),
            Built("silver.unmapped_addresses", 0, note="no new bronze rows", wrote=False),
        ]
    addressed = _addressed(lake, frames).cache()
    with lake.session_settings(DEDUP_SETTINGS):  # a cached frame is planned when cache() is called
        new = readings_t.conform_readings(signals.mapped_readings(addressed), tags).cache()
        touched = sorted(r.event_date for r in new.select("event_date").distinct().collect())
    unmapped = signals.unmapped_addresses(addressed).cache()
    unmapped_days = sorted(r.event_date for r in unmapped.select("event_date").distinct().collect())
    if touched:
        in_days = ", ".join(f"DATE'{d}'" for d in touched)
        lake.merge(
            consumer,
            new,
            f"t.event_date IN ({in_days}) AND t.event_date = s.event_date AND "
            "t.equipment_id = s.equipment_id AND t.tag = s.tag AND t.event_time = s.event_time",
            update="*",
            update_when=f"(t.quality = 'bad' AND s.quality != 'bad') OR "
            f"(t.quality = s.quality AND {source_rank_sql('s')} < {source_rank_sql('t')})",
        )
    added = new.count()
    if unmapped_days:  # after the readings: their merge may run again, this one may not
        _merge_unmapped(lake, unmapped, unmapped_days, sum(versions.values()))
    unmapped.unpersist()
    new.unpersist()
    addressed.unpersist()
    _save_progress(lake, consumer, versions)
    built = [
        Built(
            consumer,
            added,
            touched,
            lake.version(consumer),
            time.perf_counter() - started,
            "merged new bronze rows",
            wrote=bool(touched),
        )
    ]
    if unmapped_days:
        built.append(written(lake, "silver.unmapped_addresses", unmapped_days, started, "merged"))
    else:
        built.append(Built("silver.unmapped_addresses", 0, note="no unmapped values", wrote=False))
    return built


def _readings_between(lake: Lake, first: date, last: date, tags=()) -> DataFrame:
    df = _between(lake.read("silver.readings"), first, last)
    return df.where(F.col("tag").isin(*tags)) if tags else df


# -- silver: state intervals per day ---------------------------------------------------------
def equipment_states(lake: Lake, first: date, last: date) -> tuple[DataFrame, list[date]]:
    """silver.equipment_states for intervals starting in [first, last], and the days built.

    An interval left open by an earlier build (a weekend's stop, whose end came with these
    days' readings) is rebuilt too, from its own day, so that it gets its end.
    """
    open_since = (
        _between(
            lake.read("silver.equipment_states"),
            first - timedelta(days=OPEN_INTERVAL_LOOKBACK_DAYS),
            first - timedelta(days=1),
        )
        .where(F.col("end_time").isNull())
        .agg(F.min("event_date"))
        .first()[0]
    )
    first = min(first, open_since or first)
    src = _readings_between(lake, first - timedelta(days=1), last + timedelta(days=2), STATE_TAGS)
    df = states.equipment_states(
        src, lake.read("silver.downtime_events"), day_from=first, day_to=last
    )
    return df, [first + timedelta(days=i) for i in range((last - first).days + 1)]


# -- gold.asset_state: the latest data ------------------------------------------------------
def data_as_of(lake: Lake) -> datetime:
    """The latest event time in silver.readings: how far the data reaches."""
    df = lake.read("silver.readings")
    last_day = df.agg(F.max("event_date")).first()[0]
    if last_day is None:
        return datetime(1970, 1, 1)
    return df.where(F.col("event_date") == last_day).agg(F.max("event_time")).first()[0]


def asset_state(lake: Lake) -> DataFrame:
    """gold.asset_state from the latest two days of data and the latest predictions."""
    as_of = data_as_of(lake)
    recent = as_of.date() - timedelta(days=1)
    latest = Window.partitionBy("equipment_id").orderBy(F.col("hour_start").desc())
    predictions = (
        lake.read("gold.maintenance_predictions")
        .withColumn("_n", F.row_number().over(latest))
        .where("_n = 1")
        .select("equipment_id", "failure_probability", "predicted_at")
    )
    return asset_state_t.asset_state(
        lake.read("silver.equipment"),
        lake.read("silver.equipment_states"),
        _readings_between(lake, recent, as_of.date(), asset_state_t.KEY_VALUES),
        lake.read("gold.oee_shift"),
        predictions,
        now=datetime.now(UTC).replace(tzinfo=None),
    )
