"""From raw MQTT messages to a landed batch: classify (UNS JSON or Sparkplug B), dedupe, land.

The MQTT connector's network thread only receives; its run loop hands a batch of raw messages to
a `BatchLander`, which classifies every message, writes the batch to the landing zone (fsynced)
and reports what it did, so that the connector can acknowledge the batch and ask Sparkplug nodes
for rebirths. One lander per connector, one batch at a time: the order of messages, the
Sparkplug state and the dedupe window stay those of one stream.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ingestion.landing import LandingRecord, LandingZone
from ingestion.mqtt.sparkplug import SparkplugDecoder, is_sparkplug_topic
from ingestion.mqtt.uns import UnsRules, classify_uns_message
from ingestion.quarantine import Reason, quarantined

log = logging.getLogger(__name__)

# topic, payload, QoS, time received (UTC)
RawMessage = tuple[str, bytes, int, datetime]


@dataclass
class BatchOutcome:
    """What one batch became: counts for the connector's stats, rebirths to ask for."""

    landed: int = 0
    accepted: int = 0
    quarantined: int = 0
    redelivered: int = 0  # accepted again with the id of an earlier landing: bronze keeps one
    reasons: dict[str, int] = field(default_factory=dict)
    rebirths: list[tuple[str, str]] = field(default_factory=list)  # (group id, edge node id)
    records: list[LandingRecord] = field(default_factory=list, repr=False)
    path: str | None = None


class MessageClassifier:
    """One stream's classification state: Sparkplug births and sequences, recent message ids."""

    def __init__(
        self,
        source: str,
        *,
        max_payload_bytes: int,
        dedupe_window: int,
        sparkplug_max_payload_bytes: int = 1024 * 1024,
    ):
        self.source = source
        self.sparkplug = SparkplugDecoder(source, max_payload_bytes=sparkplug_max_payload_bytes)
        self.uns_rules = UnsRules(max_payload_bytes=max_payload_bytes)
        self.dedupe_window = dedupe_window
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.internal_errors = 0
        self.redelivered = 0

    def classify(
        self, topic: str, payload: bytes, qos: int, received_at: datetime
    ) -> tuple[LandingRecord, tuple[str, str] | None]:
        """The landing record of one message (accepted or `quarantine`) and a rebirth to ask for.

        Never raises: a message that breaks the classifier is quarantined as `internal_error`
        with the exception, so that it is acknowledged and the stream goes on.
        """
        try:
            record, rebirth = self._classify(topic, payload, qos, received_at)
            if record.kind != "quarantine" and self.remember(record.resolved_id()):
                self.redelivered += 1
            return record, rebirth
        except Exception as exc:
            self.internal_errors += 1
            # a bug, not the sender's fault: show where, but not a thousand times
            if self.internal_errors <= 10:
                log.error("%s: cannot classify a message on %r", self.source, topic, exc_info=True)
            detail = f"{type(exc).__name__}: {exc}"
            return (
                quarantined(
                    self.source, topic, payload, received_at, Reason.INTERNAL_ERROR, detail
                ),
                None,
            )

    def _classify(
        self, topic: str, payload: bytes, qos: int, received_at: datetime
    ) -> tuple[LandingRecord, tuple[str, str] | None]:
        if is_sparkplug_topic(topic):
            decoded = self.sparkplug.handle(topic, payload, received_at, qos)
            return decoded.record, decoded.rebirth
        record = classify_uns_message(
            source=self.source,
            topic=topic,
            payload=payload,
            qos=qos,
            received_at=received_at,
            rules=self.uns_rules,
        )
        return record, None

    def remember(self, record_id: str) -> bool:
        """Note an accepted id; True if it was accepted recently (a redelivery or a repeat)."""
        again = record_id in self._recent
        self._recent[record_id] = None
        self._recent.move_to_end(record_id)
        if len(self._recent) > self.dedupe_window:
            self._recent.popitem(last=False)
        return again


class BatchLander:
    """Classifies a batch of raw messages and lands it durably in one file."""

    def __init__(
        self,
        source: str,
        landing_root: str,
        *,
        max_payload_bytes: int,
        dedupe_window: int,
        sparkplug_max_payload_bytes: int = 1024 * 1024,
    ):
        self.zone = LandingZone(Path(landing_root))
        self.classifier = MessageClassifier(
            source,
            max_payload_bytes=max_payload_bytes,
            dedupe_window=dedupe_window,
            sparkplug_max_payload_bytes=sparkplug_max_payload_bytes,
        )

    def classify(self, batch: list[RawMessage]) -> BatchOutcome:
        """Classify a batch (the stream's state moves on: births, seq, recent ids)."""
        outcome = BatchOutcome()
        redelivered_before = self.classifier.redelivered
        for topic, payload, qos, received_at in batch:
            record, rebirth = self.classifier.classify(topic, payload, qos, received_at)
            outcome.records.append(record)
            if rebirth is not None and rebirth not in outcome.rebirths:
                outcome.rebirths.append(rebirth)
            if record.kind == "quarantine":
                outcome.quarantined += 1
                reason = record.attributes["reason_code"]
                outcome.reasons[reason] = outcome.reasons.get(reason, 0) + 1
            else:
                outcome.accepted += 1
        outcome.redelivered = self.classifier.redelivered - redelivered_before
        return outcome

    def write(self, outcome: BatchOutcome) -> BatchOutcome:
        """Land a classified batch durably; if it raises, write the same outcome again later
        (classifying the messages twice would see every Sparkplug seq twice)."""
        path = self.zone.write_batch(self.classifier.source, outcome.records)
        outcome.landed = len(outcome.records)
        outcome.path = str(path) if path else None
        return outcome

    def land(self, batch: list[RawMessage]) -> BatchOutcome:
        """Classify and land one batch."""
        return self.write(self.classify(batch))
