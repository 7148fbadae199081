"""Sparkplug B as a host application reads it (specification 3.0): births build the alias map,
`seq` is checked, every datatype is decoded from the generated protobuf classes; what cannot be
decoded with certainty is quarantined with a precise reason and, where a birth would help, a rebirth.
"""

from __future__ import annotations

import json
import math
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import DecodeError
from pysparkplug import DataType, Metric, NCmd
from pysparkplug._protobuf import Payload

from ingestion.landing import LandingRecord
from ingestion.quarantine import Reason, quarantined

NAMESPACE = "spBv1.0"
BD_SEQ = "bdSeq"
REBIRTH_METRIC = "Node Control/Rebirth"
STATE = "STATE"
MAX_PAYLOAD_BYTES = 1024 * 1024
NODE_MESSAGES = ("NBIRTH", "NDATA", "NDEATH", "NCMD")
DEVICE_MESSAGES = ("DBIRTH", "DDATA", "DDEATH", "DCMD")
MESSAGE_TYPES = (*NODE_MESSAGES, *DEVICE_MESSAGES, STATE)
BIRTHS = ("NBIRTH", "DBIRTH")
SEQUENCED = ("NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH")
# A redelivered message gets its first record back; per node, the last RECENT_IDS messages
# are remembered, within RECENT_BYTES of payload and decoded JSON.
RECENT_IDS = 512
RECENT_BYTES = 8 * 1024 * 1024

# Milliseconds since 1970 that Python's datetime can hold (0001-01-01 … 9999-12-31), and so
# the range of every timestamp we land (Spark's bigint holds all of them).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MS = -62135596800000
_MAX_MS = 253402300799999
_MAX_BIGINT = 2**63 - 1
_TAHU_NULL_DATETIME = 2**63  # Tahu writes a null DataSet DateTime as Long.MIN_VALUE

_SIGNED_BITS = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}
_UNSIGNED_BITS = {DataType.UINT8: 8, DataType.UINT16: 16, DataType.UINT32: 32, DataType.UINT64: 64}
# Integers travel in int_value (uint32) or long_value (uint64); Tahu writes UInt32 in long_value.
_FIELD_BITS = {"int_value": 32, "long_value": 64}
_VALUE_FIELD = {
    DataType.FLOAT: "float_value",
    DataType.DOUBLE: "double_value",
    DataType.BOOLEAN: "boolean_value",
    DataType.STRING: "string_value",
    DataType.TEXT: "string_value",
    DataType.UUID: "string_value",
    DataType.DATETIME: "long_value",
    DataType.BYTES: "bytes_value",
    DataType.FILE: "bytes_value",
}
_ARRAY_FORMATS = {  # struct formats of the packed little-endian arrays
    DataType.INT8_ARRAY: "b",
    DataType.INT16_ARRAY: "h",
    DataType.INT32_ARRAY: "i",
    DataType.INT64_ARRAY: "q",
    DataType.UINT8_ARRAY: "B",
    DataType.UINT16_ARRAY: "H",
    DataType.UINT32_ARRAY: "I",
    DataType.UINT64_ARRAY: "Q",
    DataType.FLOAT_ARRAY: "f",
    DataType.DOUBLE_ARRAY: "d",
    DataType.DATETIME_ARRAY: "q",
}
_ARRAYS = frozenset((*_ARRAY_FORMATS, DataType.BOOLEAN_ARRAY, DataType.STRING_ARRAY))
# Basic types (Int8 … Text) are those of DataSet columns, template parameters and properties.
_BASIC = frozenset(DataType(number) for number in range(1, 15))
_METRIC_TYPES = frozenset(DataType) - {
    DataType.UNKNOWN,
    DataType.PROPERTYSET,
    DataType.PROPERTYSETLIST,
}
_PROPERTY_TYPES = _BASIC | {DataType.PROPERTYSET, DataType.PROPERTYSETLIST}
# Invalid in a Sparkplug id: the spec's + / #; we also refuse control characters.
_ID_FORBIDDEN = frozenset("+/#\x7f") | frozenset(chr(c) for c in range(0x20))


def is_sparkplug_topic(topic: str) -> bool:
    """Whether the MQTT topic belongs to Sparkplug B: `spBv1.0/…` or the 2.x `STATE/<host id>`."""
    return topic.startswith(NAMESPACE + "/") or (
        topic.startswith(STATE + "/") and topic.count("/") == 1
    )


def host_state(host_id: str, *, online: bool, timestamp_ms: int) -> tuple[str, bytes]:
    """The Sparkplug 3.0 STATE topic and JSON payload of a host application (its retained birth
    with online=True, its will with online=False; both carry the same timestamp).

    >>> host_state("plantlake", online=True, timestamp_ms=1668114759262)
    ('spBv1.0/STATE/plantlake', b'{"online":true,"timestamp":1668114759262}')
    """
    _check_id("host id", host_id)
    if not isinstance(online, bool):
        raise ValueError(f"online must be true or false, not {online!r}")
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int):
        raise ValueError(
            f"timestamp_ms must be whole milliseconds since 1970, not {timestamp_ms!r}"
        )
    if not 0 <= timestamp_ms <= _MAX_MS:
        raise ValueError(f"timestamp_ms {timestamp_ms} is not a time between 1970 and 9999")
    payload = json.dumps({"online": online, "timestamp": timestamp_ms}, separators=(",", ":"))
    return f"{NAMESPACE}/{STATE}/{host_id}", payload.encode()


