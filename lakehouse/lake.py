"""The lake: every catalog table as a Delta table under one root, addressable by name.

`open_lake()` gives a SparkSession in which `bronze.x`, `silver.x`, `gold.x` and `ops.x` resolve,
plus helpers to create, append to, upsert into and read those tables. Writes are checked against
the catalog first and commit atomically, so a refused write leaves the table as it was.
"""

from __future__ import annotations

import json
import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.catalog import LAYERS, TableSpec, all_tables, get_table
from lakehouse.settings import Settings, get_settings
from lakehouse.spark import get_spark

log = logging.getLogger(__name__)

# One catalog per process (in-memory): which lake folder each registered name points at.
_registered: dict[str, Path] = {}
_evolved: set[Path] = set()  # tables whose columns were checked against the catalog


class SchemaMismatchError(ValueError):
    """A DataFrame does not have the columns and types its target table declares."""

    def __init__(
        self,
        table: str,
        missing: list[str],
        unexpected: list[str],
        wrong_type: list[tuple[str, str, str]],
    ):
        self.table, self.missing, self.unexpected, self.wrong_type = (
            table,
            missing,
            unexpected,
            wrong_type,
        )
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if unexpected:
            parts.append(f"columns not in the table {unexpected}")
        for name, got, want in wrong_type:
            parts.append(f"column {name!r} is {got}, the table wants {want}")
        super().__init__(f"write to {table} refused, nothing written: " + "; ".join(parts))


class DuplicateKeyError(ValueError):
    """An upsert's input has several rows for one primary key, so the result would be ambiguous."""


@dataclass(frozen=True)
class Commit:
    """One Delta commit as its log records it."""

    version: int
    operation: str
    metrics: dict[str, str]
    user_metadata: dict = field(default_factory=dict)  # what the writer recorded (JSON object)

    @classmethod
    def from_log(cls, version: int, path: Path) -> Commit:
        """The commit of one `_delta_log/<version>.json` file."""
        info: dict = {}
        for line in path.read_text().splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                info = action["commitInfo"]
                break
        try:
            recorded = json.loads(info.get("userMetadata") or "{}")
        except ValueError:
            recorded = {}
        return cls(
            version,
            info.get("operation", ""),
            info.get("operationMetrics", {}),
            recorded if isinstance(recorded, dict) else {},
        )

    @property
    def rows_written(self) -> int | None:
        """Rows the commit wrote: output rows of a write, inserted + updated rows of a MERGE."""
        m = self.metrics
        if "numOutputRows" in m and self.operation != "MERGE":
            return int(m["numOutputRows"])
        if "numTargetRowsInserted" in m:
            return int(m["numTargetRowsInserted"]) + int(m.get("numTargetRowsUpdated", 0))
        return None


class TableMissingError(LookupError):
    """A declared table has not been created in this lake yet."""


@dataclass(frozen=True)
class TableInfo:
    """What `plantlake tables` shows about one table."""

    spec: TableSpec
    exists: bool
    rows: int | None = None
    version: int | None = None
    last_update: datetime | None = None
    size_bytes: int | None = None


def schema_problems(spec: TableSpec, df: DataFrame) -> SchemaMismatchError | None:
    """The mismatch between `df` and the table's declared schema, or None if it fits.

    Types must match exactly (nullability and column order aside): no silent casts into the lake.
    """
    missing, unexpected, wrong = spec.mismatches(df.schema)
    if missing or unexpected or wrong:
        return SchemaMismatchError(spec.full_name, missing, unexpected, wrong)
    return None


