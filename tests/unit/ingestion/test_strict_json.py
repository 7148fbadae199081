"""The one JSON reader: what silver would read differently from Python is refused, with a reason."""

from __future__ import annotations

import pytest

from ingestion.strict_json import JsonRefused, read_json


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff", "invalid_utf8"),
        (b"{", "invalid_json"),
        (b'{"v": NaN}', "non_finite_value"),
        (b'{"v": 1, "v": 1}', "duplicate_key"),
        (b'{"a": {"k": 1, "k": 2}}', "duplicate_key"),
        (b"[" * 5000 + b"]" * 5000, "invalid_json"),
        (b'{"v": 1' + b"0" * 5000 + b"}", "invalid_json"),
        (b"[1]", "not_an_object"),
    ],
)
def test_what_python_and_spark_would_read_differently_is_refused(payload, reason):
    with pytest.raises(JsonRefused) as refused:
        read_json(payload)
    assert refused.value.reason == reason


def test_a_strict_document_is_read():
    assert read_json(b'{"value": 1.5, "meta": {"unit": "degC"}}') == {
        "value": 1.5,
        "meta": {"unit": "degC"},
    }
    assert read_json(b"[1, 2]", object_only=False) == [1, 2]
