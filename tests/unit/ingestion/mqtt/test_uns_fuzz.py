"""Property-based fuzzing of the JSON classifier: whatever arrives on whatever topic is accepted
or quarantined with a known reason, never raised; what is accepted is what silver will read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestion.mqtt.classifier import MessageClassifier
from ingestion.mqtt.uns import UnsRules, classify_uns_message
from ingestion.quarantine import Reason

pytestmark = pytest.mark.fuzz
NOW = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
REASONS = {r.value for r in Reason} - {Reason.INTERNAL_ERROR.value}

topics = st.one_of(
    st.text(min_size=0, max_size=40),
    st.lists(st.text(min_size=0, max_size=8), min_size=1, max_size=9).map("/".join),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),  # beyond any float
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
timestamps = st.one_of(
    scalars,
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-02-30"]),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)
)


@st.composite
def documents(draw) -> bytes:
    doc = draw(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
    if draw(st.booleans()):
        doc["value"] = draw(json_values)
    if draw(st.booleans()):
        doc[draw(st.sampled_from(["timestamp", "timestamp_ms"]))] = draw(timestamps)
    text = json.dumps(doc, allow_nan=True)
    if draw(st.booleans()) and len(doc) > 0:  # a key written twice, as some encoders do
        key = json.dumps(next(iter(doc)))
        text = text[:-1] + (", " if len(doc) else "") + f"{key}: 1}}"
    return text.encode()


payloads = st.one_of(
    st.binary(max_size=300),
    documents(),
    documents().map(lambda b: b[: len(b) // 2]),  # cut short
    st.integers(min_value=1, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
)


@given(topic=topics, payload=payloads)
def test_any_message_is_accepted_or_quarantined_with_a_known_reason(topic, payload):
    rec = classify_uns_message(
        source="uns",
        topic=topic,
        payload=payload,
        qos=1,
        received_at=NOW,
        rules=UnsRules(max_payload_bytes=4096),
    )
    assert rec.kind in ("mqtt", "quarantine")
    if rec.kind == "quarantine":
        assert rec.attributes["reason_code"] in REASONS and rec.payload == payload
        return
    # accepted: a JSON object with unique keys and finite numbers, as Spark will read it
    pairs = json.loads(payload, object_pairs_hook=lambda p: p)
    assert len({k for k, _ in pairs}) == len(pairs)
    doc = json.loads(payload)
    assert isinstance(doc, dict) and not isinstance(doc.get("value"), dict | list)
    assert rec.source_timestamp is None or rec.source_timestamp.tzinfo is not None


@given(messages=st.lists(st.tuples(topics, payloads), max_size=20))
def test_a_stream_of_anything_never_needs_the_internal_error_guard(messages):
    classifier = MessageClassifier("uns", max_payload_bytes=4096, dedupe_window=8)
    for topic, payload in messages:
        record, _ = classifier.classify(topic, payload, 1, NOW)
        assert record.kind in ("mqtt", "sparkplug", "quarantine")
    assert classifier.internal_errors == 0
