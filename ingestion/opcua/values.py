"""OPC UA values as strict JSON for `bronze.opcua_values.value`, close to the non-reversible JSON
encoding of OPC UA Part 6 (5.4): NaN and ±Infinity as the strings "NaN", "Infinity",
"-Infinity"; structures as objects of their fields; LocalizedText as {"Text", "Locale"}.

A value that has no JSON form raises `UnconvertibleValue`; the connector quarantines it.

    >>> value_text(ua.Variant([1.5, float("nan")], ua.VariantType.Double))
    '[1.5,"NaN"]'
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from asyncua import ua

MAX_DEPTH = 64  # nesting of arrays and structures; deeper is not a plant value but a loop
NON_FINITE = {"NaN", "Infinity", "-Infinity"}


class UnconvertibleValue(ValueError):
    """A value without a JSON form (an unknown Python type, text that is not Unicode, …)."""


def node_id_text(node_id: ua.NodeId, namespaces: Sequence[str] = ()) -> str:
    """A NodeId as text: `i=85` in namespace 0, else `nsu=<uri>;s=…` when the server's namespace
    array names the index, else `ns=<index>;s=…`. An ExpandedNodeId keeps its own URI."""
    plain = ua.NodeId(node_id.Identifier, node_id.NamespaceIndex, node_id.NodeIdType)
    text = plain.to_string()
    uri = getattr(node_id, "NamespaceUri", None)
    index = node_id.NamespaceIndex
    if not uri and 0 < index < len(namespaces):
        uri = namespaces[index]
    if uri:
        text = f"nsu={uri};" + text.split(";", 1)[-1]
    server = getattr(node_id, "ServerIndex", 0)
    return f"svr={server};{text}" if server else text


def _float(v: float) -> float | str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _datetime(v: datetime) -> str:
    """ISO 8601 in UTC with a Z; a naive time is UTC (asyncua's DateTime is UTC)."""
    try:
        u = v.astimezone(UTC) if v.tzinfo else v
    except (OverflowError, ValueError) as exc:  # year 1 shifted by its offset, a broken tzinfo
        raise UnconvertibleValue(f"a DateTime outside the representable range ({exc})") from None
    text = f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
    return text + (f".{u.microsecond:06d}Z" if u.microsecond else "Z")


def _text(v: str) -> str:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnconvertibleValue(f"text that is not valid UTF-8 ({exc.reason})") from None
    return v


def _reshape(flat: list[Any], dims: list[int]) -> list[Any]:
    if len(dims) <= 1:
        return flat
    size = math.prod(dims[1:])
    return [_reshape(flat[i * size : (i + 1) * size], dims[1:]) for i in range(dims[0])]


def to_json(value: Any, namespaces: Sequence[str] = (), _depth: int = 0) -> Any:
    """The value as plain JSON data (dict, list, str, int, float, bool, None)."""
    if _depth > MAX_DEPTH:
        raise UnconvertibleValue(f"nested deeper than {MAX_DEPTH} levels")

    def inner(v: Any) -> Any:
        return to_json(v, namespaces, _depth + 1)

    if value is None or isinstance(value, bool | str):
        return value if not isinstance(value, str) else _text(value)
    if isinstance(value, Enum):  # IntEnum fields of structures: the code, as the wire has it
        return inner(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return _datetime(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [inner(v) for v in value]
    if isinstance(value, ua.Variant):  # a Variant inside a Variant: its value (matrices nested)
        body = value.Value
        dims = value.Dimensions
        if (
            isinstance(body, list)
            and body
            and dims
            and len(dims) > 1
            and not isinstance(body[0], list)
        ):
            if math.prod(dims) != len(body):
                raise UnconvertibleValue(f"a matrix of {dims} holds {len(body)} values")
            body = _reshape(body, list(dims))
        return inner(body)
    if isinstance(value, ua.LocalizedText):
        return {"Text": inner(value.Text), "Locale": inner(value.Locale)}
    if isinstance(value, ua.QualifiedName):
        return {"Name": inner(value.Name), "NamespaceIndex": int(value.NamespaceIndex)}
    if isinstance(value, ua.NodeId):
        return node_id_text(value, namespaces)
    if isinstance(value, ua.StatusCode):
        code = int(value.value)
        return {"Code": code, "Symbol": ua.StatusCode(code).name}
    if isinstance(value, ua.XmlElement):
        return inner(value.Value)
    if isinstance(value, ua.ExtensionObject):  # a structure the client could not decode
        return {
            "TypeId": node_id_text(value.TypeId, namespaces),
            "Encoding": 1 if value.Body is not None else 0,
            "Body": inner(value.Body),
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # a decoded structure (ua.Range, ua.EUInformation, a server's own type), DataValue,
        # DiagnosticInfo: its fields, recursively; `Encoding` is the wire's field mask
        return {
            f.name: inner(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "Encoding"
        }
    raise UnconvertibleValue(f"no JSON form for a {type(value).__module__}.{type(value).__name__}")


def dumps(data: Any) -> str:
    """Strict JSON text (no NaN tokens), compact, Unicode kept as it is."""
    return json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def value_text(value: Any, namespaces: Sequence[str] = ()) -> str:
    """The value (a Variant or its Python value) as the JSON text bronze keeps."""
    try:
        return dumps(to_json(value, namespaces))
    except RecursionError:
        raise UnconvertibleValue("nested too deeply") from None
