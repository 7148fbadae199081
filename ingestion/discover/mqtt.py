"""Listen to an MQTT broker for onboarding: which topics carry what JSON, and which Sparkplug B
edge nodes and devices announce which metrics in their births.

Nothing is acknowledged or stored: a clean, non-persistent session subscribes with QoS 0 for a
few seconds. Sparkplug payloads are decoded as the ingestion decoder does (every datatype,
template members as metrics of their own).
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ingestion.mqtt.sparkplug import NAMESPACE, SparkplugTopic, rebirth_request
from ingestion.mqtt.sparkplug_payload import Birth, Rejected, metrics_json, parse_payload

SAMPLES_PER_TOPIC = 20  # payloads kept per topic: enough to see a state's values
CONTROL_PREFIXES = ("Node Control/", "Device Control/")
_SPARKPLUG_READ = ("NBIRTH", "DBIRTH", "NDATA", "DDATA")

VALUE_FIELDS = ("value", "Value", "val", "v")
TIMESTAMP_FIELDS = (
    "timestamp",
    "timestamp_ms",
    "timestampMs",
    "ts",
    "time",
    "Timestamp",
    "datetime",
    "eventTime",
    "event_time",
    "sourceTimestamp",
    "t",
)
QUALITY_FIELDS = ("quality", "Quality", "q")
UNIT_FIELDS = ("unit", "Unit", "uom", "eu", "engineering_unit")


@dataclass
class TopicSeen:
    """The messages of one (non-Sparkplug) topic: how many, and the first few payloads."""

    count: int = 0
    payloads: list[bytes] = field(default_factory=list)

    def add(self, payload: bytes) -> None:
        self.count += 1
        if len(self.payloads) < SAMPLES_PER_TOPIC:
            self.payloads.append(payload)

    def json_objects(self) -> list[dict]:
        out = []
        for p in self.payloads:
            try:
                obj = json.loads(p)
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out


@dataclass
class MetricSeen:
    """One Sparkplug metric: its data type (pysparkplug's name: DOUBLE, INT64, …) and values."""

    datatype: str
    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> None:
        if len(self.values) < SAMPLES_PER_TOPIC:
            self.values.append(value)


SparkplugKey = tuple[str, str, str | None]  # (group id, edge node id, device id or None)


@dataclass
class MqttCapture:
    """What listening to a broker saw."""

    broker: str
    topics: dict[str, TopicSeen] = field(default_factory=dict)
    sparkplug: dict[SparkplugKey, dict[str, MetricSeen]] = field(default_factory=dict)
    births: set[SparkplugKey] = field(default_factory=set)
    sparkplug_without_birth: set[SparkplugKey] = field(default_factory=set)
    messages: int = 0
    seconds: float = 0.0
    sources: set[str] = field(default_factory=lambda: {"uns", "sparkplug"})  # what was read
    _declared: dict[SparkplugKey, Birth] = field(default_factory=dict, repr=False)

    def add(self, topic: str, payload: bytes) -> None:
        """Record one message (also used to build a capture from bronze rows)."""
        self.messages += 1
        if topic.startswith(f"{NAMESPACE}/"):
            self._add_sparkplug(topic, payload)
        elif not topic.startswith("$"):
            self.topics.setdefault(topic, TopicSeen()).add(payload)

    def add_metric(self, key: SparkplugKey, name: str, datatype: str, value: Any) -> None:
        if not name or name == "bdSeq" or name.startswith(CONTROL_PREFIXES):
            return
        seen = self.sparkplug.setdefault(key, {})
        seen.setdefault(name, MetricSeen(datatype)).add(value)

    def _add_sparkplug(self, topic: str, payload: bytes) -> None:
        parsed = SparkplugTopic.parse(topic)
        if parsed is None or parsed.message_type not in _SPARKPLUG_READ:
            return
        kind = parsed.message_type
        key = (parsed.group_id, parsed.edge_node_id, parsed.device_id)
        birth = kind.endswith("BIRTH")
        try:
            entries = metrics_json(
                parse_payload(payload, kind).metrics,
                kind,
                None if birth else self._declared.get(key),
            )
        except Rejected:  # data by alias needs its birth; a broken payload says nothing either
            if not birth and key not in self.births:
                self.sparkplug_without_birth.add(key)
            return
        if birth:
            self.births.add(key)
            self._declared[key] = Birth.of(entries)
        for m in entries:
            self.add_metric(key, m["name"], m["datatype"], None if m["is_null"] else m["value"])


def capture_mqtt(
    host: str,
    port: int,
    seconds: float,
    *,
    topics: Iterable[str] = ("#",),
    username: str | None = None,
    password: str | None = None,
    tls_ca_file: str | None = None,
    request_rebirth: bool = False,
    ready: threading.Event | None = None,
    enough: Callable[[MqttCapture], bool] | None = None,
) -> MqttCapture:
    """Subscribe to `topics` for `seconds` (or until `enough(capture)` is true) and return what
    arrived. `ready` is set once the subscription is acknowledged. With `request_rebirth`, an
    edge node heard without its birth is asked once for it (an NCMD `Node Control/Rebirth`).

    Raises ConnectionError when the broker cannot be reached or refuses the login.
    """
    capture = MqttCapture(broker=f"{host}:{port}")
    lock = threading.Lock()
    subscribed, done = threading.Event(), threading.Event()
    refused: list[str] = []
    asked: set[tuple[str, str]] = set()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"plantlake-discover-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    if username:
        client.username_pw_set(username, password)
    if tls_ca_file:
        client.tls_set(ca_certs=tls_ca_file)
    wanted = list(topics)

    def on_connect(cl, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
            done.set()
            return
        cl.subscribe([(t, 0) for t in wanted])

    def on_subscribe(cl, userdata, mid, reason_codes, properties) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            refused.append(f"subscription refused: {', '.join(failed)}")
            done.set()
        subscribed.set()
        if ready is not None:
            ready.set()

    def on_message(cl, userdata, message) -> None:
        with lock:
            capture.add(message.topic, message.payload)
            if request_rebirth:
                for group, edge, _ in capture.sparkplug_without_birth:
                    if (group, edge) not in asked:
                        asked.add((group, edge))
                        cl.publish(*rebirth_request(group, edge, int(time.time() * 1000)), qos=0)
            if enough is not None and enough(capture):
                done.set()

    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    started = time.monotonic()
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise ConnectionError(f"cannot reach the MQTT broker at {host}:{port}: {exc}") from None
    client.loop_start()
    try:
        if not subscribed.wait(10) and not refused:
            raise ConnectionError(f"the MQTT broker at {host}:{port} did not answer within 10 s")
        if not refused:
            done.wait(seconds)
    finally:
        client.disconnect()
        client.loop_stop()
    if refused:
        raise ConnectionError(f"the MQTT broker at {host}:{port} refused: {'; '.join(refused)}")
    capture.seconds = time.monotonic() - started
    return capture


# -- what a JSON payload looks like ----------------------------------------------------------
@dataclass(frozen=True)
class PayloadShape:
    """How a topic's JSON carries its values, in the terms of a plant model `mqtt:` rule."""

    value: str | None  # the field holding the value, or None: every other field is a tag
    timestamp: str | None
    timestamp_format: str  # iso, epoch_s, epoch_ms
    quality: str | None
    unit: str | None
    note: str = ""  # what could not be read with certainty

    @property
    def meta_fields(self) -> tuple[str, ...]:
        return tuple(f for f in (self.timestamp, self.quality, self.unit) if f)


def _is_iso(text: object) -> bool:
    if not isinstance(text, str) or len(text) < 10:
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _epoch_format(values: list[float], name: str) -> tuple[str, str]:
    """epoch_s or epoch_ms by magnitude: now is about 1.8e9 s or 1.8e12 ms."""
    biggest = max(abs(v) for v in values)
    if biggest >= 1e14:
        return (
            "epoch_ms",
            f"timestamp {name!r} looks finer than milliseconds ({biggest:.0f}): not readable",
        )
    if biggest >= 1e11:
        return "epoch_ms", ""
    if biggest >= 1e8:
        return "epoch_s", ""
    return "epoch_s", f"timestamp {name!r} is too small for epoch seconds ({biggest:.0f})"


def payload_shape(objects: list[dict]) -> PayloadShape | None:
    """The shape of a topic's JSON objects, or None when no message was a JSON object."""
    if not objects:
        return None
    keys: dict[str, None] = {}
    for o in objects:
        keys.update(dict.fromkeys(o))

    def first(candidates: Iterable[str]) -> str | None:
        return next((c for c in candidates if c in keys), None)

    timestamp = first(TIMESTAMP_FIELDS)
    if timestamp is None:  # any field whose every value is an ISO date-time
        timestamp = next(
            (k for k in keys if all(_is_iso(o.get(k)) for o in objects if k in o)), None
        )
    fmt, note = "iso", ""
    if timestamp is not None:
        raw = [o[timestamp] for o in objects if o.get(timestamp) is not None]
        numbers = [float(v) for v in raw if isinstance(v, int | float) and not isinstance(v, bool)]
        if numbers and len(numbers) == len(raw):
            fmt, note = _epoch_format(numbers, timestamp)
        elif raw and not all(_is_iso(v) for v in raw):
            note = f"timestamp {timestamp!r} is neither ISO-8601 nor epoch seconds/ms: {raw[0]!r}"
    else:
        note = "no timestamp field: silver uses the time the message was received"
    return PayloadShape(
        value=first(VALUE_FIELDS),
        timestamp=timestamp,
        timestamp_format=fmt,
        quality=first(QUALITY_FIELDS),
        unit=first(UNIT_FIELDS),
        note=note,
    )


def payload_values(obj: dict, shape: PayloadShape) -> dict[str | None, Any]:
    """The values one payload carries: {None: v} for a value field, else {field: v}."""
    if shape.value is not None:
        return {None: obj[shape.value]} if shape.value in obj else {}
    return {k: v for k, v in obj.items() if k not in shape.meta_fields}


def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False
