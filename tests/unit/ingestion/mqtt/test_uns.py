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
    "unparseable_timestamp": (b'{"value": 1, "timestamp": "yesterday"}', "bad_timestamp"),
    "naive_timestamp": (b'{"value": 1, "timestamp": "2026-03-01T05:00:00"}', "bad_timestamp"),
    "future_timestamp": (
        b'{"value": 1, "timestamp": "2027-03-01T05:00:00Z"}',
        "timestamp_in_future",
    ),
    "before_2000": (b'{"value": 1, "timestamp": "1999-12-31T23:59:59Z"}', "timestamp_too_old"),
    "bool_timestamp": (b'{"value": 1, "timestamp": true}', "bad_timestamp"),
    "epoch_ms_in_future": (
        b'{"temperature": 1, "timestamp_ms": 1900000000000}',
        "timestamp_in_future",
    ),
    "offset_beyond_utc": (
        b'{"value": 1, "timestamp": "9999-12-31T23:59:59-23:59"}',
        "bad_timestamp",
    ),
    "nan_in_a_field": (b'{"temperature": NaN}', "non_finite_value"),
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
    ["acme//machining/line1/cell1/cnc01/t", "acme/+/machining/line1/cell1/cnc01/t", "a/b#"],
)
def test_a_topic_with_an_empty_level_or_a_wildcard_is_quarantined(topic):
    rec = classify(GOOD, topic=topic)
    assert (rec.kind, rec.attributes["reason_code"]) == ("quarantine", "unknown_topic_layout")


@pytest.mark.parametrize(
    ("topic", "payload", "ts"),
    [
        # a UMH historian message: any depth, several tags, epoch milliseconds
        (
            "umh/v1/acme/sued/pressing/line1/cell1/plc7/_historian",
            b'{"timestamp_ms": 1772341200000, "temperature": 23.4, "pressure": 1.2}',
            datetime(2026, 3, 1, 5, 0, tzinfo=UTC),
        ),
        # a flat vendor topic whose body has no time: silver's rule decides
        ("factory/press7/telemetry", b'{"v": 5.5, "quality": 192, "extra": {"a": 1}}', None),
        # epoch seconds in `timestamp`
        ("a/b", b'{"value": 1, "timestamp": 1772341200}', datetime(2026, 3, 1, 5, 0, tzinfo=UTC)),
    ],
    ids=["umh", "vendor", "epoch_s"],
)
def test_any_json_object_on_any_topic_is_accepted_for_the_plant_model_to_map(topic, payload, ts):
    rec = classify(payload, topic=topic)
    assert (rec.kind, rec.address, rec.source_timestamp) == ("mqtt", topic, ts)


def test_a_repeated_key_is_quarantined_since_python_and_spark_would_read_different_values():
    rec = classify(b'{"value": 1, "value": 2, "timestamp": "2026-03-01T05:59:59Z"}')
    assert rec.kind == "quarantine" and rec.attributes["reason_code"] == "duplicate_key"
    assert "'value'" in rec.attributes["detail"]
    nested = classify(b'{"value": 1, "meta": {"a": 1, "a": 1}}')
    assert nested.attributes["reason_code"] == "duplicate_key"


def test_json_nested_beyond_the_parsers_depth_is_quarantined_not_raised():
    deep = b'{"value": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    rec = classify_uns_message(
        source="uns",
        topic=TOPIC,
        payload=deep,
        qos=1,
        received_at=NOW,
        rules=UnsRules(max_payload_bytes=1 << 20),
    )
    assert rec.kind == "quarantine" and rec.attributes["reason_code"] == "invalid_json"


def test_a_timestamp_whose_offset_overflows_utc_is_quarantined():
    rec = classify(b'{"value": 1, "timestamp": "9999-12-31T23:59:59-23:59"}')
    assert rec.attributes["reason_code"] == "bad_timestamp"


def test_the_same_bad_bytes_twice_are_one_quarantine_row():
    first = classify(b"not json")
    later = classify_uns_message(
        source="uns",
        topic=TOPIC,
        payload=b"not json",
        qos=1,
        received_at=datetime(2026, 3, 2, tzinfo=UTC),
        rules=UnsRules(max_payload_bytes=1024),
    )
    assert first.resolved_id() == later.resolved_id()


@pytest.mark.parametrize(
    "payload",
    [b'{"value": 1, "timestamp": 1' + b"0" * 400 + b"}", b'{"value": 1' + b"0" * 5000 + b"}"],
    ids=["epoch-beyond-float", "integer-beyond-python-digits"],
)
def test_numbers_beyond_what_can_be_converted_are_quarantined_with_their_reason(payload):
    rec = classify_uns_message(source="uns", topic=TOPIC, payload=payload, qos=1, received_at=NOW)
    assert rec.attributes["reason_code"] in ("timestamp_in_future", "invalid_json")
