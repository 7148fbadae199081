"""MQTT connector (paho-mqtt 2.x, MQTT 5): unified-namespace JSON and Sparkplug B into the landing zone.

A persistent session (clean start off, session expiry) keeps QoS 1 messages at the broker while
the connector is away. Acknowledgement is manual and happens only after the batch holding the
message is durably in the landing zone: a crash before that makes the broker deliver it again,
and the record id keeps the replay from counting twice in bronze. The network thread only receives
and sends acknowledgements; parsing and landing (`ingestion.mqtt.classifier`) run in the run loop.

No message can stop the loop: one that fails classification is quarantined as `internal_error`
and acknowledged like any other; a batch that cannot be landed (disk full) stays unacknowledged
and is tried again with backoff, its failure shown in the source's state. As a Sparkplug 3.0
Host Application the connector keeps a retained `spBv1.0/STATE/<host id>` birth and will.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from pydantic import BaseModel, Field, model_validator

from ingestion.health import SourceState, SourceStats
from ingestion.landing import LandingZone
from ingestion.mqtt.classifier import BatchLander, BatchOutcome, RawMessage
from ingestion.mqtt.sparkplug import NAMESPACE, host_state, rebirth_request

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
    batch_max_bytes: int = Field(
        64 * 1024 * 1024, gt=0, description="land a batch once its payloads reach this size"
    )
    receive_maximum: int = Field(
        4096,
        ge=2,
        le=65535,
        description="unacknowledged QoS 1 messages the broker may have in flight to us (MQTT 5 "
        "Receive Maximum); a batch is landed when half of them are pending",
    )
    flush_interval_s: float = 0.2
    max_payload_bytes: int = Field(
        64 * 1024,
        gt=0,
        description="largest JSON payload accepted (bytes); larger ones are quarantined",
    )
    sparkplug_max_payload_bytes: int = Field(
        1024 * 1024,
        gt=0,
        description="largest Sparkplug B payload accepted (bytes); larger ones are quarantined",
    )
    sparkplug_host: bool = Field(
        True,
        description="act as a Sparkplug 3.0 Host Application: a retained spBv1.0/STATE/<host id> "
        "birth while connected and the same topic as will",
    )
    sparkplug_host_id: str | None = Field(
        None, description="the Host Application id (default: client_id)"
    )
    rebirth_min_interval_s: float = 5.0
    dedupe_window: int = 100_000

    @model_validator(mode="after")
    def _valid_host_id(self) -> MqttSourceConfig:
        if self.sparkplug_host:
            try:
                host_state(self.host_id, online=True, timestamp_ms=0)
            except ValueError as exc:
                raise ValueError(
                    f"sparkplug_host_id {self.host_id!r} cannot be a Sparkplug host id ({exc}); "
                    "set sparkplug_host_id or sparkplug_host: false"
                ) from None
        return self

    @property
    def host_id(self) -> str:
        return self.sparkplug_host_id or self.client_id


@dataclass
class MqttStats(SourceStats):
    rebirths_requested: int = 0
    connects: int = 0
    redelivered: int = 0


class MqttConnector:
    """Subscribes, classifies, lands and only then acknowledges."""

    def __init__(self, config: MqttSourceConfig, zone: LandingZone):
        self.config = config
        self.zone = zone
        self.stats = MqttStats(source=config.name)
        self._refused = False  # the broker refused the login: failing until it accepts
        # received, not landed: (message, packet id, connection generation); and their bytes
        self._pending: list[tuple[RawMessage, int, int]] = []
        self._pending_bytes = 0
        self._generation = 0  # bumped at every connection: a packet id is only valid within one
        # classified but not yet written (the landing zone failed): written again, not re-read
        self._unlanded: tuple[list[tuple[RawMessage, int, int]], BatchOutcome] | None = None
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time keeps the acks in order
        self._lander: BatchLander | None = None
        # Landed, not yet acknowledged: (mid, qos, generation) in arrival order. The network
        # thread sends the acks as it receives (no cross-thread wake-up per ack); the run loop
        # sends what is left when the stream goes quiet. One sender at a time keeps PUBACKs in
        # order. An ack of an earlier connection is dropped: the broker sends that message again.
        self._ready_acks: deque[tuple[int, int, int]] = deque()
        self._ack_lock = threading.Lock()
        self._last_rebirth: dict[tuple[str, str], float] = {}
        self._connected = threading.Event()
        self.subscribed = threading.Event()  # set once the broker granted this connection's filters
        # set when a batch is full: land it now, not at the next tick
        self._wake = threading.Event()
        # The broker stops sending when `receive_maximum` messages wait for our ack: land at half.
        self._flush_at = min(config.batch_max_messages, max(1, config.receive_maximum // 2))
        self._host_timestamp_ms = 0  # of the STATE will of the current connection
        self.client: mqtt.Client | None = None  # made by run(): a bad password_env fails there

    def _make_client(self) -> mqtt.Client:
        cfg = self.config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.suppress_exceptions = True  # a fault in a callback is logged, never ends the thread
        self._secure(client)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _secure(self, client: mqtt.Client) -> None:
        cfg = self.config
        if cfg.username:
            password = os.environ.get(cfg.password_env or "") if cfg.password_env else None
            if cfg.password_env and password is None:
                raise ValueError(
                    f"source {cfg.name!r}: environment variable {cfg.password_env} (password_env) is not set"
                )
            client.username_pw_set(cfg.username, password)
        if cfg.tls_ca_file:
            client.tls_set(ca_certs=cfg.tls_ca_file)

    def check(self, timeout_s: float = 10.0) -> list[str]:
        """Problems that keep this source from working: the broker out of reach, the login
        refused, a topic filter refused. Uses its own client id: the session stays untouched."""
        cfg = self.config
        outcome: dict[str, object] = {}
        done = threading.Event()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{cfg.client_id}-check", protocol=mqtt.MQTTv5
        )
        try:
            self._secure(client)
        except ValueError as exc:
            return [str(exc)]

        def on_connect(c, userdata, flags, reason_code, properties) -> None:
            outcome["connect"] = reason_code
            if reason_code.is_failure:
                done.set()
            else:
                c.subscribe([(t, cfg.qos) for t in cfg.topics])

        def on_subscribe(c, userdata, mid, reason_codes, properties) -> None:
            outcome["subscribe"] = reason_codes
            done.set()

        client.on_connect, client.on_subscribe = on_connect, on_subscribe
        try:
            client.connect(cfg.host, cfg.port, keepalive=10)
        except OSError as exc:
            return [f"cannot reach the broker at {cfg.host}:{cfg.port}: {exc}"]
        client.loop_start()
        try:
            if not done.wait(timeout_s):
                return [f"no answer from the broker at {cfg.host}:{cfg.port} in {timeout_s:.0f} s"]
        finally:
            client.disconnect()
            client.loop_stop()
        connect = outcome["connect"]
        if connect.is_failure:
            return [f"the broker refused the connection: {connect}"]
        return [
            f"topics[{i}] {topic!r}: the broker refused the subscription: {code}"
            for i, (topic, code) in enumerate(zip(cfg.topics, outcome["subscribe"], strict=False))
            if code.is_failure
        ]

    # -- callbacks (paho's network thread) ---------------------------------------------------------
    def _on_pre_connect(self, client, userdata) -> None:
        """Every (re)connection carries a STATE will with its own timestamp (Sparkplug 3.0)."""
        if not self.config.sparkplug_host:
            return
        self._host_timestamp_ms = int(time.time() * 1000)
        topic, payload = host_state(
            self.config.host_id, online=False, timestamp_ms=self._host_timestamp_ms
        )
        client.will_set(topic, payload, qos=1, retain=True)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.stats.error(
                f"the broker refused the connection: {reason_code}",
                state=SourceState.FAILING,
                logger=None if self._refused else log,  # once per run of refusals
            )
            self._refused = True
            return
        self._refused = False
        with self._lock:
            self._generation += 1
        self.stats.connects += 1
        log.info("%s: connected (session present: %s)", self.config.name, flags.session_present)
        # No Local: our own STATE and rebirth requests are not data to land
        options = SubscribeOptions(qos=self.config.qos, noLocal=True)
        client.subscribe([(t, options) for t in self.config.topics])
        if self.config.sparkplug_host:
            topic, payload = host_state(
                self.config.host_id, online=True, timestamp_ms=self._host_timestamp_ms
            )
            client.publish(topic, payload, qos=1, retain=True)
        self._connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [
            f"{topic!r} ({code})"
            for topic, code in zip(self.config.topics, reason_codes, strict=False)
            if code.is_failure
        ]
        if refused:  # e.g. an ACL: the source is up but hears nothing of what it should
            self.stats.error(
                f"the broker refused the subscription to {', '.join(refused)}", logger=log
            )
        else:
            self.stats.set_state(SourceState.CONNECTED)
        self.subscribed.set()

    def _on_connect_fail(self, client, userdata) -> None:
        self._refused = False
        self.stats.error(
            f"cannot reach the broker at {self.config.host}:{self.config.port}; paho retries",
            state=SourceState.RECONNECTING,
        )

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self.subscribed.clear()
        if self.stats.state != SourceState.STOPPED and not self._refused:
            self.stats.error(
                f"disconnected from the broker ({reason_code}); paho reconnects",
                state=SourceState.RECONNECTING,
            )
            log.warning("%s: disconnected (%s); paho reconnects", self.config.name, reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        now = datetime.now(UTC)
        try:
            topic = message.topic
        except UnicodeDecodeError:  # not allowed by MQTT; kept, with its bytes shown, to be seen
            topic = message._topic.decode("utf-8", "backslashreplace")
        with self._lock:
            self.stats.last_message_at = now
            raw = (topic, message.payload, message.qos, now)
            self._pending.append((raw, message.mid, self._generation))
            self._pending_bytes += len(message.payload)
            full = (
                len(self._pending) >= self._flush_at
                or self._pending_bytes >= self.config.batch_max_bytes
            )
        if full:
            self._wake.set()  # the run loop lands it; this network thread keeps receiving
        if self._ready_acks:
            self._send_acks(blocking=False)

    def _send_acks(self, *, blocking: bool) -> None:
        if not self._ack_lock.acquire(blocking=blocking):
            return
        try:
            while self._ready_acks:
                mid, qos, generation = self._ready_acks.popleft()
                if generation == self._generation:
                    self.client.ack(mid, qos)
        finally:
            self._ack_lock.release()

    def _request_rebirth(self, group_id: str, edge_node_id: str) -> None:
        node = (group_id, edge_node_id)
        now = time.monotonic()
        if now - self._last_rebirth.get(node, -1e9) < self.config.rebirth_min_interval_s:
            return
        self._last_rebirth[node] = now
        try:
            topic, payload = rebirth_request(group_id, edge_node_id, int(time.time() * 1000))
        except ValueError as exc:  # the decoder validates ids; this is the last guard
            log.warning("%s: no rebirth request to %r/%r: %s", self.config.name, *node, exc)
            return
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
                sparkplug_max_payload_bytes=self.config.sparkplug_max_payload_bytes,
                dedupe_window=self.config.dedupe_window,
            )
        return self._lander

    def flush(self) -> int:
        """Classify and land what is pending (fsynced), then acknowledge those messages in order.

        If the batch cannot be landed it stays classified and unacknowledged, is written again
        by the next flush, and the error propagates: nothing is acknowledged that is not on disk.
        """
        with self._flush_lock:
            lander = self._start_lander()
            if self._unlanded is None:
                with self._lock:
                    batch, self._pending, self._pending_bytes = self._pending, [], 0
                if not batch:
                    return 0
                self._unlanded = (batch, lander.classify([raw for raw, _, _ in batch]))
            batch, outcome = self._unlanded
            lander.write(outcome)
            self._unlanded = None
            self.stats.received += len(batch)
            self.stats.accepted += outcome.accepted
            self.stats.quarantined += outcome.quarantined
            self.stats.redelivered += outcome.redelivered
            self.stats.count(outcome.reasons)
            self.stats.landed += outcome.landed
            self.stats.batches += 1
            self._ready_acks.extend(
                (mid, qos, generation) for (_, _, qos, _), mid, generation in batch if qos > 0
            )
            for group_id, edge_node_id in outcome.rebirths:
                self._request_rebirth(group_id, edge_node_id)
            return len(batch)

    def _flush_or_back_off(self, stop: threading.Event, delay_s: float) -> float:
        """One flush; after a failure wait (stop-aware) and return the next, longer delay."""
        try:
            self.flush()
        except Exception as exc:  # the landing zone cannot be written: hold, retry, show it
            held = len(self._unlanded[0]) if self._unlanded else 0
            self.stats.error(
                f"cannot land a batch of {held} message(s) "
                f"({type(exc).__name__}: {exc}); they stay unacknowledged, retrying in {delay_s:.0f} s",
                logger=log,
            )
            stop.wait(delay_s)
            return min(delay_s * 2, 60.0)
        if delay_s > 1.0 and self._connected.is_set():  # landing works again
            self.stats.set_state(SourceState.CONNECTED)
        return 1.0

    def run(self, stop: threading.Event) -> MqttStats:
        """Connect with a persistent session and land until `stop` is set.

        May be called again after it raised: a new client resumes the broker session, which
        redelivers whatever was received but not acknowledged.
        """
        cfg = self.config
        with self._lock:  # their packet ids belong to the old connection: the broker resends them
            self._pending, self._pending_bytes = [], 0
        self._ready_acks.clear()
        self.client = self._make_client()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = cfg.session_expiry_s
        props.ReceiveMaximum = cfg.receive_maximum
        self.stats.set_state(SourceState.STARTING)
        self.client.connect_async(
            cfg.host, cfg.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()
        delay = 1.0
        try:
            self._start_lander()  # its imports run while paho connects and buffers the first batch
            while not stop.is_set():
                quiet = not self._wake.wait(cfg.flush_interval_s)
                self._wake.clear()
                delay = self._flush_or_back_off(stop, delay)
                if quiet:  # no full batch for a while: the network thread may not come by soon
                    self._send_acks(blocking=True)
            self.flush()
            self._send_acks(blocking=True)
        finally:
            self._stop_client()
        return self.stats

    def _stop_client(self) -> None:
        """Say goodbye as a Host Application (an offline STATE, retained), then disconnect."""
        self.stats.set_state(SourceState.STOPPED)
        if self.config.sparkplug_host and self._connected.is_set():
            topic, payload = host_state(
                self.config.host_id, online=False, timestamp_ms=self._host_timestamp_ms
            )
            info = self.client.publish(topic, payload, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=5)
            except (RuntimeError, ValueError) as exc:
                log.warning("%s: offline STATE not confirmed: %s", self.config.name, exc)
        self.client.disconnect()
        self.client.loop_stop()