def rebirth_request(group_id: str, edge_node_id: str, now_ms: int) -> tuple[str, bytes]:
    """The NCMD topic and payload that ask an edge node to publish its births again."""
    _check_id("group id", group_id)
    _check_id("edge node id", edge_node_id)
    payload = NCmd(
        timestamp=now_ms,
        metrics=(
            Metric(timestamp=now_ms, name=REBIRTH_METRIC, datatype=DataType.BOOLEAN, value=True),
        ),
    )
    return f"{NAMESPACE}/{group_id}/NCMD/{edge_node_id}", payload.encode(include_dtypes=True)


def _id_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if value in (".", ".."):
        return "is '.' or '..'"
    bad = next((c for c in value if c in _ID_FORBIDDEN), None)
    if bad is not None:
        return f"contains {bad!r}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


def _id_detail(what: str, value: str, problem: str) -> str:
    return (
        f"{what} {value!r} {problem}: a Sparkplug id is non-empty UTF-8 without + / # "
        "(and plantlake also refuses '.', '..' and control characters)"
    )


def _check_id(what: str, value: str) -> None:
    problem = _id_problem(value)
    if problem is not None:
        raise ValueError(_id_detail(what, value, problem))


class _Rejected(Exception):
    def __init__(self, reason: Reason, detail: str, rebirth: bool = False):
        self.reason, self.detail, self.rebirth = reason, detail, rebirth
        self.seq_consumed = False  # the message's seq was counted: a redelivery is not a gap


@dataclass(frozen=True)
class SparkplugTopic:
    """An edge node or device topic: `spBv1.0/<group>/<message type>/<edge node>[/<device>]`."""

    group_id: str
    message_type: str
    edge_node_id: str
    device_id: str | None

    @classmethod
    def parse(cls, topic: str) -> SparkplugTopic | None:
        """The parts of a valid edge node or device topic, else None."""
        try:
            parsed = _route(topic)
        except _Rejected:
            return None
        return parsed if isinstance(parsed, SparkplugTopic) else None

    @property
    def node(self) -> tuple[str, str]:
        return (self.group_id, self.edge_node_id)


@dataclass(frozen=True)
class _HostTopic:
    """A host application's STATE topic: 3.0 `spBv1.0/STATE/<host id>` or 2.x `STATE/<host id>`."""

    host_id: str
    legacy: bool


def _route(topic: str) -> SparkplugTopic | _HostTopic:
    parts = topic.split("/")
    if len(parts) == 2 and parts[0] == STATE:
        _valid_id(topic, "host id", parts[1])
        return _HostTopic(parts[1], legacy=True)
    if parts[0] != NAMESPACE:
        raise _Rejected(
            Reason.UNKNOWN_TOPIC_LAYOUT, f"topic {topic!r} is not under {NAMESPACE}/ or STATE/"
        )
    if len(parts) == 3 and parts[1] == STATE:
        _valid_id(topic, "host id", parts[2])
        return _HostTopic(parts[2], legacy=False)
    layout = (
        f"topic {topic!r} is not {NAMESPACE}/<group>/<message type>/<edge node>[/<device>] "
        f"nor {NAMESPACE}/STATE/<host id>"
    )
    if len(parts) not in (4, 5):
        raise _Rejected(Reason.UNKNOWN_TOPIC_LAYOUT, layout)
    group_id, message_type, edge_node_id = parts[1:4]
    device_id = parts[4] if len(parts) == 5 else None
    if message_type not in MESSAGE_TYPES or message_type == STATE:
        raise _Rejected(
            Reason.UNKNOWN_MESSAGE_TYPE,
            f"topic {topic!r}: {message_type!r} is not one of {', '.join(MESSAGE_TYPES[:-1])}",
        )
    _valid_id(topic, "group id", group_id)
    _valid_id(topic, "edge node id", edge_node_id)
    if message_type in DEVICE_MESSAGES and device_id is None:
        raise _Rejected(Reason.UNKNOWN_TOPIC_LAYOUT, f"{layout}: a {message_type} names a device")
    if message_type in NODE_MESSAGES and device_id is not None:
        raise _Rejected(Reason.UNKNOWN_TOPIC_LAYOUT, f"{layout}: a {message_type} names no device")
    if device_id is not None:
        _valid_id(topic, "device id", device_id)
    return SparkplugTopic(group_id, message_type, edge_node_id, device_id)


def _valid_id(topic: str, what: str, value: str) -> None:
    problem = _id_problem(value)
    if problem is not None:
        raise _Rejected(
            Reason.UNKNOWN_TOPIC_LAYOUT, f"topic {topic!r}: {_id_detail(what, value, problem)}"
        )


