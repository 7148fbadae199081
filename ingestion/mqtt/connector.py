"""MQTT connector (paho-mqtt 2.x, MQTT 5): unified-namespace JSON and Sparkplug B into the landing zone.

A persistent session (clean start off, session expiry) keeps QoS 1 messages at the broker while
the connector is away. Acknowledgement is manual and happens only after the batch holding the
message is durably in the landing zone: a crash before that makes the broker deliver it again,
and the record id keeps the replay from counting twice in bronze.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, Field

from ingestion.landing import LandingRecord, LandingZone
from ingestion.mqtt.sparkplug import NAMESPACE, SparkplugDecoder, rebirth_request
from ingestion.mqtt.uns import UnsRules, classify_uns_message
from ingestion.quarantine import Reason, quarantined

log = logging.getLogger(__name__)


class MqttSourceConfig(BaseModel):
    """One MQTT broker to ingest from (an entry of the ingestion YAML)."""

    name: str
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = Field(description="stable id: the broker keeps this session's messages")
    topics: list[str] = Field(default_factory=lambda: ["acme/#", f"{NAMESPACE}/#"])
    qos: int = 1
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the password")
    tls_ca_file: str | None = None
    session_expiry_s: int = 24 * 3600
    batch_max_messages: int = 5000
    flush_interval_s: float = 0.2
    max_payload_bytes: int = 64 * 1024
    rebirth_min_interval_s: float = 5.0
    dedupe_window: int = 100_000


@dataclass
class MqttStats:
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    received: int = 0
    accepted: int = 0
    quarantined: int = 0
    landed: int = 0
    batches: int = 0
    rebirths_requested: int = 0
    connects: int = 0
    last_message_at: datetime | None = None
    reasons: dict[str, int] = field(default_factory=dict)


class MqttConnector:
    """Subscribes, classifies, lands and only then acknowledges."""

    def __init__(self, config: MqttSourceConfig, zone: LandingZone):
        self.config = config
        self.zone = zone
        self.stats = MqttStats()
        self.sparkplug = SparkplugDecoder(config.name)
        self.uns_rules = UnsRules(max_payload_bytes=config.max_payload_bytes)
        self._pending: list[tuple[LandingRecord, int, int]] = []  # record, mid, qos
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time keeps the acks in order
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._last_rebirth: dict[tuple[str, str], float] = {}
        self._connected = threading.Event()
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        cfg = self.config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if cfg.username:
            password = os.environ.get(cfg.password_env or "") if cfg.password_env else None
            if cfg.password_env and password is None:
                raise ValueError(
                    f"source {cfg.name!r}: environment variable {cfg.password_env} (password_env) is not set"
                )
            client.username_pw_set(cfg.username, password)
        if cfg.tls_ca_file:
            client.tls_set(ca_certs=cfg.tls_ca_file)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # -- callbacks (paho's network thread) ---------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("%s: broker refused the connection: %s", self.config.name, reason_code)
            return
        self.stats.connects += 1
        log.info("%s: connected (session present: %s)", self.config.name, flags.session_present)
        client.subscribe([(t, self.config.qos) for t in self.config.topics])
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        log.warning("%s: disconnected (%s); paho reconnects", self.config.name, reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        now = datetime.now(UTC)
        record = self.classify(message.topic, message.payload, message.qos, now)
        with self._lock:
            self._pending.append((record, message.mid, message.qos))
            full = len(self._pending) >= self.config.batch_max_messages
        if full:
            self.flush()

    # -- classification -------------------------------------------------------------------------
    def classify(
        self, topic: str, payload: bytes, qos: int, received_at: datetime
    ) -> LandingRecord:
        """The landing record of one message: accepted (`mqtt`/`sparkplug`) or `quarantine`."""
        self.stats.received += 1
        self.stats.last_message_at = received_at
        if topic.startswith(NAMESPACE + "/"):
            decoded = self.sparkplug.handle(topic, payload, received_at, qos)
            record = decoded.record
            if decoded.rebirth is not None:
                self._request_rebirth(*decoded.rebirth)
        else:
            record = classify_uns_message(
                source=self.config.name,
                topic=topic,
                payload=payload,
                qos=qos,
                received_at=received_at,
                rules=self.uns_rules,
            )
            if record.kind == "mqtt":
                record_id = record.resolved_id()
                if record_id in self._recent:
                    record = quarantined(
                        self.config.name,
                        topic,
                        payload,
                        received_at,
                        Reason.DUPLICATE,
                        f"message {record_id[:16]}… was already accepted (QoS 1 redelivery or a repeated publish)",
                    )
                else:
                    self._recent[record_id] = None
                    if len(self._recent) > self.config.dedupe_window:
                        self._recent.popitem(last=False)
        if record.kind == "quarantine":
            self.stats.quarantined += 1
            reason = record.attributes["reason_code"]
            self.stats.reasons[reason] = self.stats.reasons.get(reason, 0) + 1
        else:
            self.stats.accepted += 1
        return record

    def _request_rebirth(self, group_id: str, edge_node_id: str) -> None:
        node = (group_id, edge_node_id)
        now = time.monotonic()
        if now - self._last_rebirth.get(node, -1e9) < self.config.rebirth_min_interval_s:
            return
        self._last_rebirth[node] = now
        topic, payload = rebirth_request(group_id, edge_node_id, int(time.time() * 1000))
        self.client.publish(topic, payload, qos=0)
        self.stats.rebirths_requested += 1
        log.info("%s: asked %s/%s for a rebirth", self.config.name, group_id, edge_node_id)

    # -- landing, then acknowledging -----------------------------------------------------------------
    def flush(self) -> int:
        """Land what is pending, fsynced, then acknowledge those messages in order."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            self.zone.write_batch(self.config.name, [rec for rec, _, _ in batch])
            self.stats.landed += len(batch)
            self.stats.batches += 1
            for _, mid, qos in batch:
                if qos > 0:
                    self.client.ack(mid, qos)
            return len(batch)

    def run(self, stop: threading.Event) -> MqttStats:
        """Connect with a persistent session and land until `stop` is set."""
        cfg = self.config
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = cfg.session_expiry_s
        self.client.connect_async(
            cfg.host, cfg.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()
        try:
            while not stop.wait(cfg.flush_interval_s):
                self.flush()
            self.flush()
        finally:
            self.client.disconnect()
            self.client.loop_stop()
        return self.stats