class Lake:
    """The Delta tables of one lake root, registered by name in the process's SparkSession."""

    def __init__(self, spark: SparkSession, root: Path | str):
        self.spark = spark
        self.root = Path(root).resolve()
        self._last_days: dict[tuple[str, int], date | None] = {}  # (table, version) → last day

    # -- where tables live -------------------------------------------------------------------
    def path(self, name: str) -> Path:
        spec = get_table(name)
        return self.root / spec.layer / spec.name

    def exists(self, name: str) -> bool:
        return (self.path(name) / "_delta_log").is_dir()

    def attach(self) -> list[str]:
        """Register every table that exists under this root by its name; returns their names.

        Cheap (no data is read; names the session's catalog already holds are kept): call it
        again to see tables another process created since.
        """
        listed = self._listed()
        attached = []
        for spec in all_tables():
            if self.exists(spec.full_name):
                self._register(spec, listed)
                attached.append(spec.full_name)
        return attached

    def _listed(self) -> set[str]:
        """The lake's names the session's catalog holds (a warm engine's: all of them)."""
        names = set()
        for layer in LAYERS:
            self._ensure_database(layer)
            shown = self.spark.sql(f"SHOW TABLES IN {layer}").collect()  # resolves none of them
            names |= {f"{layer}.{r.tableName}" for r in shown if not r.isTemporary}
        return names

    def _ensure_database(self, layer: str) -> None:
        if not self.spark.catalog.databaseExists(layer):
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {layer}")

    def _register(self, spec: TableSpec, listed: set[str] | None = None) -> None:
        """Give the table its name in the session's catalog, if it has not got it. A name this
        process pointed at another lake's table is pointed here (tests open several lakes);
        a name it did not register is left as it is (a warm engine's, of this same lake)."""
        name, path = spec.full_name, self.path(spec.full_name)
        known = _registered.get(name)
        if known is None or known == path:
            try:
                present = (
                    name in listed if listed is not None else self.spark.catalog.tableExists(name)
                )
            except Exception:  # the name points at files deleted since: registered anew below
                present, known = False, Path("/nonexistent")
            if present:
                _registered[name] = path
                return
        if known is not None and known != path:
            # dropping a table registered by LOCATION forgets the name; the files stay
            self.spark.sql(f"DROP TABLE IF EXISTS {name}")
        self.spark.sql(
            f"CREATE TABLE IF NOT EXISTS {name} USING delta LOCATION {_quoted(str(path))}"
        )
        _registered[name] = path

    def sql(self, query: str) -> DataFrame:
        """`spark.sql(query)`, registering on demand the lake's tables it names (a session
        opened with `open_lake(attach=False)` answers its first query without registering
        every table first)."""
        from pyspark.errors import AnalysisException

        tried: set[str] = set()
        while True:
            try:
                return self.spark.sql(query)
            except AnalysisException as exc:
                name = _missing_table(exc)
                if name is None or name in tried or name not in _names() or not self.exists(name):
                    raise
                tried.add(name)
                self._ensure_database(get_table(name).layer)
                self._register(get_table(name))

    # -- creating ----------------------------------------------------------------------------
    def create_all(self) -> list[str]:
        """Create every declared table that does not exist yet (idempotent); returns the new ones."""
        created = []
        for spec in all_tables():
            if self.create(spec.full_name):
                created.append(spec.full_name)
        return created

    def create(self, name: str) -> bool:
        """Create one declared table if it does not exist; True if this call created it."""
        spec = get_table(name)
        self._ensure_database(spec.layer)
        if self.exists(name):
            self._register(spec)
            self._add_new_columns(spec)
            return False
        try:
            self.spark.sql(_create_sql(spec, self.path(name)))
        except Exception:  # Delta's conflicts reach classic PySpark as Py4JJavaError
            # Another process may have created it at the same moment: that is success too.
            if not self.exists(name):
                raise
            log.info("%s was created concurrently by another process", name)
        self._register(spec)
        return True

    def _add_new_columns(self, spec: TableSpec) -> None:
        """Columns the catalog declares and an existing table lacks are added to it (nullable,
        with their description), once per process: a lake written by an earlier release takes
        the new columns instead of refusing every write. Removed or retyped columns are left to
        a person (a rebuild), never done silently."""
        path = self.path(spec.full_name)
        if path in _evolved:
            return
        have = {f.name for f in self.spark.table(spec.full_name).schema.fields}
        missing = [f for f in spec.schema.fields if f.name not in have]
        if missing:
            columns = ", ".join(
                f"`{f.name}` {f.dataType.simpleString()} COMMENT "
                + _quoted(f.metadata.get("comment") or "")
                for f in missing
            )
            try:
                self.spark.sql(f"ALTER TABLE {spec.full_name} ADD COLUMNS ({columns})")
            except Exception:  # Delta's conflicts reach classic PySpark as Py4JJavaError
                # Another process may have added them at the same moment: that is success too.
                self.spark.catalog.refreshTable(spec.full_name)
                have = {f.name for f in self.spark.table(spec.full_name).schema.fields}
                if any(f.name not in have for f in missing):
                    raise
            log.info(
                "%s: added the catalog's new columns %s", spec.full_name, [f.name for f in missing]
            )
        _evolved.add(path)

    # -- reading -----------------------------------------------------------------------------
    def read(self, name: str) -> DataFrame:
        """The table as a DataFrame; TableMissingError if it was never created in this lake."""
        spec = get_table(name)
        if not self.exists(name):
            raise TableMissingError(
                f"table {name} does not exist in {self.root}: run `plantlake tables --create` "
                f"or the pipeline that builds it"
            )
        self._register(spec)
        return self.spark.table(name)

    def version(self, name: str) -> int:
        """The table's current Delta version (read from the transaction log, no Spark job)."""
        return self.last_commit(name).version

    def last_commit(self, name: str) -> Commit:
        """The latest commit of a table: version, operation and its metrics (rows written, …).

        Read from the newest JSON file of `_delta_log` (Delta writes one per commit), so asking
        costs no Spark job.
        """
        commits = self._commits(name)
        if not commits:
            raise TableMissingError(
                f"table {name} has no commit in {self.path(name) / '_delta_log'}"
            )
        return Commit.from_log(*commits[-1])

    def commits_after(self, name: str, version: int) -> list[Commit]:
        """The table's commits after `version` whose log files are still there (no Spark job)."""
        return [Commit.from_log(v, p) for v, p in self._commits(name) if v > version]

    def _commits(self, name: str) -> list[tuple[int, Path]]:
        log_dir = self.path(name) / "_delta_log"
        return sorted((int(p.stem), p) for p in log_dir.glob("*.json") if p.stem.isdigit())

    def progress(self, name: str, *, look_back: int = 100) -> dict:
        """What the latest build of `name` recorded it read (`commit_metadata`), or {}.

        Read from the newest commits of the log (no Spark job); commits by other writers
        (an OPTIMIZE, an ML scorer) are passed over.
        """
        for version, path in reversed(self._commits(name)[-look_back:]):
            recorded = Commit.from_log(version, path).user_metadata
            if "inputs" in recorded:
                return recorded["inputs"]
        return {}

    @contextmanager
    def session_settings(self, values: dict[str, str], session: SparkSession | None = None):
        """Spark settings of the lake's session (or the given one) for the block, unset after."""
        conf = (session or self.spark).conf
        for key, value in values.items():
            conf.set(key, value)
        try:
            yield
        finally:
            for key in values:
                conf.unset(key)

    def commit_metadata(self, metadata: dict, session: SparkSession | None = None):
        """Record `metadata` (JSON) in the commits made inside the block (what a build read),
        by the lake's session or the given one (a streaming micro-batch's)."""
        key = "spark.databricks.delta.commitInfo.userMetadata"
        return self.session_settings({key: json.dumps(metadata, sort_keys=True)}, session)

    def _commit_without_rows(
        self, name: str, metadata: dict, prop: str, shown: dict, session: SparkSession | None
    ) -> None:
        """A commit of no rows recording `metadata`: it sets the table property `prop` to
        `shown` (Delta commits no write that changed nothing, but a property change)."""
        value = json.dumps(shown, sort_keys=True).replace("'", "")
        with self.commit_metadata(metadata, session):
            (session or self.spark).sql(
                f"ALTER TABLE {_at(self.path(name))} SET TBLPROPERTIES ('{prop}' = '{value}')"
            )

    def record(self, name: str, inputs: dict) -> None:
        """Record `inputs` as what `name` is up to date with, in a commit of no rows."""
        self._commit_without_rows(name, {"inputs": inputs}, "plantlake.built_from", inputs, None)

    def note(self, name: str, metadata: dict, session: SparkSession | None = None) -> None:
        """A commit of no rows that records `metadata` (the property `plantlake.noted` keeps
        the last one): for a writer whose write changed nothing, which Delta does not commit."""
        self._commit_without_rows(name, metadata, "plantlake.noted", metadata, session)

    @contextmanager
    def recorded(self, name: str, inputs: dict):
        """Write `name` inside the block and record `inputs` (what the write was built from) in
        the same commit. A write that changed nothing (empty onto empty) makes no commit in
        Delta, so then a property change records them: `progress()` always finds them."""
        before = self.version(name)
        with self.commit_metadata({"inputs": inputs}):
            yield
        if self.version(name) == before:
            self.record(name, inputs)

    def changed_days(self, name: str, since: int) -> set | None:
        """The event_date partitions the commits after version `since` added or removed files
        in, from the log (no Spark job); None when a commit file is gone (cleaned up)."""
        commits = [(v, p) for v, p in self._commits(name) if v > since]
        latest = self.version(name)
        if len(commits) != latest - since:
            return None
        days = set()
        for _, path in commits:
            for line in path.read_text().splitlines():
                action = json.loads(line)
                change = action.get("add") or action.get("remove")
                if change is None or change.get("dataChange") is False:
                    continue  # a compaction moves rows between files; no row changed
                day = (change.get("partitionValues") or {}).get("event_date")
                if day:
                    days.add(date.fromisoformat(day))
        return days

    def last_day(self, name: str) -> date | None:
        """The table's latest event_date: a query of the partition column, asked once per
        version of the table (the steps of a run ask it of the same input again and again)."""
        key = (name, self.version(name))
        if key not in self._last_days:
            self._last_days[key] = self.read(name).agg(F.max("event_date")).first()[0]
        return self._last_days[key]

    def days(self, name: str) -> set:
        """Every event_date the table holds (its partitions)."""
        return {r[0] for r in self.read(name).select("event_date").distinct().collect()}

    def info(self, name: str) -> TableInfo:
        spec = get_table(name)
        if not self.exists(name):
            return TableInfo(spec, exists=False)
        detail = self.spark.sql(f"DESCRIBE DETAIL {_at(self.path(name))}").first()
        return TableInfo(
            spec,
            exists=True,
            rows=self.read(name).count(),
            version=self.version(name),
            last_update=detail["lastModified"],
            size_bytes=detail["sizeInBytes"],
        )

    # -- writing -----------------------------------------------------------------------------
    def _checked(self, name: str, df: DataFrame) -> tuple[TableSpec, DataFrame]:
        spec = get_table(name)
        problem = schema_problems(spec, df)
        if problem is not None:
            raise problem
        if not self.exists(name):
            raise TableMissingError(f"table {name} does not exist in {self.root}: create it first")
        return spec, df.select(*spec.column_names)

    def append(self, name: str, df: DataFrame, *, txn: tuple[str, int] | None = None) -> int:
        """Append `df` in one commit; returns the new table version.

        `txn=(writer id, batch number)` makes the append idempotent: Delta skips a batch number
        it has already committed for that writer, so a replayed batch is not counted twice.
        """
        _, df = self._checked(name, df)
        writer = df.write.format("delta").mode("append")
        if txn is not None:
            writer = writer.option("txnAppId", txn[0]).option("txnVersion", txn[1])
        writer.save(str(self.path(name)))
        return self.version(name)

    def insert_new(self, name: str, df: DataFrame, *, lookback_days: int = 0) -> int:
        """Append only the rows whose primary key the table does not hold yet; returns the version.

        The idempotent load for append-only tables (bronze): replaying a batch adds nothing.
        Duplicates within `df` itself are collapsed to one row per key. A key is looked up in
        its own `event_date` partition; `lookback_days` widens that to the days before the
        batch's, for rows dated by when they arrived (a message received again a day later).
        """
        spec, df = self._checked(name, df)
        key = self._key(spec)
        partitions = [c for c in spec.partition_by if c not in key]
        if lookback_days and partitions == ["event_date"]:
            low, high = df.agg(F.min("event_date"), F.max("event_date")).first()
            if low is None:
                return self.version(name)
            window = (
                f"t.`event_date` BETWEEN DATE'{low - timedelta(days=lookback_days)}' "
                f"AND DATE'{high}'"
            )
            on = " AND ".join([*(f"t.`{k}` <=> s.`{k}`" for k in key), window])
        else:
            on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in [*key, *partitions])
        return self.merge(name, df.dropDuplicates(key), on)

    def overwrite(self, name: str, df: DataFrame) -> int:
        """Replace the whole table with `df` in one commit (readers see the old or the new)."""
        _, df = self._checked(name, df)
        df.write.format("delta").mode("overwrite").save(str(self.path(name)))
        return self.version(name)

    def replace_partitions(self, name: str, df: DataFrame, dates: list) -> int:
        """Replace the given `event_date` partitions with `df` in one commit; others stay.

        Rows of `df` outside those dates are refused by Delta, so a rebuild of some days can
        never touch another day.
        """
        spec, df = self._checked(name, df)
        if "event_date" not in spec.partition_by:
            raise ValueError(f"{name} is not partitioned by event_date")
        if not dates:
            return self.version(name)
        days = ", ".join(f"DATE'{d}'" for d in sorted(set(dates)))
        (
            df.write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", f"event_date IN ({days})")
            .save(str(self.path(name)))
        )
        return self.version(name)

    @staticmethod
    def _key(spec: TableSpec) -> list[str]:
        if not spec.primary_key:
            raise DuplicateKeyError(f"table {spec.full_name} declares no primary key")
        return list(spec.primary_key)

    def upsert(self, name: str, df: DataFrame) -> int:
        """Insert new keys and update changed rows (Delta MERGE on the primary key); returns the version.

        Rows identical to what the table holds are left untouched, so upserting the same rows
        twice changes nothing. DuplicateKeyError if `df` has two rows for one key.
        """
        spec, df = self._checked(name, df)
        if not spec.primary_key:
            raise DuplicateKeyError(
                f"table {name} declares no primary key, so it cannot be upserted"
            )
        key = list(spec.primary_key)
        dupes = df.groupBy(*key).count().where("count > 1").limit(5).collect()
        if dupes:
            sample = [tuple(row[k] for k in key) for row in dupes]
            raise DuplicateKeyError(
                f"upsert into {name} refused, nothing written: several input rows share the key "
                f"{tuple(key)}, e.g. {sample}"
            )
        on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in key)
        others = [c for c in spec.column_names if c not in key]
        changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in others) or None
        return self.merge(name, df, on, update="*" if changed else None, update_when=changed)

    def merge(
        self,
        name: str,
        source: DataFrame,
        on: str,
        *,
        update: str | dict[str, str] | None = None,
        update_when: str | None = None,
        insert: bool = True,
    ) -> int:
        """MERGE `source` (alias `s`) into the table (alias `t`) on `on`, in one commit; returns
        the version. Matched rows are updated when `update` is given ("*": every column from
        `s`; or {column: SQL expression}), only where `update_when` holds; unmatched rows are
        inserted unless `insert` is False. Spoken as SQL, so it runs the same in a local
        session and through a Spark Connect engine (where the DeltaTable API does not)."""
        view = f"plantlake_merge_{uuid.uuid4().hex}"
        clauses = []
        if update is not None:
            when = f" AND ({update_when})" if update_when else ""
            sets = "*" if update == "*" else ", ".join(f"t.`{c}` = {e}" for c, e in update.items())
            clauses.append(f"WHEN MATCHED{when} THEN UPDATE SET {sets}")
        if insert:
            clauses.append("WHEN NOT MATCHED THEN INSERT *")
        # in the source's own session: a streaming micro-batch has one of its own, whose
        # temporary views the lake's session does not see
        session = source.sparkSession
        source.createOrReplaceTempView(view)
        try:
            session.sql(
                f"MERGE INTO {_at(self.path(name))} AS t USING {view} AS s ON {on} "
                + " ".join(clauses)
            )
        finally:
            session.catalog.dropTempView(view)
        return self.version(name)


