"""Sparkplug B as a host application reads it (specification 3.0): births build the alias map,
`seq` is checked, every datatype is decoded from the generated protobuf classes; what cannot be
decoded with certainty is quarantined with a precise reason and, where a birth would help, a rebirth.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pysparkplug import DataType, Metric, NCmd

from ingestion.landing import LandingRecord
from ingestion.mqtt.sparkplug_payload import (
    BIRTHS,
    DEVICE_MESSAGES,
    MAX_MS,
    NODE_MESSAGES,
    Birth,
    Rejected,
    checked_timestamp,
    metrics_json,
    ms_to_datetime,
    parse_payload,
    payload_timestamp,
    shown,
)
from ingestion.quarantine import Reason, quarantined
from ingestion.strict_json import JsonRefused, read_json

NAMESPACE = "spBv1.0"
BD_SEQ = "bdSeq"
REBIRTH_METRIC = "Node Control/Rebirth"
STATE = "STATE"
MAX_PAYLOAD_BYTES = 1024 * 1024
MESSAGE_TYPES = (*NODE_MESSAGES, *DEVICE_MESSAGES, STATE)
# A redelivered message gets its first record back; per node, the last RECENT_IDS messages
# are remembered, within RECENT_BYTES of payload and decoded JSON.
RECENT_IDS = 512
RECENT_BYTES = 8 * 1024 * 1024

_ID_FORBIDDEN = frozenset("+/#\x7f") | frozenset(chr(c) for c in range(0x20))


def is_sparkplug_topic(topic: str) -> bool:
    """Whether the MQTT topic belongs to Sparkplug B: `spBv1.0/…` or the 2.x `STATE/<host id>`."""
    return topic.startswith(NAMESPACE + "/") or (
        topic.startswith(STATE + "/") and topic.count("/") == 1
    )


def host_state(host_id: str, *, online: bool, timestamp_ms: int) -> tuple[str, bytes]:
    """The Sparkplug 3.0 STATE topic and JSON payload of a host application (its retained birth
    with online=True, its will with online=False; both carry the same timestamp).

    >>> host_state("plantlake", online=True, timestamp_ms=1668114759262)
    ('spBv1.0/STATE/plantlake', b'{"online":true,"timestamp":1668114759262}')
    """
    _check_id("host id", host_id)
    if not isinstance(online, bool):
        raise ValueError(f"online must be true or false, not {online!r}")
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int):
        raise ValueError(
            f"timestamp_ms must be whole milliseconds since 1970, not {timestamp_ms!r}"
        )
    if not 0 <= timestamp_ms <= MAX_MS:
        raise ValueError(f"timestamp_ms {timestamp_ms} is not a time between 1970 and 9999")
    payload = json.dumps({"online": online, "timestamp": timestamp_ms}, separators=(",", ":"))
    return f"{NAMESPACE}/{STATE}/{host_id}", payload.encode()


def rebirth_request(group_id: str, edge_node_id: str, now_ms: int) -> tuple[str, bytes]:
    """The NCMD topic and payload that ask an edge node to publish its births again."""
    _check_id("group id", group_id)
    _check_id("edge node id", edge_node_id)
    payload = NCmd(
        timestamp=now_ms,
        metrics=(
            Metric(timestamp=now_ms, name=REBIRTH_METRIC, datatype=DataType.BOOLEAN, value=True),
        ),
    )
    return f"{NAMESPACE}/{group_id}/NCMD/{edge_node_id}", payload.encode(include_dtypes=True)


def _id_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if value in (".", ".."):
        return "is '.' or '..'"
    bad = next((c for c in value if c in _ID_FORBIDDEN), None)
    if bad is not None:
        return f"contains {bad!r}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


def _id_detail(what: str, value: str, problem: str) -> str:
    return (
        f"{what} {value!r} {problem}: a Sparkplug id is non-empty UTF-8 without + / # "
        "(and plantlake also refuses '.', '..' and control characters)"
    )


def _check_id(what: str, value: str) -> None:
    problem = _id_problem(value)
    if problem is not None:
        raise ValueError(_id_detail(what, value, problem))


@dataclass(frozen=True)
class SparkplugTopic:
    """An edge node or device topic: `spBv1.0/<group>/<message type>/<edge node>[/<device>]`."""

    group_id: str
    message_type: str
    edge_node_id: str
    device_id: str | None

    @classmethod
    def parse(cls, topic: str) -> SparkplugTopic | None:
        """The parts of a valid edge node or device topic, else None."""
        try:
            parsed = _route(topic)
        except Rejected:
            return None
        return parsed if isinstance(parsed, SparkplugTopic) else None

    @property
    def node(self) -> tuple[str, str]:
        return (self.group_id, self.edge_node_id)


@dataclass(frozen=True)
class _HostTopic:
    """A host application's STATE topic: 3.0 `spBv1.0/STATE/<host id>` or 2.x `STATE/<host id>`."""

    host_id: str
    legacy: bool