# -- values ------------------------------------------------------------------------------------
def _text(value: str | bytes, where: str) -> str:
    # upb hands a proto2 string field that is not UTF-8 over as bytes
    if isinstance(value, bytes):
        raise _Rejected(Reason.INVALID_UTF8, f"{where} is not valid UTF-8: {value[:40]!r}")
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _non_finite(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _double(value: float) -> float | str:
    return value if math.isfinite(value) else _non_finite(value)


def _float32(value: float) -> float | str:
    """A Float as the shortest decimal that reads back as the same 32-bit float (12.1, not
    12.100000381469727); NaN and ±Infinity as strings, which strict JSON can carry."""
    if not math.isfinite(value):
        return _non_finite(value)
    for digits in range(1, 10):  # 9 significant digits always round-trip a float32
        shortest = float(f"{value:.{digits}g}")
        try:
            if struct.unpack("<f", struct.pack("<f", shortest))[0] == value:
                return shortest
        except OverflowError:  # rounded beyond the largest float32
            continue
    return value


def _datetime(ms: int, where: str) -> str:
    if not _MIN_MS <= ms <= _MAX_MS:
        raise _Rejected(
            Reason.VALUE_OUT_OF_RANGE,
            f"{where}: DATETIME {ms} ms since 1970 is outside the years 1-9999",
        )
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat()


def _integer(dtype: DataType, raw: int, value_field: str, where: str) -> int:
    width = _FIELD_BITS[value_field]
    if dtype in _UNSIGNED_BITS:
        bits = _UNSIGNED_BITS[dtype]
        if raw >= 1 << bits:
            raise _Rejected(
                Reason.VALUE_OUT_OF_RANGE,
                f"{where}: {dtype.name} value {raw} ({value_field}) is outside 0..{(1 << bits) - 1}",
            )
        return raw
    bits = _SIGNED_BITS[dtype]
    half = 1 << (bits - 1)
    if raw < half:
        return raw
    if raw < 1 << bits:  # N-bit two's complement (pysparkplug, mqtt-spb-wrapper)
        return raw - (1 << bits)
    if raw >= (1 << width) - half:  # sign-extended to the field's width (Tahu)
        return raw - (1 << width)
    raise _Rejected(
        Reason.VALUE_OUT_OF_RANGE,
        f"{where}: {dtype.name} {value_field} {raw} (0x{raw:X}) is neither a {bits}-bit two's "
        f"complement nor one sign-extended to {width} bits",
    )


def _array(dtype: DataType, data: bytes, where: str) -> list:
    """A packed array (spec 6.4.17): little-endian elements; BooleanArray a 4-byte little-endian
    count then bits, first element in the high bit; StringArray NUL-terminated UTF-8 strings."""
    if dtype == DataType.BOOLEAN_ARRAY:
        count = int.from_bytes(data[:4], "little")
        if len(data) < 4 or len(data) - 4 != (count + 7) // 8:
            raise _Rejected(
                Reason.BAD_DATATYPE,
                f"{where}: BOOLEAN_ARRAY of {len(data)} bytes is not a 4-byte count and "
                f"{(count + 7) // 8} bytes of bits for {count} booleans",
            )
        return [bool(data[4 + (i >> 3)] & (0x80 >> (i & 7))) for i in range(count)]
    if dtype == DataType.STRING_ARRAY:
        if not data:
            return []
        if data[-1] != 0:
            raise _Rejected(
                Reason.BAD_DATATYPE, f"{where}: STRING_ARRAY does not end with a NUL terminator"
            )
        try:
            return [part.decode("utf-8") for part in data[:-1].split(b"\0")]
        except UnicodeDecodeError as exc:
            raise _Rejected(
                Reason.INVALID_UTF8, f"{where}: STRING_ARRAY holds a string that is not UTF-8"
            ) from exc
    fmt = _ARRAY_FORMATS[dtype]
    size = struct.calcsize(fmt)
    if len(data) % size:
        raise _Rejected(
            Reason.BAD_DATATYPE,
            f"{where}: {dtype.name} of {len(data)} bytes is not a whole number of {size}-byte elements",
        )
    values = [value for (value,) in struct.iter_unpack("<" + fmt, data)]
    if dtype == DataType.FLOAT_ARRAY:
        return [_float32(v) for v in values]
    if dtype == DataType.DOUBLE_ARRAY:
        return [_double(v) for v in values]
    if dtype == DataType.DATETIME_ARRAY:
        return [_datetime(v, where) for v in values]
    return values


def _scalar(dtype: DataType, holder: Any, value_field: str | None, where: str) -> Any:
    """The JSON value of a non-structured value in a protobuf `oneof value` (of a metric, a
    DataSet cell, a template parameter or a property)."""
    if value_field is None:
        return None
    raw = getattr(holder, value_field)
    if dtype in _SIGNED_BITS or dtype in _UNSIGNED_BITS:
        if value_field in _FIELD_BITS:
            return _integer(dtype, raw, value_field, where)
        expected = "int_value or long_value"
    else:
        expected = "bytes_value" if dtype in _ARRAYS else _VALUE_FIELD.get(dtype)
        if value_field == expected:
            if dtype == DataType.FLOAT:
                return _float32(raw)
            if dtype == DataType.DOUBLE:
                return _double(raw)
            if dtype == DataType.DATETIME:  # a Java long, as Tahu writes Date.getTime()
                return _datetime(raw - (1 << 64) if raw > _MAX_BIGINT else raw, where)
            if value_field == "string_value":
                return _text(raw, where)
            if dtype in _ARRAYS:
                return _array(dtype, raw, where)
            return raw.hex() if value_field == "bytes_value" else raw
    shown = "a third-party extension" if value_field == "extension_value" else _shown(raw)
    raise _Rejected(
        Reason.BAD_DATATYPE,
        f"{where} is {dtype.name} but carries {value_field} {shown} (expected {expected})",
    )


def _datatype(number: int, allowed: frozenset[DataType], where: str) -> DataType:
    if number == 0:
        raise _Rejected(Reason.BAD_DATATYPE, f"{where} has no datatype")
    try:
        dtype = DataType(number)
    except ValueError:
        raise _Rejected(
            Reason.BAD_DATATYPE, f"{where} has datatype {number}, not a Sparkplug B datatype"
        ) from None
    if dtype not in allowed:
        raise _Rejected(Reason.BAD_DATATYPE, f"{where} cannot be of datatype {dtype.name}")
    return dtype


def _bigint(value: int, what: str, where: str) -> int:
    if value > _MAX_BIGINT:
        raise _Rejected(
            Reason.VALUE_OUT_OF_RANGE,
            f"{where}: {what} {value} does not fit a signed 64-bit bigint",
        )
    return value


def _timestamp(ms: int, where: str) -> int:
    if ms > _MAX_MS:
        raise _Rejected(
            Reason.BAD_TIMESTAMP, f"{where}: timestamp {ms} ms since 1970 is after the year 9999"
        )
    return ms


# -- structured values -------------------------------------------------------------------------
def _dataset(ds: Any, where: str) -> dict:
    """{"columns": [...], "types": [...], "rows": [[...], ...]} (spec 6.4.8-6.4.10)."""
    if len(ds.columns) != len(ds.types) or (
        ds.HasField("num_of_columns") and ds.num_of_columns != len(ds.columns)
    ):
        raise _Rejected(
            Reason.BAD_DATATYPE,
            f"{where}: DataSet declares {ds.num_of_columns} columns, names {len(ds.columns)} "
            f"and types {len(ds.types)}",
        )
    columns = [_text(c, f"{where} DataSet column #{i + 1}") for i, c in enumerate(ds.columns)]
    types = [
        _datatype(t, _BASIC, f"{where} DataSet column {c!r}")
        for c, t in zip(columns, ds.types, strict=True)
    ]
    rows = []
    for r, row in enumerate(ds.rows, start=1):
        if len(row.elements) != len(types):
            raise _Rejected(
                Reason.BAD_DATATYPE,
                f"{where}: DataSet row {r} has {len(row.elements)} values for {len(types)} columns",
            )
        cells = []
        for column, dtype, cell in zip(columns, types, row.elements, strict=True):
            value_field = cell.WhichOneof("value")
            if (
                dtype == DataType.DATETIME
                and value_field == "long_value"
                and cell.long_value == _TAHU_NULL_DATETIME
            ):
                cells.append(None)
                continue
            cells.append(_scalar(dtype, cell, value_field, f"{where} row {r} column {column!r}"))
        rows.append(cells)
    return {"columns": columns, "types": [t.name for t in types], "rows": rows}


def _properties(ps: Any, where: str) -> dict:
    """A PropertySet as a JSON object (spec 6.4.5-6.4.7); nested sets and lists as well."""
    if len(ps.keys) != len(ps.values):
        raise _Rejected(
            Reason.BAD_DATATYPE,
            f"{where}: PropertySet has {len(ps.keys)} keys and {len(ps.values)} values",
        )
    out: dict[str, Any] = {}
    for i, (key, pv) in enumerate(zip(ps.keys, ps.values, strict=True), start=1):
        key = _text(key, f"{where} key #{i}")
        at = f"{where} property {key!r}"
        if key in out:
            raise _Rejected(Reason.DUPLICATE_KEY, f"{at} appears twice")
        value_field = pv.WhichOneof("value")
        if pv.is_null or value_field is None:
            out[key] = None
            continue
        dtype = _datatype(pv.type, _PROPERTY_TYPES, at)
        if dtype == DataType.PROPERTYSET and value_field == "propertyset_value":
            out[key] = _properties(pv.propertyset_value, at)
        elif dtype == DataType.PROPERTYSETLIST and value_field == "propertysets_value":
            out[key] = [_properties(p, at) for p in pv.propertysets_value.propertyset]
        else:
            out[key] = _scalar(dtype, pv, value_field, at)
    return out


def _metadata(md: Any, where: str) -> dict:
    out: dict[str, Any] = {}
    for name in ("is_multi_part", "size", "seq"):
        if md.HasField(name):
            out[name] = getattr(md, name)
    for name in ("content_type", "file_name", "file_type", "md5", "description"):
        if md.HasField(name):
            out[name] = _text(getattr(md, name), f"{where} metadata {name}")
    return out


@dataclass(frozen=True)
class _Birth:
    """What an NBIRTH or DBIRTH declared: names and datatypes by alias, datatypes by name
    (template members under `<metric>/<member>`)."""

    by_alias: dict[int, tuple[str, int]]
    datatypes: dict[str, int]

    @classmethod
    def of(cls, entries: list[dict]) -> _Birth:
        by_alias, datatypes = {}, {}
        for entry in entries:
            number = DataType[entry["datatype"]].value
            datatypes[entry["name"]] = number
            if entry["alias"] is not None:
                by_alias[entry["alias"]] = (entry["name"], number)
        return cls(by_alias, datatypes)


def _template(
    t: Any, path: str, timestamp: int | None, where: str, birth: _Birth | None
) -> tuple[dict, list[dict]]:
    """The value of a Template metric (spec 6.4.11-6.4.12), and for an instance each member as
    a metric of its own named `<metric>/<member>` (the members of a nested template in turn as
    `<metric>/<member>/<its member>`)."""
    parameters: dict[str, Any] = {}
    for i, p in enumerate(t.parameters, start=1):
        if not p.HasField("name"):
            raise _Rejected(Reason.NULL_KEY, f"{where}: template parameter #{i} has no name")
        name = _text(p.name, f"{where} template parameter #{i}")
        at = f"{where} template parameter {name!r}"
        if name in parameters:
            raise _Rejected(Reason.DUPLICATE_KEY, f"{at} appears twice")
        dtype = _datatype(p.type, _BASIC, at)
        parameters[name] = _scalar(dtype, p, p.WhichOneof("value"), at)
    members, flat = [], []
    for i, m in enumerate(t.metrics, start=1):
        if not m.HasField("name"):
            raise _Rejected(Reason.NULL_KEY, f"{where}: template member #{i} has no name")
        name = _text(m.name, f"{where} template member #{i}")
        member_path = f"{path}/{name}"
        number = m.datatype or (birth.datatypes.get(member_path, 0) if birth else 0)
        entry, nested = _metric_json(
            m, name, number, f"{where} member {name!r}", member_path, timestamp, birth
        )
        members.append(entry)
        if t.is_definition:
            continue
        if entry["datatype"] == DataType.TEMPLATE.name:
            flat.extend(nested)  # a nested template: its own members, not its whole value again
        else:
            flat.append({**entry, "name": member_path, "alias": None})
    value = {
        "template_ref": _text(t.template_ref, f"{where} template_ref")
        if t.HasField("template_ref")
        else None,
        "version": _text(t.version, f"{where} version") if t.HasField("version") else None,
        "is_definition": t.is_definition,
        "parameters": parameters,
        "metrics": members,
    }
    return value, flat


def _metric_json(
    m: Any,
    name: str,
    number: int,
    where: str,
    path: str,
    parent_timestamp: int | None,
    birth: _Birth | None,
) -> tuple[dict, list[dict]]:
    """One metric as JSON, and the metrics its template members become."""
    dtype = _datatype(number, _METRIC_TYPES, where)
    alias = _bigint(m.alias, "alias", where) if m.HasField("alias") else None
    timestamp = _timestamp(m.timestamp, where) if m.HasField("timestamp") else parent_timestamp
    value_field = m.WhichOneof("value")
    is_null = m.is_null or value_field is None
    value, members = None, []
    if is_null:
        pass
    elif dtype == DataType.DATASET and value_field == "dataset_value":
        value = _dataset(m.dataset_value, where)
    elif dtype == DataType.TEMPLATE and value_field == "template_value":
        value, members = _template(m.template_value, path, timestamp, where, birth)
    elif dtype in (DataType.DATASET, DataType.TEMPLATE) or value_field in (
        "dataset_value",
        "template_value",
    ):
        raise _Rejected(Reason.BAD_DATATYPE, f"{where} is {dtype.name} but carries {value_field}")
    else:
        value = _scalar(dtype, m, value_field, where)
    entry = {
        "name": name,
        "alias": alias,
        "timestamp": timestamp,
        "datatype": dtype.name,
        "value": value,
        "is_null": is_null,
    }
    if m.HasField("properties"):
        entry["properties"] = _properties(m.properties, where)
    if m.HasField("metadata"):
        entry["metadata"] = _metadata(m.metadata, where)
    if m.is_historical:
        entry["is_historical"] = True
    if m.is_transient:
        entry["is_transient"] = True
    return entry, members


def _metrics(pb_metrics: Any, kind: str, birth: _Birth | None) -> list[dict]:
    """The JSON entries of a message's metrics, each followed by its template members.

    Births must name and type every metric, once; data and commands may give only an alias and
    take name and datatype from `birth`."""
    entries: list[dict] = []
    names: set[str] = set()
    aliases: set[int] = set()
    which_birth = "NBIRTH" if kind in NODE_MESSAGES else "DBIRTH"
    for i, m in enumerate(pb_metrics, start=1):
        name = _text(m.name, f"metric #{i} name") if m.HasField("name") else None
        alias = m.alias if m.HasField("alias") else None
        where = (
            f"metric {name!r}"
            if name is not None
            else (f"metric #{i}" if alias is None else f"metric alias {alias}")
        )
        number = m.datatype
        if birth is not None and kind not in BIRTHS:
            declared = birth.by_alias.get(alias) if alias is not None else None
            if name is None and declared is not None:
                name = declared[0]
                where = f"metric {name!r} (alias {alias})"
            if number == 0:
                number = declared[1] if declared is not None else birth.datatypes.get(name or "", 0)
        if name is None:
            if alias is None:
                raise _Rejected(
                    Reason.NULL_KEY, f"{where} of the {kind} has neither name nor alias"
                )
            raise _Rejected(
                Reason.UNKNOWN_ALIAS,
                f"metric alias {alias} is not in the {which_birth}",
                rebirth=kind in SEQUENCED,
            )
        if number == 0 and kind not in BIRTHS:
            raise _Rejected(
                Reason.UNKNOWN_ALIAS,
                f"{where} has no datatype and is not in the {which_birth}",
                rebirth=kind in SEQUENCED,
            )
        if kind in BIRTHS:
            if name in names or (alias is not None and alias in aliases):
                twice = f"name {name!r}" if name in names else f"alias {alias}"
                raise _Rejected(Reason.DUPLICATE_KEY, f"the {kind} declares {twice} twice")
            names.add(name)
            if alias is not None:
                aliases.add(alias)
        entry, members = _metric_json(m, name, number, where, name, None, birth)
        entries.append(entry)
        entries.extend(members)
    return entries


def _parse(payload: bytes, kind: str) -> Any:
    if not payload:
        raise _Rejected(Reason.EMPTY_PAYLOAD, f"{kind} payload is empty")
    try:
        return Payload.FromString(payload)
    except DecodeError as exc:
        raise _Rejected(
            Reason.NOT_PROTOBUF, f"{kind} payload is not a Sparkplug B protobuf: {exc}"
        ) from None


def _payload_timestamp(pb: Any, kind: str) -> int:
    if not pb.HasField("timestamp"):
        raise _Rejected(Reason.MISSING_TIMESTAMP, f"{kind} payload has no timestamp")
    return _timestamp(pb.timestamp, f"{kind} payload")


def _ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else _EPOCH + timedelta(milliseconds=ms)


# -- STATE -------------------------------------------------------------------------------------
def _no_constant(name: str) -> None:
    raise _Rejected(Reason.INVALID_JSON, f"STATE payload holds {name}, which JSON does not allow")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Rejected(Reason.DUPLICATE_KEY, f"STATE payload has the key {key!r} twice")
        out[key] = value
    return out


def _host_state(topic: _HostTopic, payload: bytes) -> tuple[bool, int | None]:
    """(online, timestamp ms) of a STATE payload: 3.0 JSON `{"online": …, "timestamp": …}`,
    2.x the text ONLINE or OFFLINE."""
    if not payload:
        raise _Rejected(Reason.EMPTY_PAYLOAD, "STATE payload is empty")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Rejected(
            Reason.INVALID_UTF8, f"STATE payload is not UTF-8: {exc.reason} at byte {exc.start}"
        ) from None
    if topic.legacy:
        if text not in ("ONLINE", "OFFLINE"):
            raise _Rejected(
                Reason.WRONG_VALUE_TYPE,
                f"Sparkplug 2.x STATE payload is {_shown(text)}, not ONLINE or OFFLINE",
            )
        return text == "ONLINE", None
    try:
        doc = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
    except ValueError as exc:  # JSONDecodeError, or an integer of thousands of digits
        raise _Rejected(Reason.INVALID_JSON, f"STATE payload is not JSON: {exc}") from None
    except RecursionError:
        raise _Rejected(
            Reason.INVALID_JSON, "STATE payload nests arrays or objects too deeply to be read"
        ) from None
    if not isinstance(doc, dict):
        raise _Rejected(
            Reason.NOT_AN_OBJECT, f"STATE payload is a JSON {type(doc).__name__}, not an object"
        )
    if "online" not in doc:
        raise _Rejected(Reason.MISSING_VALUE, "STATE payload has no 'online'")
    if not isinstance(doc["online"], bool):
        raise _Rejected(
            Reason.WRONG_VALUE_TYPE,
            f"STATE 'online' is {_shown(doc['online'])}, not true or false",
        )
    if "timestamp" not in doc:
        raise _Rejected(Reason.MISSING_TIMESTAMP, "STATE payload has no 'timestamp'")
    ms = doc["timestamp"]
    if isinstance(ms, float) and ms.is_integer():
        ms = int(ms)
    if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= _MAX_MS:
        raise _Rejected(
            Reason.BAD_TIMESTAMP,
            f"STATE 'timestamp' is {_shown(ms)}, not whole milliseconds between 1970 and 9999",
        )
    return doc["online"], ms


# -- the host application's state --------------------------------------------------------------
class _Recent:
    """The records of one node's last messages by record id: a redelivery gets its record back."""

    def __init__(self) -> None:
        self._records: OrderedDict[str, tuple[LandingRecord, int]] = OrderedDict()
        self._bytes = 0

    def get(self, record_id: str) -> LandingRecord | None:
        found = self._records.get(record_id)
        return None if found is None else found[0]

    def add(self, record_id: str, record: LandingRecord) -> None:
        size = len(record.payload or b"") + sum(len(v) for v in record.attributes.values())
        self._records[record_id] = (record, size)
        self._bytes += size
        while len(self._records) > 1 and (
            len(self._records) > RECENT_IDS or self._bytes > RECENT_BYTES
        ):
            _, (_, dropped) = self._records.popitem(last=False)
            self._bytes -= dropped

    def clear(self) -> None:
        self._records.clear()
        self._bytes = 0


@dataclass
class _NodeState:
    birth: _Birth | None = None
    bd_seq: int | None = None
    next_seq: int | None = None
    devices: dict[str, _Birth] = field(default_factory=dict)
    awaiting_rebirth: bool = False
    recent: _Recent = field(default_factory=_Recent)


@dataclass(frozen=True)
class Decoded:
    """What one message became, and whether the edge node must be asked for a rebirth."""

    record: LandingRecord
    rebirth: tuple[str, str] | None = None  # (group id, edge node id)


class SparkplugDecoder:
    """The host application's view of every edge node it hears from.

    `handle` never raises: whatever it cannot accept becomes a quarantine record with a precise
    reason. Payloads over `max_payload_bytes` are refused before they are decoded."""

    def __init__(self, source: str, *, max_payload_bytes: int = MAX_PAYLOAD_BYTES):
        self.source = source
        self.max_payload_bytes = max_payload_bytes
        self.nodes: dict[tuple[str, str], _NodeState] = {}

    def handle(self, topic: str, payload: bytes, received_at: datetime, qos: int = 0) -> Decoded:
        """Accept or quarantine one message; say whether its node needs a rebirth."""
        try:
            if len(payload) > self.max_payload_bytes:
                raise _Rejected(
                    Reason.OVERSIZED_PAYLOAD,
                    f"payload is {len(payload)} bytes; the limit is {self.max_payload_bytes}",
                )
            route = _route(topic)
            if isinstance(route, _HostTopic):
                online, ms = _host_state(route, payload)
                return Decoded(
                    self._state_record(route, topic, payload, received_at, qos, online, ms)
                )
        except _Rejected as rejected:
            return Decoded(self._quarantined(topic, payload, received_at, rejected))
        state = self.nodes.setdefault(route.node, _NodeState())
        record_id = LandingRecord(
            "sparkplug", self.source, topic, payload, received_at
        ).resolved_id()
        earlier = state.recent.get(record_id)
        if earlier is not None:  # a QoS 1 redelivery or a retained message received again
            return Decoded(earlier)
        try:
            record = self._decode(route, topic, payload, received_at, qos, state)
        except _Rejected as rejected:
            if rejected.rebirth:
                state.awaiting_rebirth = True
            record = self._quarantined(topic, payload, received_at, rejected)
            if rejected.seq_consumed:
                state.recent.add(record_id, record)
            return Decoded(record, rebirth=route.node if rejected.rebirth else None)
        state.recent.add(record_id, record)
        return Decoded(record)

    # -- the rules ---------------------------------------------------------------------------
    def _decode(
        self,
        topic: SparkplugTopic,
        raw_topic: str,
        payload: bytes,
        received_at: datetime,
        qos: int,
        state: _NodeState,
    ) -> LandingRecord:
        kind = topic.message_type
        if kind == "NDEATH":
            return self._death(topic, raw_topic, payload, received_at, qos, state)
        device = topic.device_id or ""
        if kind in ("NCMD", "DCMD"):
            pb = _parse(payload, kind)
            timestamp = _payload_timestamp(pb, kind)
            birth = state.birth if kind == "NCMD" else state.devices.get(device)
            metrics = _metrics(pb.metrics, kind, birth)
            return self._record(
                topic, raw_topic, payload, received_at, qos, None, timestamp, metrics
            )
        try:
            if kind != "NBIRTH":
                self._born(kind, topic, state)
            pb = _parse(payload, kind)
            seq = self._sequence(kind, topic, pb, state)
        except _Rejected as rejected:
            # a birth that cannot be read leaves the node unknown, unless a rebirth is on its way
            if kind in BIRTHS and rejected.reason != Reason.AWAITING_REBIRTH:
                rejected.rebirth = True
            raise
        try:
            timestamp = _payload_timestamp(pb, kind)
            birth = state.birth if kind == "NDATA" else state.devices.get(device)
            metrics = _metrics(pb.metrics, kind, None if kind in BIRTHS else birth)
            if kind == "NBIRTH":
                self._node_birth(metrics, seq, state)
            elif kind == "DBIRTH":
                state.devices[device] = _Birth.of(metrics)
            elif kind == "DDEATH":
                state.devices.pop(device, None)
        except _Rejected as rejected:
            rejected.seq_consumed = True
            rejected.rebirth = rejected.rebirth or kind in BIRTHS
            raise
        return self._record(topic, raw_topic, payload, received_at, qos, seq, timestamp, metrics)

    @staticmethod
    def _born(kind: str, topic: SparkplugTopic, state: _NodeState) -> None:
        if state.birth is None:
            raise _Rejected(
                Reason.DATA_BEFORE_BIRTH,
                f"{kind} from node {topic.edge_node_id!r} before its NBIRTH",
                rebirth=True,
            )
        if kind in ("DDATA", "DDEATH") and (topic.device_id or "") not in state.devices:
            raise _Rejected(
                Reason.DATA_BEFORE_BIRTH,
                f"{kind} from device {topic.device_id!r} before its DBIRTH",
                rebirth=True,
            )
        if state.awaiting_rebirth:
            raise _Rejected(
                Reason.AWAITING_REBIRTH,
                f"node {topic.edge_node_id!r} was asked for a rebirth; {kind} ignored until its NBIRTH",
            )

    @staticmethod
    def _sequence(kind: str, topic: SparkplugTopic, pb: Any, state: _NodeState) -> int:
        if not pb.HasField("seq"):
            raise _Rejected(
                Reason.MISSING_SEQUENCE,
                f"{kind} from node {topic.edge_node_id!r} has no seq",
                rebirth=True,
            )
        seq = pb.seq
        if seq > 255:
            raise _Rejected(
                Reason.VALUE_OUT_OF_RANGE,
                f"{kind} from node {topic.edge_node_id!r}: seq {seq} is outside 0..255",
                rebirth=True,
            )
        if kind != "NBIRTH":
            if seq != state.next_seq:
                raise _Rejected(
                    Reason.SEQUENCE_GAP,
                    f"node {topic.edge_node_id!r}: expected seq {state.next_seq}, got {seq} ({kind})",
                    rebirth=True,
                )
            state.next_seq = (seq + 1) % 256
        return seq

    @staticmethod
    def _node_birth(metrics: list[dict], seq: int, state: _NodeState) -> None:
        bd_seq = next((m["value"] for m in metrics if m["name"] == BD_SEQ), None)
        if isinstance(bd_seq, bool) or not isinstance(bd_seq, int):
            raise _Rejected(
                Reason.BAD_BIRTH,
                f"NBIRTH carries no integer bdSeq metric (found {_shown(bd_seq)})",
            )
        state.birth, state.bd_seq = _Birth.of(metrics), bd_seq
        state.recent.clear()  # a new session: its messages may repeat bytes of the last one
        state.devices.clear()
        state.awaiting_rebirth = False
        state.next_seq = (seq + 1) % 256

    def _death(
        self, topic, raw_topic, payload, received_at, qos, state: _NodeState
    ) -> LandingRecord:
        pb = _parse(payload, "NDEATH")
        timestamp = _timestamp(pb.timestamp, "NDEATH payload") if pb.HasField("timestamp") else None
        metrics = _metrics(pb.metrics, "NDEATH", state.birth)
        bd_seq = next((m["value"] for m in metrics if m["name"] == BD_SEQ), None)
        if isinstance(bd_seq, bool) or not isinstance(bd_seq, int):
            raise _Rejected(
                Reason.MISSING_VALUE,
                f"NDEATH carries no integer bdSeq metric (found {_shown(bd_seq)})",
            )
        if state.bd_seq is not None and bd_seq != state.bd_seq:
            raise _Rejected(
                Reason.STALE_DEATH,
                f"NDEATH bdSeq {bd_seq} does not match the current NBIRTH bdSeq {state.bd_seq}",
            )
        state.birth, state.bd_seq, state.next_seq = None, None, None
        state.devices.clear()
        state.awaiting_rebirth = False
        return self._record(topic, raw_topic, payload, received_at, qos, None, timestamp, metrics)

    def _record(
        self, topic, raw_topic, payload, received_at, qos, seq, timestamp_ms, metrics
    ) -> LandingRecord:
        attributes = {
            "qos": str(qos),
            "message_type": topic.message_type,
            "group_id": topic.group_id,
            "edge_node_id": topic.edge_node_id,
            "decoded_json": json.dumps(
                {"seq": seq, "timestamp": timestamp_ms, "metrics": metrics}, allow_nan=False
            ),
        }
        if topic.device_id:
            attributes["device_id"] = topic.device_id
        if seq is not None:
            attributes["seq"] = str(seq)
        return LandingRecord(
            kind="sparkplug",
            source=self.source,
            address=raw_topic,
            payload=payload,
            received_at=received_at,
            source_timestamp=_ms_to_datetime(timestamp_ms),
            attributes=attributes,
        )

    def _state_record(
        self,
        topic: _HostTopic,
        raw_topic: str,
        payload: bytes,
        received_at: datetime,
        qos: int,
        online: bool,
        timestamp_ms: int | None,
    ) -> LandingRecord:
        """A host application's STATE: its host id in the edge_node_id column, no group."""
        decoded = {"seq": None, "timestamp": timestamp_ms, "metrics": [], "online": online}
        return LandingRecord(
            kind="sparkplug",
            source=self.source,
            address=raw_topic,
            payload=payload,
            received_at=received_at,
            source_timestamp=_ms_to_datetime(timestamp_ms),
            attributes={
                "qos": str(qos),
                "message_type": STATE,
                "edge_node_id": topic.host_id,
                "decoded_json": json.dumps(decoded, allow_nan=False),
            },
        )

    def _quarantined(
        self, topic: str, payload: bytes, received_at: datetime, rejected: _Rejected
    ) -> LandingRecord:
        try:
            topic.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: keep a readable, landable address
            topic = topic.encode("utf-8", "backslashreplace").decode("utf-8")
        return quarantined(
            self.source, topic, payload, received_at, rejected.reason, rejected.detail
        )
