"""Sparkplug B payloads as JSON (specification 3.0, section 6.4): every datatype read from the
generated protobuf classes, integers as Tahu and pysparkplug encode them, arrays, DataSets,
Templates and property sets; what does not fit its datatype raises `Rejected` with the reason.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import DecodeError
from pysparkplug import DataType
from pysparkplug._protobuf import Payload

from ingestion.quarantine import Reason

NODE_MESSAGES = ("NBIRTH", "NDATA", "NDEATH", "NCMD")
DEVICE_MESSAGES = ("DBIRTH", "DDATA", "DDEATH", "DCMD")
BIRTHS = ("NBIRTH", "DBIRTH")
SEQUENCED = ("NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH")

# Milliseconds since 1970 that Python's datetime can hold (0001-01-01 … 9999-12-31), and so
# the range of every timestamp we land (Spark's bigint holds all of them).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MS = -62135596800000
MAX_MS = 253402300799999
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
class Rejected(Exception):
    def __init__(self, reason: Reason, detail: str, rebirth: bool = False):
        self.reason, self.detail, self.rebirth = reason, detail, rebirth
        self.seq_consumed = False  # the message's seq was counted: a redelivery is not a gap


# -- values ------------------------------------------------------------------------------------
def _text(value: str | bytes, where: str) -> str:
    # upb hands a proto2 string field that is not UTF-8 over as bytes
    if isinstance(value, bytes):
        raise Rejected(Reason.INVALID_UTF8, f"{where} is not valid UTF-8: {value[:40]!r}")
    return value


def shown(value: Any) -> str:
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
    if not _MIN_MS <= ms <= MAX_MS:
        raise Rejected(
            Reason.VALUE_OUT_OF_RANGE,
            f"{where}: DATETIME {ms} ms since 1970 is outside the years 1-9999",
        )
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat()


def _integer(dtype: DataType, raw: int, value_field: str, where: str) -> int:
    width = _FIELD_BITS[value_field]
    if dtype in _UNSIGNED_BITS:
        bits = _UNSIGNED_BITS[dtype]
        if raw >= 1 << bits:
            raise Rejected(
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
    raise Rejected(
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
            raise Rejected(
                Reason.BAD_DATATYPE,
                f"{where}: BOOLEAN_ARRAY of {len(data)} bytes is not a 4-byte count and "
                f"{(count + 7) // 8} bytes of bits for {count} booleans",
            )
        return [bool(data[4 + (i >> 3)] & (0x80 >> (i & 7))) for i in range(count)]
    if dtype == DataType.STRING_ARRAY:
        if not data:
            return []
        if data[-1] != 0:
            raise Rejected(
                Reason.BAD_DATATYPE, f"{where}: STRING_ARRAY does not end with a NUL terminator"
            )
        try:
            return [part.decode("utf-8") for part in data[:-1].split(b"\0")]
        except UnicodeDecodeError as exc:
            raise Rejected(
                Reason.INVALID_UTF8, f"{where}: STRING_ARRAY holds a string that is not UTF-8"
            ) from exc
    fmt = _ARRAY_FORMATS[dtype]
    size = struct.calcsize(fmt)
    if len(data) % size:
        raise Rejected(
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
    carried = "a third-party extension" if value_field == "extension_value" else shown(raw)
    raise Rejected(
        Reason.BAD_DATATYPE,
        f"{where} is {dtype.name} but carries {value_field} {carried} (expected {expected})",
    )


def _datatype(number: int, allowed: frozenset[DataType], where: str) -> DataType:
    if number == 0:
        raise Rejected(Reason.BAD_DATATYPE, f"{where} has no datatype")
    try:
        dtype = DataType(number)
    except ValueError:
        raise Rejected(
            Reason.BAD_DATATYPE, f"{where} has datatype {number}, not a Sparkplug B datatype"
        ) from None
    if dtype not in allowed:
        raise Rejected(Reason.BAD_DATATYPE, f"{where} cannot be of datatype {dtype.name}")
    return dtype


def _bigint(value: int, what: str, where: str) -> int:
    if value > _MAX_BIGINT:
        raise Rejected(
            Reason.VALUE_OUT_OF_RANGE,
            f"{where}: {what} {value} does not fit a signed 64-bit bigint",
        )
    return value


def checked_timestamp(ms: int, where: str) -> int:
    if ms > MAX_MS:
        raise Rejected(
            Reason.BAD_TIMESTAMP, f"{where}: timestamp {ms} ms since 1970 is after the year 9999"
        )
    return ms


# -- structured values -------------------------------------------------------------------------
def _dataset(ds: Any, where: str) -> dict:
    """{"columns": [...], "types": [...], "rows": [[...], ...]} (spec 6.4.8-6.4.10)."""
    if len(ds.columns) != len(ds.types) or (
        ds.HasField("num_of_columns") and ds.num_of_columns != len(ds.columns)
    ):
        raise Rejected(
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
            raise Rejected(
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
        raise Rejected(
            Reason.BAD_DATATYPE,
            f"{where}: PropertySet has {len(ps.keys)} keys and {len(ps.values)} values",
        )
    out: dict[str, Any] = {}
    for i, (key, pv) in enumerate(zip(ps.keys, ps.values, strict=True), start=1):
        key = _text(key, f"{where} key #{i}")
        at = f"{where} property {key!r}"
        if key in out:
            raise Rejected(Reason.DUPLICATE_KEY, f"{at} appears twice")
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
class Birth:
    """What an NBIRTH or DBIRTH declared: names and datatypes by alias, datatypes by name
    (template members under `<metric>/<member>`)."""

    by_alias: dict[int, tuple[str, int]]
    datatypes: dict[str, int]

    @classmethod
    def of(cls, entries: list[dict]) -> Birth:
        by_alias, datatypes = {}, {}
        for entry in entries:
            number = DataType[entry["datatype"]].value
            datatypes[entry["name"]] = number
            if entry["alias"] is not None:
                by_alias[entry["alias"]] = (entry["name"], number)
        return cls(by_alias, datatypes)


def _template(
    t: Any, path: str, timestamp: int | None, where: str, birth: Birth | None
) -> tuple[dict, list[dict]]:
    """The value of a Template metric (spec 6.4.11-6.4.12), and for an instance each member as
    a metric of its own named `<metric>/<member>` (the members of a nested template in turn as
    `<metric>/<member>/<its member>`)."""
    parameters: dict[str, Any] = {}
    for i, p in enumerate(t.parameters, start=1):
        if not p.HasField("name"):
            raise Rejected(Reason.NULL_KEY, f"{where}: template parameter #{i} has no name")
        name = _text(p.name, f"{where} template parameter #{i}")
        at = f"{where} template parameter {name!r}"
        if name in parameters:
            raise Rejected(Reason.DUPLICATE_KEY, f"{at} appears twice")
        dtype = _datatype(p.type, _BASIC, at)
        parameters[name] = _scalar(dtype, p, p.WhichOneof("value"), at)
    members, flat = [], []
    for i, m in enumerate(t.metrics, start=1):
        if not m.HasField("name"):
            raise Rejected(Reason.NULL_KEY, f"{where}: template member #{i} has no name")
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
    birth: Birth | None,
) -> tuple[dict, list[dict]]:
    """One metric as JSON, and the metrics its template members become."""
    dtype = _datatype(number, _METRIC_TYPES, where)
    alias = _bigint(m.alias, "alias", where) if m.HasField("alias") else None
    timestamp = (
        checked_timestamp(m.timestamp, where) if m.HasField("timestamp") else parent_timestamp
    )
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
        raise Rejected(Reason.BAD_DATATYPE, f"{where} is {dtype.name} but carries {value_field}")
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


def metrics_json(pb_metrics: Any, kind: str, birth: Birth | None) -> list[dict]:
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
                raise Rejected(Reason.NULL_KEY, f"{where} of the {kind} has neither name nor alias")
            raise Rejected(
                Reason.UNKNOWN_ALIAS,
                f"metric alias {alias} is not in the {which_birth}",
                rebirth=kind in SEQUENCED,
            )
        if number == 0 and kind not in BIRTHS:
            raise Rejected(
                Reason.UNKNOWN_ALIAS,
                f"{where} has no datatype and is not in the {which_birth}",
                rebirth=kind in SEQUENCED,
            )
        if kind in BIRTHS:
            if name in names or (alias is not None and alias in aliases):
                twice = f"name {name!r}" if name in names else f"alias {alias}"
                raise Rejected(Reason.DUPLICATE_KEY, f"the {kind} declares {twice} twice")
            names.add(name)
            if alias is not None:
                aliases.add(alias)
        entry, members = _metric_json(m, name, number, where, name, None, birth)
        entries.append(entry)
        entries.extend(members)
    return entries


def parse_payload(payload: bytes, kind: str) -> Any:
    if not payload:
        raise Rejected(Reason.EMPTY_PAYLOAD, f"{kind} payload is empty")
    try:
        return Payload.FromString(payload)
    except DecodeError as exc:
        raise Rejected(
            Reason.NOT_PROTOBUF, f"{kind} payload is not a Sparkplug B protobuf: {exc}"
        ) from None


def payload_timestamp(pb: Any, kind: str) -> int:
    if not pb.HasField("timestamp"):
        raise Rejected(Reason.MISSING_TIMESTAMP, f"{kind} payload has no timestamp")
    return checked_timestamp(pb.timestamp, f"{kind} payload")


def ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else _EPOCH + timedelta(milliseconds=ms)