def _route(topic: str) -> SparkplugTopic | _HostTopic:
    parts = topic.split("/")
    if len(parts) == 2 and parts[0] == STATE:
        _valid_id(topic, "host id", parts[1])
        return _HostTopic(parts[1], legacy=True)
    if parts[0] != NAMESPACE:
        raise Rejected(
            Reason.UNKNOWN_TOPIC_LAYOUT, f"topic {topic!r} is not under {NAMESPACE}/ or STATE/"
        )
    if len(parts) == 3 and parts[1] == STATE:
        _valid_id(topic, "host id", parts[2])
        return _HostTopic(parts[2], legacy=False)
    layout = (
        f"topic {topic!r} is not {NAMESPACE}/<group>/<message type>/<edge node>[/<device>] "
        f"nor {NAMESPACE}/STATE/<host id>"
    )
    if len(parts) not in (4, 5):
        raise Rejected(Reason.UNKNOWN_TOPIC_LAYOUT, layout)
    group_id, message_type, edge_node_id = parts[1:4]
    device_id = parts[4] if len(parts) == 5 else None
    if message_type not in MESSAGE_TYPES or message_type == STATE:
        raise Rejected(
            Reason.UNKNOWN_MESSAGE_TYPE,
            f"topic {topic!r}: {message_type!r} is not one of {', '.join(MESSAGE_TYPES[:-1])}",
        )
    _valid_id(topic, "group id", group_id)
    _valid_id(topic, "edge node id", edge_node_id)
    if message_type in DEVICE_MESSAGES and device_id is None:
        raise Rejected(Reason.UNKNOWN_TOPIC_LAYOUT, f"{layout}: a {message_type} names a device")
    if message_type in NODE_MESSAGES and device_id is not None:
        raise Rejected(Reason.UNKNOWN_TOPIC_LAYOUT, f"{layout}: a {message_type} names no device")
    if device_id is not None:
        _valid_id(topic, "device id", device_id)
    return SparkplugTopic(group_id, message_type, edge_node_id, device_id)


def _valid_id(topic: str, what: str, value: str) -> None:
    problem = _id_problem(value)
    if problem is not None:
        raise Rejected(
            Reason.UNKNOWN_TOPIC_LAYOUT, f"topic {topic!r}: {_id_detail(what, value, problem)}"
        )