def _names() -> set[str]:
    return {spec.full_name for spec in all_tables()}


def _missing_table(exc: Exception) -> str | None:
    """The `layer.table` a query named that the catalog does not hold, from Spark's error."""
    if getattr(exc, "getCondition", lambda: None)() != "TABLE_OR_VIEW_NOT_FOUND":
        return None
    relation = (exc.getMessageParameters() or {}).get("relationName", "")
    return relation.replace("`", "").removeprefix("spark_catalog.").lower() or None


def _at(path: Path) -> str:
    """A Delta table by its location, as SQL names it."""
    return "delta.`" + str(path).replace("`", "``") + "`"


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _create_sql(spec: TableSpec, path: Path) -> str:
    """CREATE TABLE of a declared table at its location: columns with their types, NOT NULL
    and descriptions, partitioning, description and properties (change feed on)."""
    properties = {"delta.enableChangeDataFeed": "true", **spec.properties}
    parts = [f"CREATE TABLE IF NOT EXISTS {_at(path)} ({spec.schema.toDDL()}) USING delta"]
    if spec.partition_by:
        parts.append("PARTITIONED BY (" + ", ".join(f"`{c}`" for c in spec.partition_by) + ")")
    parts.append(f"COMMENT {_quoted(spec.description)}")
    parts.append(
        "TBLPROPERTIES ("
        + ", ".join(f"{_quoted(k)} = {_quoted(str(v))}" for k, v in properties.items())
        + ")"
    )
    return " ".join(parts)


MARKER = ".plantlake-lake"


def is_plantlake_lake(root: Path) -> bool:
    """True when `root` was made by plantlake (it holds the marker) or is an empty folder."""
    root = Path(root)
    return (root / MARKER).exists() or (root.is_dir() and not any(root.iterdir()))


def open_lake(settings: Settings | None = None, *, attach: bool = True) -> Lake:
    """The lake of the settings, with every existing table registered by name: the one line.
    With `attach=False` names are registered as `Lake.sql` and `Lake.read` meet them.

    >>> lake = open_lake()
    >>> lake.spark.sql("SELECT count(*) FROM bronze.mqtt_messages").show()
    """
    settings = settings or get_settings()
    root = Path(settings.lake_root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).touch()
    lake = Lake(get_spark(settings), root)
    if attach:
        lake.attach()
    return lake
