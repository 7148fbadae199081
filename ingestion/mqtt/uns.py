"""JSON MQTT messages (a unified namespace or a vendor's topics): accept a well-formed JSON
object, quarantine anything else.

Any topic depth and any fields: which topic and field is which equipment and tag is the plant
model's business, in silver (what it cannot map is counted there, not lost). What is checked
here is what no model can repair: UTF-8 JSON objects within the size limit, finite numbers,
a `value` that is a scalar, keys that occur once per object (silver reads the same value as
this check), and a readable, plausible time where the payload gives one
(`timestamp` as ISO-8601 with offset or epoch seconds/milliseconds, `timestamp_ms`).
Bronze keeps the raw bytes; this module only decides whether they are acceptable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingestion.landing import LandingRecord
from ingestion.quarantine import Reason, quarantined
from ingestion.strict_json import JsonRefused, read_json

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
EPOCH_MS_FROM = 10**11  # a bigger epoch number counts milliseconds (10^11 s is the year 5138)


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
    if any(not lv or "+" in lv or "#" in lv for lv in levels):
        raise _Rejected(
            Reason.UNKNOWN_TOPIC_LAYOUT,
            f"topic {topic!r} has an empty level or a wildcard; expected levels like a/b/c",
        )


def _parse_timestamp(
    raw: object, now: datetime, rules: UnsRules, *, field: str = "timestamp", unit: str = "auto"
) -> datetime:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _Rejected(
            Reason.BAD_TIMESTAMP, f"{field} {raw!r} is neither ISO-8601 text nor an epoch number"
        )
    if isinstance(raw, str):
        try:
            ts = datetime.fromisoformat(raw)
        except ValueError:
            raise _Rejected(Reason.BAD_TIMESTAMP, f"{field} {raw!r} is not ISO-8601") from None
        if ts.tzinfo is None:
            raise _Rejected(Reason.BAD_TIMESTAMP, f"{field} {raw!r} has no UTC offset")
    else:
        ms = unit == "ms" or (unit == "auto" and abs(raw) >= EPOCH_MS_FROM)
        scale = 1000 if ms else 1
        # compared in the sender's unit: an integer of 400 digits has no float to divide into
        low, high = EARLIEST.timestamp(), (now + rules.max_clock_skew).timestamp()
        if not low * scale <= raw <= high * scale:
            raise _Rejected(
                Reason.TIMESTAMP_TOO_OLD if raw < low * scale else Reason.TIMESTAMP_IN_FUTURE,
                f"{field} {str(raw)[:40]} ({'ms' if ms else 's'} since 1970) is outside "
                "2000-01-01 … now",
            )
        ts = datetime.fromtimestamp(raw / scale, UTC)
    try:
        ts = ts.astimezone(UTC)
    except OverflowError:
        raise _Rejected(Reason.BAD_TIMESTAMP, f"{field} {raw!r} is out of range in UTC") from None
    if ts < EARLIEST:
        raise _Rejected(Reason.TIMESTAMP_TOO_OLD, f"timestamp {raw} is before 2000-01-01")
    if ts > now + rules.max_clock_skew:
        raise _Rejected(
            Reason.TIMESTAMP_IN_FUTURE,
            f"timestamp {raw} is ahead of the receiver clock {now.isoformat()}",
        )
    return ts


def _parse_payload(payload: bytes, rules: UnsRules) -> dict:
    if not payload:
        raise _Rejected(Reason.EMPTY_PAYLOAD, "payload is empty")
    if len(payload) > rules.max_payload_bytes:
        raise _Rejected(
            Reason.OVERSIZED_PAYLOAD,
            f"payload is {len(payload)} bytes; the limit is {rules.max_payload_bytes}",
        )
    try:
        doc = read_json(payload)
    except JsonRefused as refused:
        raise _Rejected(refused.reason, refused.detail) from None
    return doc


def _check_value(doc: dict) -> None:
    for key, v in doc.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise _Rejected(Reason.NON_FINITE_VALUE, f"field {key!r} is {v}, not a finite number")
    if "value" not in doc:
        return  # a payload of several fields: the plant model says which is a tag
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
    """An `mqtt` landing record if the message is a well-formed JSON object, else a quarantine one.

    >>> rec = classify_uns_message(source="uns", topic="acme/berlin/machining/line1/cell1/cnc01/temperature_c",
    ...     payload=b'{"value": 61.5, "timestamp": "2026-03-01T06:00:00.000Z", "quality": "good"}',
    ...     qos=1, received_at=datetime(2026, 3, 1, 6, 0, 1, tzinfo=UTC))
    >>> rec.kind, rec.source_timestamp.isoformat()
    ('mqtt', '2026-03-01T06:00:00+00:00')
    """
    try:
        _check_topic(topic)
        doc = _parse_payload(payload, rules)
        _check_value(doc)
        ts = None
        if doc.get("timestamp") is not None:
            ts = _parse_timestamp(doc["timestamp"], received_at, rules)
        elif doc.get("timestamp_ms") is not None:
            ts = _parse_timestamp(
                doc["timestamp_ms"], received_at, rules, field="timestamp_ms", unit="ms"
            )
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