# -- STATE -------------------------------------------------------------------------------------
def _host_state(topic: _HostTopic, payload: bytes) -> tuple[bool, int | None]:
    """(online, timestamp ms) of a STATE payload: 3.0 JSON `{"online": …, "timestamp": …}`,
    2.x the text ONLINE or OFFLINE."""
    if not payload:
        raise Rejected(Reason.EMPTY_PAYLOAD, "STATE payload is empty")
    if topic.legacy:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejected(
                Reason.INVALID_UTF8,
                f"STATE payload is not UTF-8: {exc.reason} at byte {exc.start}",
            ) from None
        if text not in ("ONLINE", "OFFLINE"):
            raise Rejected(
                Reason.WRONG_VALUE_TYPE,
                f"Sparkplug 2.x STATE payload is {shown(text)}, not ONLINE or OFFLINE",
            )
        return text == "ONLINE", None
    try:
        doc = read_json(payload, what="STATE payload")
    except JsonRefused as refused:
        raise Rejected(refused.reason, refused.detail) from None
    if "online" not in doc:
        raise Rejected(Reason.MISSING_VALUE, "STATE payload has no 'online'")
    if not isinstance(doc["online"], bool):
        raise Rejected(
            Reason.WRONG_VALUE_TYPE,
            f"STATE 'online' is {shown(doc['online'])}, not true or false",
        )
    if "timestamp" not in doc:
        raise Rejected(Reason.MISSING_TIMESTAMP, "STATE payload has no 'timestamp'")
    ms = doc["timestamp"]
    if isinstance(ms, float) and ms.is_integer():
        ms = int(ms)
    if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= MAX_MS:
        raise Rejected(
            Reason.BAD_TIMESTAMP,
            f"STATE 'timestamp' is {shown(ms)}, not whole milliseconds between 1970 and 9999",
        )
    return doc["online"], ms


# -- the host application's state --------------------------------------------------------------
class _Recent:
    """The records of one node's last messages by record id: a redelivery gets its record back."""

    def __init__(self) -> None:
        self._records: OrderedDict[str, tuple[LandingRecord, int]] = OrderedDict()
        self._bytes = 0

    def get(self, record_id: str) -> LandingRecord | None:
        found = self._records.get(record_id)
        return None if found is None else found[0]

    def add(self, record_id: str, record: LandingRecord) -> None:
        size = len(record.payload or b"") + sum(len(v) for v in record.attributes.values())
        self._records[record_id] = (record, size)
        self._bytes += size
        while len(self._records) > 1 and (
            len(self._records) > RECENT_IDS or self._bytes > RECENT_BYTES
        ):
            _, (_, dropped) = self._records.popitem(last=False)
            self._bytes -= dropped

    def clear(self) -> None:
        self._records.clear()
        self._bytes = 0


@dataclass
class _NodeState:
    birth: Birth | None = None
    bd_seq: int | None = None
    next_seq: int | None = None
    devices: dict[str, Birth] = field(default_factory=dict)
    awaiting_rebirth: bool = False
    recent: _Recent = field(default_factory=_Recent)


@dataclass(frozen=True)
class Decoded:
    """What one message became, and whether the edge node must be asked for a rebirth."""

    record: LandingRecord
    rebirth: tuple[str, str] | None = None  # (group id, edge node id)


