"""A source's health: states, errors, and when reconnecting becomes failing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingestion.health import FAILING_AFTER, SourceState, SourceStats


def test_an_error_is_recorded_with_its_time_and_sets_the_state():
    stats = SourceStats(source="uns")
    stats.error("the broker refused the connection: Not authorized")
    assert stats.state == SourceState.FAILING and stats.errors == 1
    assert stats.last_error == "the broker refused the connection: Not authorized"
    assert stats.last_error_at is not None
    stats.error("a blip", state=None)  # recorded, state kept
    assert stats.state == SourceState.FAILING and stats.errors == 2


def test_reconnecting_for_longer_than_a_minute_is_reported_as_failing():
    stats = SourceStats()
    stats.set_state(SourceState.RECONNECTING)
    since = stats.state_since
    assert stats.effective_state(since + FAILING_AFTER) == SourceState.RECONNECTING
    assert stats.effective_state(since + FAILING_AFTER + timedelta(seconds=1)) == "failing"


def test_a_snapshot_is_plain_json_with_the_reported_state_and_the_age_of_the_last_message():
    stats = SourceStats(source="uns", received=3, accepted=2, quarantined=1)
    stats.count({"invalid_json": 1})
    stats.last_message_at = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    snap = stats.snapshot(datetime(2026, 3, 1, 6, 0, 30, tzinfo=UTC))
    assert snap["state"] == "starting" and snap["reasons"] == {"invalid_json": 1}
    assert snap["last_message_at"] == "2026-03-01T06:00:00+00:00"
    assert snap["last_message_age_s"] == 30.0
    assert "_lock" not in snap
