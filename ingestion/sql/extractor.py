"""MES/ERP extraction from PostgreSQL: incremental by (updated_at, key) watermark, or full refresh.

Incremental reads page through `(updated_at, key) > watermark` in key order, starting an overlap
window before the watermark so rows committed late with an older `updated_at` are still seen.
Each row version lands once per distinct content (its record id hashes table, key, updated_at
and the row), so the overlap's re-reads add nothing to bronze. The watermark is saved, after the
rows are landed, in a state file beside the landing zone; the bronze loader mirrors it into
`ops.watermarks`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql
from pydantic import BaseModel, Field, field_validator

from ingestion.health import SourceStats
from ingestion.landing import LandingRecord, LandingZone
from ingestion.quarantine import Reason, quarantined
from lakehouse.contracts.mes import MES_TABLES

log = logging.getLogger(__name__)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SqlTable(BaseModel):
    """One source table: qualified name, key columns, and how to extract it."""

    table: str = Field(description="schema.table")
    key: list[str] = Field(min_length=1)
    updated_at: str = "updated_at"
    mode: Literal["incremental", "full"] = "incremental"

    @field_validator("table")
    @classmethod
    def _qualified(cls, value: str) -> str:
        parts = value.split(".")
        if len(parts) != 2 or not all(_IDENT.match(p) for p in parts):
            raise ValueError("expected schema.table with plain identifiers")
        return value

    @field_validator("key")
    @classmethod
    def _identifiers(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _IDENT.match(v)]
        if bad:
            raise ValueError(f"not plain column names: {bad}")
        return value


def contract_tables() -> list[SqlTable]:
    """The MES/ERP tables plantlake extracts, with the keys and modes their contract declares.

    >>> PostgresSourceConfig(name="mes", dbname="plant", user="plantlake", tables=contract_tables())
    """
    return [SqlTable(table=t.name, key=list(t.key), mode=t.mode) for t in MES_TABLES.values()]


class PostgresSourceConfig(BaseModel):
    """One MES/ERP database (an entry of the ingestion YAML)."""

    name: str
    host: str = "127.0.0.1"
    port: int = 5432
    dbname: str
    user: str
    password_env: str | None = None
    tables: list[SqlTable]
    overlap_s: float = 300.0
    page_rows: int = 5000
    poll_interval_s: float = 10.0

    def conninfo(self) -> str:
        password = os.environ.get(self.password_env) if self.password_env else None
        if self.password_env and password is None:
            raise ValueError(
                f"source {self.name!r}: environment variable {self.password_env} (password_env) is not set"
            )
        return psycopg.conninfo.make_conninfo(
            host=self.host,
            port=self.port,
            dbname=self.dbname,
            user=self.user,
            password=password or None,
        )


@dataclass
class Watermark:
    updated_at: datetime | None = None
    key: list | None = None

    def to_json(self) -> dict:
        return {
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "key": self.key,
        }

    @classmethod
    def from_json(cls, data: dict) -> Watermark:
        ts = data.get("updated_at")
        return cls(datetime.fromisoformat(ts) if ts else None, data.get("key"))


@dataclass
class ExtractStats(SourceStats):
    polls: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)


class PostgresExtractor:
    """Polls the configured tables and lands new row versions."""

    # The database is down or unreachable: wait for it (other errors are a broken source).
    TRANSIENT = (psycopg.OperationalError,)

    def __init__(self, config: PostgresSourceConfig, zone: LandingZone):
        self.config = config
        self.zone = zone
        self.stats = ExtractStats(source=config.name)
        self.state_file = zone.root / "_state" / f"{config.name}.json"
        self.watermarks = self._read_state()

    # -- watermark state -------------------------------------------------------------------------
    def _read_state(self) -> dict[str, Watermark]:
        if not self.state_file.exists():
            return {}
        data = json.loads(self.state_file.read_text())
        return {table: Watermark.from_json(w) for table, w in data.items()}

    def _save_state(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({t: w.to_json() for t, w in self.watermarks.items()}))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        tmp.replace(self.state_file)

    # -- rows ------------------------------------------------------------------------------------
    def _record_or_quarantine(self, spec: SqlTable, row: tuple, now: datetime) -> LandingRecord:
        """A row that cannot be landed as read is quarantined with the error: it must not stop
        the table's extraction at every poll."""
        try:
            return self._record(spec, row[0], list(row[2:]), row[1], now)
        except Exception as exc:
            log.error("%s: cannot land a row of %s", self.config.name, spec.table, exc_info=True)
            return quarantined(
                self.config.name,
                spec.table,
                str(row[0]).encode(),
                now,
                Reason.INTERNAL_ERROR,
                f"{type(exc).__name__}: {exc}",
            )

    def _record(
        self, spec: SqlTable, row_json: str, key: list, updated_at: datetime | None, now: datetime
    ) -> LandingRecord:
        if any(k is None for k in key):
            return quarantined(
                self.config.name,
                spec.table,
                row_json.encode(),
                now,
                Reason.NULL_KEY,
                f"{spec.table} row has NULL in key column(s) {[c for c, v in zip(spec.key, key, strict=True) if v is None]}",
            )
        key_json = json.dumps(dict(zip(spec.key, key, strict=True)), default=str, sort_keys=True)
        identity = "\0".join(
            [
                self.config.name,
                spec.table,
                key_json,
                updated_at.isoformat() if updated_at else "",
                row_json,
            ]
        )
        return LandingRecord(
            kind="mes",
            source=self.config.name,
            address=spec.table,
            payload=row_json.encode(),
            received_at=now,
            source_timestamp=updated_at.astimezone(UTC) if updated_at else None,
            attributes={"primary_key": key_json, "extract_mode": spec.mode},
            record_id=hashlib.sha256(identity.encode()).hexdigest(),
        )

    def _select(self, spec: SqlTable, where: str) -> sql.Composed:
        schema, table = spec.table.split(".")
        cols = sql.SQL(", ").join(
            sql.SQL("t.") + sql.Identifier(c) for c in (spec.updated_at, *spec.key)
        )
        condition = {
            "all": sql.SQL(""),
            "since": sql.SQL(" WHERE t.{} >= %s").format(sql.Identifier(spec.updated_at)),
            "after": sql.SQL(" WHERE ({}) > ({})").format(
                cols, sql.SQL(", ").join(sql.Placeholder() for _ in range(1 + len(spec.key)))
            ),
        }[where]
        limit = (
            sql.SQL("")
            if spec.mode == "full"
            else sql.SQL(" LIMIT {}").format(sql.Literal(self.config.page_rows))
        )
        return (
            sql.SQL("SELECT row_to_json(t)::text, {cols} FROM {tbl} AS t").format(
                cols=cols, tbl=sql.Identifier(schema, table)
            )
            + condition
            + sql.SQL(" ORDER BY {} NULLS FIRST").format(cols)
            + limit
        )

    def extract_table(self, conn: psycopg.Connection, spec: SqlTable) -> int:
        """Land every row version of one table past its watermark (minus the overlap); returns rows.

        Rows whose `updated_at` is NULL are read on the first extraction only (they cannot be
        tracked incrementally); full-refresh tables are read whole every time.
        """
        mark = self.watermarks.get(spec.table)
        since = None
        if spec.mode == "incremental" and mark and mark.updated_at:
            since = mark.updated_at - timedelta(seconds=self.config.overlap_s)
        cursor: list | None = None  # (updated_at, *key) of the last row read
        total = 0
        while True:
            if spec.mode == "full":
                rows = conn.execute(self._select(spec, "all")).fetchall()
            elif cursor is not None:
                rows = conn.execute(self._select(spec, "after"), cursor).fetchall()
            elif since is not None:
                rows = conn.execute(self._select(spec, "since"), [since]).fetchall()
            else:
                rows = conn.execute(self._select(spec, "all")).fetchall()
            if not rows:
                break
            now = datetime.now(UTC)
            records = [self._record_or_quarantine(spec, r, now) for r in rows]
            self.zone.write_batch(self.config.name, records)
            total += len(rows)
            bad = sum(r.kind == "quarantine" for r in records)
            self.stats.received += len(rows)
            self.stats.accepted += len(rows) - bad
            self.stats.quarantined += bad
            for r in records:
                if r.kind == "quarantine":
                    self.stats.count({r.attributes["reason_code"]: 1})
            self.stats.landed += len(rows)
            self.stats.batches += 1
            self.stats.last_message_at = now
            cursor = list(rows[-1][1:])
            advances = (
                mark is None
                or mark.updated_at is None
                or (cursor[0] is not None and cursor[0] >= mark.updated_at)
            )
            if spec.mode == "incremental" and cursor[0] is not None and advances:
                key = [v if isinstance(v, int | float | str) else str(v) for v in cursor[1:]]
                self.watermarks[spec.table] = mark = Watermark(cursor[0], key)
                self._save_state()  # only after the rows are landed
            if spec.mode == "full" or len(rows) < self.config.page_rows:
                break
        self.stats.rows_by_table[spec.table] = self.stats.rows_by_table.get(spec.table, 0) + total
        return total

    def poll(self) -> dict[str, int]:
        """One pass over every table; returns rows landed per table."""
        with psycopg.connect(self.config.conninfo(), autocommit=True) as conn:
            out = {spec.table: self.extract_table(conn, spec) for spec in self.config.tables}
        self.stats.polls += 1
        return out

    def check(self) -> list[str]:
        """Problems that keep this source from working: the database or a table out of reach."""
        try:
            with psycopg.connect(
                self.config.conninfo(), autocommit=True, connect_timeout=10
            ) as conn:
                problems = []
                for i, spec in enumerate(self.config.tables):
                    try:
                        conn.execute(
                            sql.SQL("SELECT * FROM {} LIMIT 0").format(
                                sql.Identifier(*spec.table.split("."))
                            )
                        )
                    except psycopg.Error as exc:
                        problems.append(f"tables[{i}] {spec.table}: {str(exc).strip()}")
                return problems
        except psycopg.Error as exc:
            return [f"cannot connect to {self.config.host}:{self.config.port}: {str(exc).strip()}"]

    def watermark_rows(self) -> list[tuple[str, str, datetime | None, str | None]]:
        """(source, table, watermark time, watermark key JSON) for `ops.watermarks`."""
        return [
            (
                self.config.name,
                table,
                w.updated_at,
                json.dumps(w.key, default=str) if w.key is not None else None,
            )
            for table, w in sorted(self.watermarks.items())
        ]


def state_files(landing_root: Path) -> list[Path]:
    return sorted((landing_root / "_state").glob("*.json"))
