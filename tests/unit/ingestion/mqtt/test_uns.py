"""Unified-namespace JSON: good readings are accepted, every kind of bad one is quarantined."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingestion.mqtt.uns import UnsRules, classify_uns_message

NOW = datetime(2026, 3, 1, 6, 0, 0, tzinfo=UTC)
TOPIC = "acme/berlin/machining/line1/cell1/cnc01/temperature_c"
GOOD = b'{"value": 61.5, "timestamp": "2026-03-01T05:59:59.250Z", "quality": "good"}'


def classify(payload: bytes, topic: str = TOPIC):
    return classify_uns_message(
        source="uns",
        topic=topic,
        payload=payload,
        qos=1,
        received_at=NOW,
        rules=UnsRules(max_payload_bytes=1024),
    )


def test_good_reading_is_accepted_with_its_source_timestamp():
    rec = classify(GOOD)
    assert rec.kind == "mqtt" and rec.payload == GOOD and rec.address == TOPIC
    assert rec.source_timestamp == datetime(2026, 3, 1, 5, 59, 59, 250000, tzinfo=UTC)
    assert rec.attributes == {"qos": "1"}


@pytest.mark.parametrize(
    "value",
    [0, -3, 1.5e300, True, "RUNNING", None],
    ids=["zero", "negative", "large", "bool", "string", "null"],
)
def test_every_json_scalar_is_a_value(value):
    payload = json.dumps({"value": value, "timestamp": "2026-03-01T05:00:00+00:00"}).encode()
    assert classify(payload).kind == "mqtt"


BAD = {
    "invalid_json": (b'{"value": 1, "timestamp": ', "invalid_json"),
    "invalid_utf8": (b'{"value": "\xff\xfe", "timestamp": "2026-03-01T05:00:00Z"}', "invalid_utf8"),
    "empty": (b"", "empty_payload"),
    "array": (b"[1, 2]", "not_an_object"),
    "bare_number": (b"42", "not_an_object"),
    "missing_value": (b'{"timestamp": "2026-03-01T05:00:00Z"}', "missing_value"),
    "object_value": (
        b'{"value": {"a": 1}, "timestamp": "2026-03-01T05:00:00Z"}',
        "wrong_value_type",
    ),
    "list_value": (b'{"value": [1], "timestamp": "2026-03-01T05:00:00Z"}', "wrong_value_type"),
    "huge_int": (
        b'{"value": 99999999999999999999999, "timestamp": "2026-03-01T05:00:00Z"}',
        "wrong_value_type",
    ),
    "nan": (b'{"value": NaN, "timestamp": "2026-03-01T05:00:00Z"}', "non_finite_value"),
    "infinity": (b'{"value": -Infinity, "timestamp": "2026-03-01T05:00:00Z"}', "non_finite_value"),
    "overflow_float": (
        b'{"value": 1e999, "timestamp": "2026-03-01T05:00:00Z"}',
        "non_finite_value",
    ),
    "missing_timestamp": (b'{"value": 1}', "missing_timestamp"),
    "unparseable_timestamp": (b'{"value": 1, "timestamp": "yesterday"}', "bad_timestamp"),
    "numeric_timestamp": (b'{"value": 1, "timestamp": 1772344800}', "bad_timestamp"),
    "naive_timestamp": (b'{"value": 1, "timestamp": "2026-03-01T05:00:00"}', "bad_timestamp"),
    "future_timestamp": (
        b'{"value": 1, "timestamp": "2027-03-01T05:00:00Z"}',
        "timestamp_in_future",
    ),
    "before_2000": (b'{"value": 1, "timestamp": "1999-12-31T23:59:59Z"}', "timestamp_too_old"),
    "bad_quality": (
        b'{"value": 1, "timestamp": "2026-03-01T05:00:00Z", "quality": "ok"}',
        "bad_quality",
    ),
    "unexpected_field": (
        b'{"value": 1, "timestamp": "2026-03-01T05:00:00Z", "vaule": 2}',
        "unexpected_fields",
    ),
    "oversized": (
        b'{"value": "' + b"x" * 2000 + b'", "timestamp": "2026-03-01T05:00:00Z"}',
        "oversized_payload",
    ),
}


@pytest.mark.parametrize(("payload", "reason"), BAD.values(), ids=BAD.keys())
def test_bad_payload_is_quarantined_with_its_reason_and_bytes(payload, reason):
    rec = classify(payload)
    assert rec.kind == "quarantine"
    assert rec.attributes["reason_code"] == reason
    assert rec.attributes["detail"]
    assert rec.payload == payload  # the bytes are kept unchanged


@pytest.mark.parametrize(
    "topic",
    [
        "acme/berlin/line1/cnc01/temperature_c",
        "acme/berlin/machining/line1/cell1/cnc01/x/y",
        "acme//machining/line1/cell1/cnc01/t",
        "acme/+/machining/line1/cell1/cnc01/t",
    ],
)
def test_unknown_topic_layout_is_quarantined(topic):
    rec = classify(GOOD, topic=topic)
    assert (rec.kind, rec.attributes["reason_code"]) == ("quarantine", "unknown_topic_layout")
