"""The landing zone: append-only Parquet files that connectors write and the bronze loader reads.

A batch is written to a hidden temporary name, fsynced, and atomically renamed into
`<root>/<source>/date=YYYY-MM-DD/<batch id>.parquet`, then the folder is fsynced: a reader sees
a whole batch or nothing, and a batch acknowledged to the source survives a crash. The zone is
also the store-and-forward buffer while the lake is down.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

# What a connector hands over, whatever the protocol; `kind` says which bronze table it feeds.
KINDS = ("mqtt", "sparkplug", "opcua", "mes", "quarantine")

# A landed record, declared once: (name, type as the catalog names it, nullable). Connectors
# write it with Arrow (`arrow_schema`), the bronze loader reads it with Spark (`spark_schema`).
LANDING_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("record_id", "string", False),
    ("kind", "string", False),
    ("source", "string", False),
    ("address", "string", True),
    ("payload", "binary", True),
    ("attributes", "map<string,string>", True),
    ("source_timestamp", "timestamp", True),
    ("received_at", "timestamp", False),
    ("batch_id", "string", False),
)
_ARROW_TYPES = {
    "string": pa.string(),
    "binary": pa.binary(),
    "map<string,string>": pa.map_(pa.string(), pa.string()),
    # Spark reads microsecond UTC instants as its timestamp type
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def arrow_schema() -> pa.Schema:
    """The landing files' schema, as connectors write them."""
    return pa.schema(
        [pa.field(name, _ARROW_TYPES[kind], nullable=null) for name, kind, null in LANDING_COLUMNS]
    )


def spark_schema() -> StructType:
    """The landing files' schema as a Spark StructType, as the bronze loader reads them."""
    # Imported here: connectors land records without Spark; only the loader's process needs it.
    from pyspark.sql import types as T

    from lakehouse.catalog.spec import Column

    return T.StructType(
        [T.StructField(n, Column(n, kind, "").data_type, null) for n, kind, null in LANDING_COLUMNS]
    )


LANDING_SCHEMA = arrow_schema()


class LandingError(ValueError):
    """A record cannot be landed as given (unknown kind, naive timestamp, …)."""


@dataclass(frozen=True)
class LandingRecord:
    """One message or row as received, with where it came from and when."""

    kind: str
    source: str
    address: str | None
    payload: bytes | None
    received_at: datetime
    source_timestamp: datetime | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    record_id: str | None = None

    def resolved_id(self) -> str:
        """The record id: given by the connector, else a hash of source, address and payload.

        Connectors pass an id when the same bytes may legitimately arrive twice (e.g. a
        Sparkplug `seq` that wraps); otherwise identical bytes are the same message.
        """
        if self.record_id:
            return self.record_id
        digest = hashlib.sha256()
        for part in (self.kind, self.source, self.address or ""):
            digest.update(part.encode("utf-8", "surrogatepass"))  # names decoded with escapes
            digest.update(b"\0")
        digest.update(self.payload or b"")
        return digest.hexdigest()


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise LandingError(f"{name} {value!r} has no time zone; connectors land UTC-aware times")
    return value.astimezone(UTC)


def to_table(records: Iterable[LandingRecord], batch_id: str) -> pa.Table:
    """The records as an Arrow table of LANDING_SCHEMA."""
    columns: dict[str, list] = {name: [] for name in LANDING_SCHEMA.names}
    for rec in records:
        if rec.kind not in KINDS:
            raise LandingError(f"record kind {rec.kind!r} is not one of {KINDS}")
        columns["record_id"].append(rec.resolved_id())
        columns["kind"].append(rec.kind)
        columns["source"].append(rec.source)
        columns["address"].append(rec.address)
        columns["payload"].append(rec.payload)
        columns["attributes"].append(list(rec.attributes.items()))
        columns["source_timestamp"].append(_utc(rec.source_timestamp, "source_timestamp"))
        columns["received_at"].append(_utc(rec.received_at, "received_at"))
        columns["batch_id"].append(batch_id)
    try:
        return pa.Table.from_pydict(columns, schema=LANDING_SCHEMA)
    except UnicodeEncodeError:  # a name decoded with surrogate escapes (asyncua, paho) is not
        # UTF-8: land it with the bad bytes written as \x.. rather than lose the batch
        for name in ("source", "address"):
            columns[name] = [_landable(v) for v in columns[name]]
        columns["attributes"] = [
            [(_landable(k), _landable(v)) for k, v in pairs] for pairs in columns["attributes"]
        ]
        return pa.Table.from_pydict(columns, schema=LANDING_SCHEMA)


def _landable(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _warm_up() -> None:
    """Pay pyarrow's lazy imports (pandas, for table metadata; about 2 s on a small machine) when
    a connector starts, not while its first batch holds unacknowledged messages."""
    pq.write_table(to_table([], "warm-up"), io.BytesIO(), compression="zstd")


class LandingZone:
    """The landing folder of one lake: `<root>/<source>/date=YYYY-MM-DD/<batch>.parquet`."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        _warm_up()

    def write_batch(
        self, source: str, records: Iterable[LandingRecord], batch_id: str | None = None
    ) -> Path | None:
        """Land one batch durably and atomically; returns its file (None for an empty batch).

        Only after this returns may the connector acknowledge the batch to its source.
        """
        batch_id = batch_id or f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
        table = to_table(records, batch_id)
        if table.num_rows == 0:
            return None
        day = table["received_at"][0].as_py().date()
        folder = self.root / source / f"date={day:%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{batch_id}.parquet"
        temporary = folder / f".{batch_id}.parquet.tmp"  # hidden: Spark's file source skips it
        with open(temporary, "wb") as sink:
            pq.write_table(table, sink, compression="zstd")
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, final)
        _fsync_dir(folder)
        return final

    def files(self, source: str | None = None) -> list[Path]:
        """Landed files (of one source), oldest name first."""
        base = self.root / source if source else self.root
        return sorted(p for p in base.rglob("*.parquet") if not p.name.startswith("."))

    def backlog_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files())
