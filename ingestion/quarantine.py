"""Reason codes for input that cannot be accepted, and the landing record that keeps it."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from ingestion.landing import LandingRecord


class Reason(StrEnum):
    """Why an input went to `bronze.quarantine` (the `reason_code` column)."""

    UNKNOWN_TOPIC_LAYOUT = "unknown_topic_layout"
    OVERSIZED_PAYLOAD = "oversized_payload"
    EMPTY_PAYLOAD = "empty_payload"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_VALUE = "missing_value"
    WRONG_VALUE_TYPE = "wrong_value_type"
    NON_FINITE_VALUE = "non_finite_value"
    MISSING_TIMESTAMP = "missing_timestamp"
    BAD_TIMESTAMP = "bad_timestamp"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    BAD_QUALITY = "bad_quality"
    UNEXPECTED_FIELDS = "unexpected_fields"
    DUPLICATE = "duplicate"
    NOT_PROTOBUF = "not_protobuf"
    UNKNOWN_MESSAGE_TYPE = "unknown_message_type"
    UNKNOWN_ALIAS = "unknown_alias"
    SEQUENCE_GAP = "sequence_gap"
    AWAITING_REBIRTH = "awaiting_rebirth"
    DATA_BEFORE_BIRTH = "data_before_birth"
    BAD_BIRTH = "bad_birth"
    MISSING_SEQUENCE = "missing_sequence"
    STALE_DEATH = "stale_death"
    NULL_KEY = "null_key"
    DUPLICATE_KEY = "duplicate_key"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    BAD_DATATYPE = "bad_datatype"
    INTERNAL_ERROR = "internal_error"


def quarantined(
    source: str,
    address: str | None,
    raw: bytes | None,
    received_at: datetime,
    reason: Reason,
    detail: str,
    *,
    record_id: str | None = None,
) -> LandingRecord:
    """The landing record of a rejected input: its bytes unchanged, the reason beside them.

    Its id derives from what was received (source, address, bytes) and the reason, never from
    the time: a retained message or a redelivery that is quarantined again lands once.
    """
    if address is not None:
        try:
            address.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: keep a readable, landable address
            address = address.encode("utf-8", "backslashreplace").decode("utf-8")
    if record_id is None:
        digest = hashlib.sha256()
        for part in ("quarantine", source, address or "", reason.value):
            digest.update(part.encode() + b"\0")
        digest.update(raw or b"")
        record_id = digest.hexdigest()
    return LandingRecord(
        kind="quarantine",
        source=source,
        address=address,
        payload=raw,
        received_at=received_at,
        attributes={"reason_code": reason.value, "detail": detail[:2000]},
        record_id=record_id,
    )
