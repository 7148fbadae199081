"""What every connector reports about itself: its state, its last error, and its counts.

One dataclass for every protocol, so that `plantlake ingest status`, the status files and the
Prometheus metrics read the same fields. A connector sets its state as things happen; a source
that stays `reconnecting` longer than `FAILING_AFTER` is reported as `failing`, so monitoring can
tell a blip from an outage.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

FAILING_AFTER = timedelta(seconds=60)


class SourceState(StrEnum):
    """Where a source stands, as `plantlake ingest status` shows it."""

    STARTING = "starting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILING = "failing"
    STOPPED = "stopped"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SourceStats:
    """Counts and health of one source; `received == accepted + quarantined` once landed."""

    source: str = ""  # the source's name, for log lines
    started_at: datetime = field(default_factory=_now)
    state: SourceState = SourceState.STARTING
    state_since: datetime = field(default_factory=_now)
    last_error: str | None = None
    last_error_at: datetime | None = None
    errors: int = 0
    restarts: int = 0
    received: int = 0
    accepted: int = 0
    quarantined: int = 0
    landed: int = 0
    batches: int = 0
    last_message_at: datetime | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def set_state(self, state: SourceState) -> None:
        with self._lock:
            if state != self.state:
                self.state, self.state_since = state, _now()

    def error(
        self,
        message: str,
        *,
        state: SourceState | None = SourceState.FAILING,
        logger: logging.Logger | None = None,
    ) -> None:
        """Record a fault with its time (and log it); `state=None` keeps the state as it is."""
        with self._lock:
            self.last_error, self.last_error_at = message[:2000], _now()
            self.errors += 1
        if state is not None:
            self.set_state(state)
        if logger is not None:
            logger.error("%s: %s", self.source or "source", message)

    def count(self, reasons: dict[str, int]) -> None:
        """Add quarantine reasons (reason code -> messages)."""
        with self._lock:
            for reason, n in reasons.items():
                self.reasons[reason] = self.reasons.get(reason, 0) + n

    def effective_state(self, now: datetime | None = None) -> SourceState:
        """The state to report: reconnecting for longer than FAILING_AFTER is failing."""
        now = now or _now()
        if self.state == SourceState.RECONNECTING and now - self.state_since > FAILING_AFTER:
            return SourceState.FAILING
        return self.state

    def snapshot(self, now: datetime | None = None) -> dict:
        """The stats as plain JSON-ready values (times as ISO text)."""
        now = now or _now()
        out: dict = {}
        for name in self.__dataclass_fields__:
            if name.startswith("_"):
                continue
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, dict):
                value = dict(value)
            out[name] = value
        out["state"] = self.effective_state(now).value
        last = self.last_message_at
        out["last_message_age_s"] = (now - last).total_seconds() if last else None
        return out
