"""The one JSON reader of ingestion: a payload is read as silver will read it, or refused.

Refused with a reason code: not UTF-8, not JSON, NaN or Infinity (not JSON, though Python reads
them), a key twice in one object (Python keeps the last value, Spark's `get_json_object` the
first, so no one may decide which was meant), nesting deeper than Python's parser goes, an
integer of more digits than Python converts; and, if asked, anything but an object.
"""

from __future__ import annotations

import json
from typing import Any

from ingestion.quarantine import Reason


class JsonRefused(ValueError):
    """A payload that is not strict JSON; `reason` is its quarantine reason code."""

    def __init__(self, reason: Reason, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _no_constant(token: str) -> float:
    raise JsonRefused(Reason.NON_FINITE_VALUE, f"contains {token}, which is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise JsonRefused(Reason.DUPLICATE_KEY, f"field {repeated!r} appears more than once")
    return doc


def read_json(payload: bytes, *, what: str = "payload", object_only: bool = True) -> Any:
    """The document of a UTF-8 JSON payload, or JsonRefused naming `what` and the reason.

    >>> read_json(b'{"value": 1, "value": 2}')
    Traceback (most recent call last):
    ...
    ingestion.strict_json.JsonRefused: payload: field 'value' appears more than once
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonRefused(
            Reason.INVALID_UTF8, f"{what} is not UTF-8: {exc.reason} at byte {exc.start}"
        ) from None
    try:
        doc = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except JsonRefused as refused:
        raise JsonRefused(refused.reason, f"{what}: {refused.detail}") from None
    except json.JSONDecodeError as exc:
        raise JsonRefused(
            Reason.INVALID_JSON, f"{what} is not JSON: {exc.msg} at char {exc.pos}"
        ) from None
    except ValueError as exc:  # an integer of more digits than Python converts (4,300)
        raise JsonRefused(Reason.INVALID_JSON, f"{what} cannot be read: {exc}") from None
    except RecursionError:
        raise JsonRefused(
            Reason.INVALID_JSON, f"{what} nests arrays or objects too deeply to be read"
        ) from None
    if object_only and not isinstance(doc, dict):
        raise JsonRefused(
            Reason.NOT_AN_OBJECT, f"{what} is a JSON {type(doc).__name__}, not an object"
        )
    return doc
