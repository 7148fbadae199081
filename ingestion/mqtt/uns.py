"""Unified-namespace JSON messages: accept a well-formed reading, quarantine anything else.

Topic: `<enterprise>/<site>/<area>/<line>/<cell>/<equipment>/<tag>`; payload:
`{"value": <number|string|bool|null>, "timestamp": "<ISO-8601>", "quality": "good|uncertain|bad"}`.
Bronze keeps the raw bytes; this module only decides whether they are acceptable.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingestion.landing import LandingRecord
from ingestion.quarantine import Reason, quarantined

TOPIC_LEVELS = 7
QUALITIES = ("good", "uncertain", "bad")
ALLOWED_FIELDS = {"value", "timestamp", "quality", "unit"}
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class UnsRules:
    """Limits a UNS message must keep to be accepted."""

    max_payload_bytes: int = 64 * 1024
    max_clock_skew: timedelta = timedelta(minutes=5)


class _Rejected(Exception):
    def __init__(self, reason: Reason, detail: str):
        self.reason, self.detail = reason, detail


def _check_topic(topic: str) -> None:
    levels = topic.split("/")
    if len(levels) != TOPIC_LEVELS or any(not lv or lv in "+#" for lv in levels):
        raise _Rejected(
            Reason.UNKNOWN_TOPIC_LAYOUT,
            f"topic {topic!r} has {len(levels)} levels; expected "
            "<enterprise>/<site>/<area>/<line>/<cell>/<equipment>/<tag>, none empty",
        )


def _parse_timestamp(raw: object, now: datetime, rules: UnsRules) -> datetime:
    if raw is None:
        raise _Rejected(Reason.MISSING_TIMESTAMP, "payload has no 'timestamp'")
    if not isinstance(raw, str):
        raise _Rejected(Reason.BAD_TIMESTAMP, f"timestamp {raw!r} is not an ISO-8601 string")
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise _Rejected(Reason.BAD_TIMESTAMP, f"timestamp {raw!r} is not ISO-8601") from None
    if ts.tzinfo is None:
        raise _Rejected(Reason.BAD_TIMESTAMP, f"timestamp {raw!r} has no UTC offset")
    ts = ts.astimezone(UTC)
    if ts < EARLIEST:
        raise _Rejected(Reason.TIMESTAMP_TOO_OLD, f"timestamp {raw} is before 2000-01-01")
    if ts > now + rules.max_clock_skew:
        raise _Rejected(
            Reason.TIMESTAMP_IN_FUTURE,
            f"timestamp {raw} is ahead of the receiver clock {now.isoformat()}",
        )
    return ts


def _reject_constant(token: str) -> float:
    raise _Rejected(Reason.NON_FINITE_VALUE, f"payload contains {token}, which is not a number")


def _parse_payload(payload: bytes, rules: UnsRules) -> dict:
    if not payload:
        raise _Rejected(Reason.EMPTY_PAYLOAD, "payload is empty")
    if len(payload) > rules.max_payload_bytes:
        raise _Rejected(
            Reason.OVERSIZED_PAYLOAD,
            f"payload is {len(payload)} bytes; the limit is {rules.max_payload_bytes}",
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Rejected(
            Reason.INVALID_UTF8, f"payload is not UTF-8: {exc.reason} at byte {exc.start}"
        ) from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _Rejected(
            Reason.INVALID_JSON, f"payload is not JSON: {exc.msg} at char {exc.pos}"
        ) from None
    if not isinstance(doc, dict):
        raise _Rejected(
            Reason.NOT_AN_OBJECT, f"payload is a JSON {type(doc).__name__}, not an object"
        )
    return doc


def _check_value(doc: dict) -> None:
    if "value" not in doc:
        raise _Rejected(Reason.MISSING_VALUE, "payload has no 'value'")
    value = doc["value"]
    if isinstance(value, dict | list):
        raise _Rejected(
            Reason.WRONG_VALUE_TYPE,
            f"value is a JSON {type(value).__name__}; expected a number, string, boolean or null",
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise _Rejected(Reason.NON_FINITE_VALUE, f"value {value} is not finite")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63 - 1:
        raise _Rejected(Reason.WRONG_VALUE_TYPE, "integer value does not fit in 64 bits")


def classify_uns_message(
    *,
    source: str,
    topic: str,
    payload: bytes,
    qos: int,
    received_at: datetime,
    rules: UnsRules = UnsRules(),
) -> LandingRecord:
    """An `mqtt` landing record if the message is a well-formed reading, else a quarantine one.

    >>> rec = classify_uns_message(source="uns", topic="acme/berlin/machining/line1/cell1/cnc01/temperature_c",
    ...     payload=b'{"value": 61.5, "timestamp": "2026-03-01T06:00:00.000Z", "quality": "good"}',
    ...     qos=1, received_at=datetime(2026, 3, 1, 6, 0, 1, tzinfo=UTC))
    >>> rec.kind, rec.source_timestamp.isoformat()
    ('mqtt', '2026-03-01T06:00:00+00:00')
    """
    try:
        _check_topic(topic)
        doc = _parse_payload(payload, rules)
        unexpected = set(doc) - ALLOWED_FIELDS
        if unexpected:
            raise _Rejected(
                Reason.UNEXPECTED_FIELDS,
                f"payload has fields {sorted(unexpected)}; allowed: {sorted(ALLOWED_FIELDS)}",
            )
        _check_value(doc)
        ts = _parse_timestamp(doc.get("timestamp"), received_at, rules)
        quality = doc.get("quality", "good")
        if quality not in QUALITIES:
            raise _Rejected(Reason.BAD_QUALITY, f"quality {quality!r} is not one of {QUALITIES}")
    except _Rejected as rejected:
        return quarantined(source, topic, payload, received_at, rejected.reason, rejected.detail)
    return LandingRecord(
        kind="mqtt",
        source=source,
        address=topic,
        payload=payload,
        received_at=received_at,
        source_timestamp=ts,
        attributes={"qos": str(qos)},
    )
