"""From raw MQTT messages to a landed batch: classify (UNS JSON or Sparkplug B), dedupe, land.

The MQTT connector's network thread only receives; its run loop hands a batch of raw messages to
a `BatchLander`, which classifies every message, writes the batch to the landing zone (fsynced)
and reports what it did, so that the connector can acknowledge the batch and ask Sparkplug nodes
for rebirths. One lander per connector, one batch at a time: the order of messages, the
Sparkplug state and the dedupe window stay those of one stream.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ingestion.landing import LandingRecord, LandingZone
from ingestion.mqtt.sparkplug import NAMESPACE, SparkplugDecoder
from ingestion.mqtt.uns import UnsRules, classify_uns_message
from ingestion.quarantine import Reason, quarantined

# topic, payload, QoS, time received (UTC)
RawMessage = tuple[str, bytes, int, datetime]


@dataclass
class BatchOutcome:
    """What one batch became: counts for the connector's stats, rebirths to ask for."""

    landed: int = 0
    accepted: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    rebirths: list[tuple[str, str]] = field(default_factory=list)  # (group id, edge node id)
    path: str | None = None


class MessageClassifier:
    """One stream's classification state: Sparkplug births and sequences, recent message ids."""

    def __init__(self, source: str, *, max_payload_bytes: int, dedupe_window: int):
        self.source = source
        self.sparkplug = SparkplugDecoder(source)
        self.uns_rules = UnsRules(max_payload_bytes=max_payload_bytes)
        self.dedupe_window = dedupe_window
        self._recent: OrderedDict[str, None] = OrderedDict()

    def classify(
        self, topic: str, payload: bytes, qos: int, received_at: datetime
    ) -> tuple[LandingRecord, tuple[str, str] | None]:
        """The landing record of one message (accepted or `quarantine`) and a rebirth to ask for."""
        if topic.startswith(NAMESPACE + "/"):
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
        if record.kind != "mqtt":
            return record, None
        record_id = record.resolved_id()
        if record_id in self._recent:
            return (
                quarantined(
                    self.source,
                    topic,
                    payload,
                    received_at,
                    Reason.DUPLICATE,
                    f"message {record_id[:16]}… was already accepted (QoS 1 redelivery or a repeated publish)",
                ),
                None,
            )
        self._recent[record_id] = None
        if len(self._recent) > self.dedupe_window:
            self._recent.popitem(last=False)
        return record, None


class BatchLander:
    """Classifies a batch of raw messages and lands it durably in one file."""

    def __init__(
        self, source: str, landing_root: str, *, max_payload_bytes: int, dedupe_window: int
    ):
        self.zone = LandingZone(Path(landing_root))
        self.classifier = MessageClassifier(
            source, max_payload_bytes=max_payload_bytes, dedupe_window=dedupe_window
        )

    def land(self, batch: list[RawMessage]) -> BatchOutcome:
        outcome = BatchOutcome()
        records = []
        for topic, payload, qos, received_at in batch:
            record, rebirth = self.classifier.classify(topic, payload, qos, received_at)
            records.append(record)
            if rebirth is not None and rebirth not in outcome.rebirths:
                outcome.rebirths.append(rebirth)
            if record.kind == "quarantine":
                outcome.quarantined += 1
                reason = record.attributes["reason_code"]
                outcome.reasons[reason] = outcome.reasons.get(reason, 0) + 1
            else:
                outcome.accepted += 1
        path = self.zone.write_batch(self.classifier.source, records)
        outcome.landed = len(records)
        outcome.path = str(path) if path else None
        return outcome
