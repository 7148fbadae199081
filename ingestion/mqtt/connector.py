"""MQTT connector (paho-mqtt 2.x, MQTT 5): unified-namespace JSON and Sparkplug B into the landing zone.

A persistent session (clean start off, session expiry) keeps QoS 1 messages at the broker while
the connector is away. Acknowledgement is manual and happens only after the batch holding the
message is durably in the landing zone: a crash before that makes the broker deliver it again,
and the record id keeps the replay from counting twice in bronze. The network thread only receives
and sends acknowledgements; parsing and landing (`ingestion.mqtt.classifier`) run in the run loop.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, Field

from ingestion.landing import LandingZone
from ingestion.mqtt.classifier import BatchLander, RawMessage
from ingestion.mqtt.sparkplug import NAMESPACE, rebirth_request

log = logging.getLogger(__name__)


class MqttSourceConfig(BaseModel):
    """One MQTT broker to ingest from (an entry of the ingestion YAML)."""

    name: str
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = Field(description="stable id: the broker keeps this session's messages")
    topics: list[str] = Field(
        default_factory=lambda: ["#"],
        description="topic filters to subscribe to (default every topic: JSON on any topic, "
        f"Sparkplug B under {NAMESPACE}/); the plant model decides what each one means",
    )
    qos: int = 1
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the password")
    tls_ca_file: str | None = None
    session_expiry_s: int = 24 * 3600
    batch_max_messages: int = 5000
    receive_maximum: int = Field(
        4096,
        ge=2,
        le=65535,
        description="unacknowledged QoS 1 messages the broker may have in flight to us (MQTT 5 "
        "Receive Maximum); a batch is landed when half of them are pending",
    )
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
        self._pending: list[tuple[RawMessage, int]] = []  # message, mid
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time keeps the acks in order
        self._lander: BatchLander | None = None
        # Landed, not yet acknowledged: (mid, qos) in arrival order. The network thread sends the
        # acks as it receives (no cross-thread wake-up per ack); the run loop sends what is left
        # when the stream goes quiet. One sender at a time keeps PUBACKs in order.
        self._ready_acks: deque[tuple[int, int]] = deque()
        self._ack_lock = threading.Lock()
        self._last_rebirth: dict[tuple[str, str], float] = {}
        self._connected = threading.Event()
        self._wake = (
            threading.Event()
        )  # set when a batch is full: land it now, not at the next tick
        # The broker stops sending when `receive_maximum` messages wait for our ack: land at half.
        self._flush_at = min(config.batch_max_messages, max(1, config.receive_maximum // 2))
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
        self.stats.received += 1
        self.stats.last_message_at = now
        with self._lock:
            self._pending.append(((message.topic, message.payload, message.qos, now), message.mid))
            full = len(self._pending) >= self._flush_at
        if full:
            self._wake.set()  # the run loop lands it; this network thread keeps receiving
        if self._ready_acks:
            self._send_acks(blocking=False)

    def _send_acks(self, *, blocking: bool) -> None:
        if not self._ack_lock.acquire(blocking=blocking):
            return
        try:
            while self._ready_acks:
                mid, qos = self._ready_acks.popleft()
                self.client.ack(mid, qos)
        finally:
            self._ack_lock.release()

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
    def _start_lander(self) -> BatchLander:
        if self._lander is None:
            self._lander = BatchLander(
                source=self.config.name,
                landing_root=str(self.zone.root),
                max_payload_bytes=self.config.max_payload_bytes,
                dedupe_window=self.config.dedupe_window,
            )
        return self._lander

    def flush(self) -> int:
        """Classify and land what is pending (fsynced), then acknowledge those messages in order."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            outcome = self._start_lander().land([message for message, _ in batch])
            self.stats.accepted += outcome.accepted
            self.stats.quarantined += outcome.quarantined
            for reason, n in outcome.reasons.items():
                self.stats.reasons[reason] = self.stats.reasons.get(reason, 0) + n
            self.stats.landed += outcome.landed
            self.stats.batches += 1
            self._ready_acks.extend((mid, qos) for (_, _, qos, _), mid in batch if qos > 0)
            for group_id, edge_node_id in outcome.rebirths:
                self._request_rebirth(group_id, edge_node_id)
            return len(batch)

    def run(self, stop: threading.Event) -> MqttStats:
        """Connect with a persistent session and land until `stop` is set."""
        cfg = self.config
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = cfg.session_expiry_s
        props.ReceiveMaximum = cfg.receive_maximum
        self.client.connect_async(
            cfg.host, cfg.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()
        self._start_lander()  # its imports run while paho connects and buffers the first batch
        try:
            while not stop.is_set():
                quiet = not self._wake.wait(cfg.flush_interval_s)
                self._wake.clear()
                self.flush()
                if quiet:  # no full batch for a while: the network thread may not come by soon
                    self._send_acks(blocking=True)
            self.flush()
            self._send_acks(blocking=True)
        finally:
            self.client.disconnect()
            self.client.loop_stop()
        return self.stats
