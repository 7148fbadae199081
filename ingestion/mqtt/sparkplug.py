"""Sparkplug B host-side decoding: births build the alias map, sequence numbers are checked.

What cannot be decoded with certainty is quarantined, never guessed: a sequence gap, an unknown
alias or data before its birth quarantines the message and asks the edge node for a rebirth;
until the new NBIRTH arrives the node's messages are quarantined as `awaiting_rebirth`.
Payloads are decoded with pysparkplug's protobuf classes.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import DecodeError
from pysparkplug import DBirth, DData, DDeath, Metric, NBirth, NCmd, NData, NDeath
from pysparkplug import DCmd as DCmdPayload

from ingestion.landing import LandingRecord
from ingestion.quarantine import Reason, quarantined

NAMESPACE = "spBv1.0"
BD_SEQ = "bdSeq"
REBIRTH_METRIC = "Node Control/Rebirth"
PAYLOADS = {
    "NBIRTH": NBirth,
    "DBIRTH": DBirth,
    "NDATA": NData,
    "DDATA": DData,
    "DDEATH": DDeath,
    "NCMD": NCmd,
    "DCMD": DCmdPayload,
}
SEQUENCED = {"NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH"}
RECENT_IDS = 512


@dataclass(frozen=True)
class SparkplugTopic:
    group_id: str
    message_type: str
    edge_node_id: str
    device_id: str | None

    @classmethod
    def parse(cls, topic: str) -> SparkplugTopic | None:
        parts = topic.split("/")
        if len(parts) not in (4, 5) or parts[0] != NAMESPACE or not all(parts):
            return None
        return cls(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)

    @property
    def node(self) -> tuple[str, str]:
        return (self.group_id, self.edge_node_id)


@dataclass
class _NodeState:
    birth: NBirth | None = None
    bd_seq: int | None = None
    next_seq: int | None = None
    devices: dict[str, DBirth] = field(default_factory=dict)
    awaiting_rebirth: bool = False
    recent_ids: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_IDS))


@dataclass(frozen=True)
class Decoded:
    """What one message became, and whether the edge node must be asked for a rebirth."""

    record: LandingRecord
    rebirth: tuple[str, str] | None = None  # (group id, edge node id)


class _Rejected(Exception):
    def __init__(self, reason: Reason, detail: str, rebirth: bool = False):
        self.reason, self.detail, self.rebirth = reason, detail, rebirth


def _metric_json(metric: Metric) -> dict:
    value = metric.value
    if isinstance(value, bytes):
        value = value.hex()
    elif isinstance(value, datetime):
        value = value.astimezone(UTC).isoformat()
    return {
        "name": metric.name,
        "alias": metric.alias,
        "timestamp": metric.timestamp,
        "datatype": metric.datatype.name,
        "value": value,
        "is_null": metric.is_null,
    }


def _ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


class SparkplugDecoder:
    """The host application's view of every edge node it hears from."""

    def __init__(self, source: str):
        self.source = source
        self.nodes: dict[tuple[str, str], _NodeState] = {}

    def handle(self, topic: str, payload: bytes, received_at: datetime, qos: int = 0) -> Decoded:
        """Accept or quarantine one message; say whether its node needs a rebirth."""
        parsed = SparkplugTopic.parse(topic)
        if parsed is None or parsed.message_type not in (*PAYLOADS, "NDEATH", "STATE"):
            reason = Reason.UNKNOWN_TOPIC_LAYOUT if parsed is None else Reason.UNKNOWN_MESSAGE_TYPE
            detail = (
                f"topic {topic!r} is not spBv1.0/<group>/<NBIRTH|NDATA|…>/<edge node>[/<device>]"
            )
            return Decoded(quarantined(self.source, topic, payload, received_at, reason, detail))
        state = self.nodes.setdefault(parsed.node, _NodeState())
        try:
            record = self._decode(parsed, topic, payload, received_at, qos, state)
        except _Rejected as rejected:
            if rejected.rebirth:
                state.awaiting_rebirth = True
            return Decoded(
                quarantined(
                    self.source, topic, payload, received_at, rejected.reason, rejected.detail
                ),
                rebirth=parsed.node if rejected.rebirth else None,
            )
        state.recent_ids.append(record.resolved_id())
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
        probe = LandingRecord("sparkplug", self.source, raw_topic, payload, received_at)
        if probe.resolved_id() in state.recent_ids:
            raise _Rejected(
                Reason.DUPLICATE, "the same message was already accepted (QoS 1 redelivery)"
            )
        if kind == "STATE":
            return self._record(topic, raw_topic, payload, received_at, qos, None, None, [])
        if kind == "NDEATH":
            return self._death(topic, raw_topic, payload, received_at, qos, state)
        decoded = self._parse(kind, topic, payload, state)
        seq = getattr(decoded, "seq", None)
        if kind == "NBIRTH":
            self._birth(decoded, state)
        elif kind in SEQUENCED:
            self._check_sequence(kind, topic, seq, state)
            if kind == "DBIRTH":
                state.devices[topic.device_id or ""] = decoded
            elif kind == "DDEATH":
                state.devices.pop(topic.device_id or "", None)
        metrics = [_metric_json(m) for m in getattr(decoded, "metrics", ())]
        return self._record(
            topic, raw_topic, payload, received_at, qos, seq, decoded.timestamp, metrics
        )

    def _parse(self, kind: str, topic: SparkplugTopic, payload: bytes, state: _NodeState):
        birth = None
        if kind in ("NDATA", "NCMD"):
            birth = state.birth
        elif kind in ("DDATA", "DCMD", "DDEATH"):
            birth = state.devices.get(topic.device_id or "")
        if kind in ("NDATA", "DDATA", "DDEATH", "DBIRTH") and state.birth is None:
            raise _Rejected(
                Reason.DATA_BEFORE_BIRTH,
                f"{kind} from node {topic.edge_node_id!r} before its NBIRTH",
                rebirth=True,
            )
        if kind in ("DDATA", "DDEATH") and birth is None:
            raise _Rejected(
                Reason.DATA_BEFORE_BIRTH,
                f"{kind} from device {topic.device_id!r} before its DBIRTH",
                rebirth=True,
            )
        if state.awaiting_rebirth and kind != "NBIRTH" and kind not in ("NCMD", "DCMD"):
            raise _Rejected(
                Reason.AWAITING_REBIRTH,
                f"node {topic.edge_node_id!r} was asked for a rebirth; {kind} ignored until its NBIRTH",
            )
        try:
            return PAYLOADS[kind].decode(payload, birth=birth)
        except DecodeError as exc:
            raise _Rejected(
                Reason.NOT_PROTOBUF, f"payload is not a Sparkplug B protobuf: {exc}"
            ) from None
        except KeyError as exc:
            raise _Rejected(
                Reason.UNKNOWN_ALIAS,
                f"metric alias {exc.args[0]} is not in the {kind[0]}BIRTH",
                rebirth=True,
            ) from None
        except ValueError as exc:
            reason = Reason.BAD_BIRTH if kind.endswith("BIRTH") else Reason.NOT_PROTOBUF
            raise _Rejected(
                reason, f"{kind} payload is invalid: {exc}", rebirth=kind.endswith("BIRTH")
            ) from None

    def _birth(self, birth: NBirth, state: _NodeState) -> None:
        bd_seq = next((m.value for m in birth.metrics if m.name == BD_SEQ), None)
        if bd_seq is None:
            raise _Rejected(Reason.BAD_BIRTH, "NBIRTH carries no bdSeq metric", rebirth=True)
        state.birth, state.bd_seq = birth, int(bd_seq)
        state.recent_ids.clear()  # a new session: its messages may repeat bytes of the last one
        state.devices.clear()
        state.awaiting_rebirth = False
        state.next_seq = (birth.seq + 1) % 256

    def _check_sequence(
        self, kind: str, topic: SparkplugTopic, seq: int | None, state: _NodeState
    ) -> None:
        if seq is None:
            raise _Rejected(Reason.MISSING_SEQUENCE, f"{kind} has no seq", rebirth=True)
        if seq != state.next_seq:
            raise _Rejected(
                Reason.SEQUENCE_GAP,
                f"node {topic.edge_node_id!r}: expected seq {state.next_seq}, got {seq} ({kind})",
                rebirth=True,
            )
        state.next_seq = (seq + 1) % 256

    def _death(
        self, topic, raw_topic, payload, received_at, qos, state: _NodeState
    ) -> LandingRecord:
        try:
            death = NDeath.decode(payload)
        except (DecodeError, IndexError, ValueError) as exc:
            raise _Rejected(
                Reason.NOT_PROTOBUF,
                f"NDEATH payload is not a Sparkplug B protobuf with bdSeq: {exc}",
            ) from None
        bd_seq = death.bd_seq_metric.value
        if state.bd_seq is not None and bd_seq != state.bd_seq:
            raise _Rejected(
                Reason.STALE_DEATH,
                f"NDEATH bdSeq {bd_seq} does not match the current NBIRTH bdSeq {state.bd_seq}",
            )
        state.birth, state.bd_seq, state.next_seq = None, None, None
        state.devices.clear()
        state.awaiting_rebirth = False
        metrics = [_metric_json(death.bd_seq_metric)]
        return self._record(topic, raw_topic, payload, received_at, qos, None, None, metrics)

    def _record(
        self, topic, raw_topic, payload, received_at, qos, seq, timestamp_ms, metrics
    ) -> LandingRecord:
        attributes = {
            "qos": str(qos),
            "message_type": topic.message_type,
            "group_id": topic.group_id,
            "edge_node_id": topic.edge_node_id,
            "decoded_json": json.dumps(
                {"seq": seq, "timestamp": timestamp_ms, "metrics": metrics}, default=str
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
            source_timestamp=_ms_to_datetime(timestamp_ms),
            attributes=attributes,
        )


def rebirth_request(group_id: str, edge_node_id: str, now_ms: int) -> tuple[str, bytes]:
    """The NCMD topic and payload that ask an edge node to publish its births again."""
    from pysparkplug import DataType

    payload = NCmd(
        timestamp=now_ms,
        metrics=(
            Metric(timestamp=now_ms, name=REBIRTH_METRIC, datatype=DataType.BOOLEAN, value=True),
        ),
    )
    return f"{NAMESPACE}/{group_id}/NCMD/{edge_node_id}", payload.encode(include_dtypes=True)