class SparkplugDecoder:
    """The host application's view of every edge node it hears from.

    `handle` never raises: whatever it cannot accept becomes a quarantine record with a precise
    reason. Payloads over `max_payload_bytes` are refused before they are decoded."""

    def __init__(self, source: str, *, max_payload_bytes: int = MAX_PAYLOAD_BYTES):
        self.source = source
        self.max_payload_bytes = max_payload_bytes
        self.nodes: dict[tuple[str, str], _NodeState] = {}

    def handle(self, topic: str, payload: bytes, received_at: datetime, qos: int = 0) -> Decoded:
        """Accept or quarantine one message; say whether its node needs a rebirth."""
        try:
            if len(payload) > self.max_payload_bytes:
                raise Rejected(
                    Reason.OVERSIZED_PAYLOAD,
                    f"payload is {len(payload)} bytes; the limit is {self.max_payload_bytes}",
                )
            route = _route(topic)
            if isinstance(route, _HostTopic):
                online, ms = _host_state(route, payload)
                return Decoded(
                    self._state_record(route, topic, payload, received_at, qos, online, ms)
                )
        except Rejected as rejected:
            return Decoded(self._quarantined(topic, payload, received_at, rejected))
        state = self.nodes.setdefault(route.node, _NodeState())
        record_id = LandingRecord(
            "sparkplug", self.source, topic, payload, received_at
        ).resolved_id()
        earlier = state.recent.get(record_id)
        if earlier is not None:  # a QoS 1 redelivery or a retained message received again
            return Decoded(earlier)
        try:
            record = self._decode(route, topic, payload, received_at, qos, state)
        except Rejected as rejected:
            if rejected.rebirth:
                state.awaiting_rebirth = True
            record = self._quarantined(topic, payload, received_at, rejected)
            if rejected.seq_consumed:
                state.recent.add(record_id, record)
            return Decoded(record, rebirth=route.node if rejected.rebirth else None)
        state.recent.add(record_id, record)
        return Decoded(record)

    # -- the rules ---------------------------------------------------------------------------
    def _decode(
        self,
        topic: SparkplugTopic,
        raw_topic: str,
        payload: bytes,
        received_at: datetime,
        qos: int,
        state: _NodeState,
    ) -> LandingRecord:
        kind = topic.message_type
        if kind == "NDEATH":
            return self._death(topic, raw_topic, payload, received_at, qos, state)
        device = topic.device_id or ""
        if kind in ("NCMD", "DCMD"):
            pb = parse_payload(payload, kind)
            timestamp = payload_timestamp(pb, kind)
            birth = state.birth if kind == "NCMD" else state.devices.get(device)
            metrics = metrics_json(pb.metrics, kind, birth)
            return self._record(
                topic, raw_topic, payload, received_at, qos, None, timestamp, metrics
            )
        try:
            if kind != "NBIRTH":
                self._born(kind, topic, state)
            pb = parse_payload(payload, kind)
            seq = self._sequence(kind, topic, pb, state)
        except Rejected as rejected:
            # a birth that cannot be read leaves the node unknown, unless a rebirth is on its way
            if kind in BIRTHS and rejected.reason != Reason.AWAITING_REBIRTH:
                rejected.rebirth = True
            raise
        try:
            timestamp = payload_timestamp(pb, kind)
            birth = state.birth if kind == "NDATA" else state.devices.get(device)
            metrics = metrics_json(pb.metrics, kind, None if kind in BIRTHS else birth)
            if kind == "NBIRTH":
                self._node_birth(metrics, seq, state)
            elif kind == "DBIRTH":
                state.devices[device] = Birth.of(metrics)
            elif kind == "DDEATH":
                state.devices.pop(device, None)
        except Rejected as rejected:
            rejected.seq_consumed = True
            rejected.rebirth = rejected.rebirth or kind in BIRTHS
            raise
        return self._record(topic, raw_topic, payload, received_at, qos, seq, timestamp, metrics)

    @staticmethod
    def _born(kind: str, topic: SparkplugTopic, state: _NodeState) -> None:
        if state.birth is None:
            raise Rejected(
                Reason.DATA_BEFORE_BIRTH,
                f"{kind} from node {topic.edge_node_id!r} before its NBIRTH",
                rebirth=True,
            )
        if kind in ("DDATA", "DDEATH") and (topic.device_id or "") not in state.devices:
            raise Rejected(
                Reason.DATA_BEFORE_BIRTH,
                f"{kind} from device {topic.device_id!r} before its DBIRTH",
                rebirth=True,
            )
        if state.awaiting_rebirth:
            raise Rejected(
                Reason.AWAITING_REBIRTH,
                f"node {topic.edge_node_id!r} was asked for a rebirth; {kind} ignored until its NBIRTH",
            )

    @staticmethod
    def _sequence(kind: str, topic: SparkplugTopic, pb: Any, state: _NodeState) -> int:
        if not pb.HasField("seq"):
            raise Rejected(
                Reason.MISSING_SEQUENCE,
                f"{kind} from node {topic.edge_node_id!r} has no seq",
                rebirth=True,
            )
        seq = pb.seq
        if seq > 255:
            raise Rejected(
                Reason.VALUE_OUT_OF_RANGE,
                f"{kind} from node {topic.edge_node_id!r}: seq {seq} is outside 0..255",
                rebirth=True,
            )
        if kind != "NBIRTH":
            if seq != state.next_seq:
                raise Rejected(
                    Reason.SEQUENCE_GAP,
                    f"node {topic.edge_node_id!r}: expected seq {state.next_seq}, got {seq} ({kind})",
                    rebirth=True,
                )
            state.next_seq = (seq + 1) % 256
        return seq

    @staticmethod
    def _node_birth(metrics: list[dict], seq: int, state: _NodeState) -> None:
        bd_seq = next((m["value"] for m in metrics if m["name"] == BD_SEQ), None)
        if isinstance(bd_seq, bool) or not isinstance(bd_seq, int):
            raise Rejected(
                Reason.BAD_BIRTH,
                f"NBIRTH carries no integer bdSeq metric (found {shown(bd_seq)})",
            )
        state.birth, state.bd_seq = Birth.of(metrics), bd_seq
        state.recent.clear()  # a new session: its messages may repeat bytes of the last one
        state.devices.clear()
        state.awaiting_rebirth = False
        state.next_seq = (seq + 1) % 256

    def _death(
        self, topic, raw_topic, payload, received_at, qos, state: _NodeState
    ) -> LandingRecord:
        pb = parse_payload(payload, "NDEATH")
        timestamp = (
            checked_timestamp(pb.timestamp, "NDEATH payload") if pb.HasField("timestamp") else None
        )
        metrics = metrics_json(pb.metrics, "NDEATH", state.birth)
        bd_seq = next((m["value"] for m in metrics if m["name"] == BD_SEQ), None)
        if isinstance(bd_seq, bool) or not isinstance(bd_seq, int):
            raise Rejected(
                Reason.MISSING_VALUE,
                f"NDEATH carries no integer bdSeq metric (found {shown(bd_seq)})",
            )
        if state.bd_seq is not None and bd_seq != state.bd_seq:
            raise Rejected(
                Reason.STALE_DEATH,
                f"NDEATH bdSeq {bd_seq} does not match the current NBIRTH bdSeq {state.bd_seq}",
            )
        state.birth, state.bd_seq, state.next_seq = None, None, None
        state.devices.clear()
        state.awaiting_rebirth = False
        return self._record(topic, raw_topic, payload, received_at, qos, None, timestamp, metrics)

    def _record(
        self, topic, raw_topic, payload, received_at, qos, seq, timestamp_ms, metrics
    ) -> LandingRecord:
        attributes = {
            "qos": str(qos),
            "message_type": topic.message_type,
            "group_id": topic.group_id,
            "edge_node_id": topic.edge_node_id,
            "decoded_json": json.dumps(
                {"seq": seq, "timestamp": timestamp_ms, "metrics": metrics}, allow_nan=False
            ),
        }
        if topic.device_id:
            attributes["device_id"] = topic.device_id
        if seq is not None:
            attributes["seq"] = str(seq)
        return LandingRecord(
            kind="sparkplug",
            source=self.source,
            address=raw_topic,
            payload=payload,
            received_at=received_at,
            source_timestamp=ms_to_datetime(timestamp_ms),
            attributes=attributes,
        )

    def _state_record(
        self,
        topic: _HostTopic,
        raw_topic: str,
        payload: bytes,
        received_at: datetime,
        qos: int,
        online: bool,
        timestamp_ms: int | None,
    ) -> LandingRecord:
        """A host application's STATE: its host id in the edge_node_id column, no group."""
        decoded = {"seq": None, "timestamp": timestamp_ms, "metrics": [], "online": online}
        return LandingRecord(
            kind="sparkplug",
            source=self.source,
            address=raw_topic,
            payload=payload,
            received_at=received_at,
            source_timestamp=ms_to_datetime(timestamp_ms),
            attributes={
                "qos": str(qos),
                "message_type": STATE,
                "edge_node_id": topic.host_id,
                "decoded_json": json.dumps(decoded, allow_nan=False),
            },
        )

    def _quarantined(
        self, topic: str, payload: bytes, received_at: datetime, rejected: Rejected
    ) -> LandingRecord:
        return quarantined(
            self.source, topic, payload, received_at, rejected.reason, rejected.detail
        )
