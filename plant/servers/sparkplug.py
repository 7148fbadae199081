"""Sparkplug B edge nodes: one per line (group = site), one device per machine.

Births carry every metric with its name, alias and type; data carries aliases only. `seq` runs
0-255 per node across all its messages; `bdSeq` is in the NBIRTH and in the NDEATH will. An NCMD
`Node Control/Rebirth` = true makes the node publish its births again. Payloads are built with
pysparkplug's classes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
import pyarrow as pa
from pysparkplug import DataType, DBirth, DData, Metric, NBirth, NCmd, NData, NDeath

from plant.config import EquipmentSpec, PlantConfig
from plant.servers.mqtt_client import BrokerOptions, connect

log = logging.getLogger(__name__)
NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"
DTYPE = {
    "Double": DataType.DOUBLE,
    "Int64": DataType.INT64,
    "String": DataType.STRING,
    "Enum": DataType.STRING,
    "Boolean": DataType.BOOLEAN,
}


def _ms() -> int:
    return int(time.time() * 1000)


@dataclass
class EdgeNode:
    """One line: its devices and the values it last reported."""

    group_id: str
    edge_node_id: str
    devices: list[EquipmentSpec]
    meter: EquipmentSpec | None
    aliases: dict[tuple[str, str], int] = field(default_factory=dict)
    last: dict[tuple[str, str], object] = field(default_factory=dict)
    seq: int = 0
    bd_seq: int = 0
    published: int = 0
    birth_payload: NBirth | None = None  # the last NBIRTH: names and types for commands

    def next_seq(self) -> int:
        s = self.seq
        self.seq = (self.seq + 1) % 256
        return s

    def topic(self, kind: str, device: str | None = None) -> str:
        return f"{NAMESPACE}/{self.group_id}/{kind}/{self.edge_node_id}" + (
            f"/{device}" if device else ""
        )


class SparkplugPublisher:
    """Every line of the plant as a Sparkplug B edge node on one broker."""

    def __init__(
        self,
        config: PlantConfig,
        options: BrokerOptions,
        client_prefix: str = "plantlake-plant-spb",
    ):
        self.options = options
        self.nodes: dict[str, EdgeNode] = {}
        self.lock = threading.Lock()
        self.rebirths = 0
        for site, area, line in config.lines:
            eqs = [e for e in config.equipment if (e.site, e.area, e.line) == (site, area, line)]
            node = EdgeNode(
                site,
                f"{area}-{line}",
                [e for e in eqs if e.kind != "energy_meter"],
                next((e for e in eqs if e.kind == "energy_meter"), None),
            )
            alias = 1
            for spec in ([node.meter] if node.meter else []) + node.devices:
                for tag in spec.tags:
                    alias += 1
                    node.aliases[(spec.equipment_id, tag.name)] = alias
            self.nodes[node.edge_node_id + "@" + site] = node
        self.clients: dict[str, mqtt.Client] = {}
        self.index = {
            (e.equipment_id): (key, e)
            for key, n in self.nodes.items()
            for e in n.devices + ([n.meter] if n.meter else [])
        }
        for key, node in self.nodes.items():
            death = NDeath(
                _ms(), Metric(_ms(), "bdSeq", DataType.INT64, value=node.bd_seq)
            ).encode()
            client = connect(
                options,
                f"{client_prefix}-{node.group_id}-{node.edge_node_id}",
                will=(node.topic("NDEATH"), death),
            )
            client.on_message = self._on_command
            client.subscribe(node.topic("NCMD"), qos=1)
            client.user_data_set(key)
            self.clients[key] = client
            self.birth(key)

    # -- births --------------------------------------------------------------------------------
    def _metric(
        self, node: EdgeNode, spec: EquipmentSpec, tag, value, ts: int, birth: bool
    ) -> Metric:
        alias = node.aliases[(spec.equipment_id, tag.name)]
        dtype = DTYPE[tag.datatype]
        if value is None:
            value = "" if dtype == DataType.STRING else 0
        if dtype == DataType.INT64:
            value = int(value)
        elif dtype == DataType.DOUBLE:
            value = float(value)
        return Metric(ts, tag.name if birth else None, dtype, value=value, alias=alias)

    def birth(self, key: str) -> None:
        """NBIRTH (bdSeq, rebirth control, meter metrics) then a DBIRTH per machine."""
        node = self.nodes[key]
        client = self.clients[key]
        with self.lock:
            node.seq = 0
            ts = _ms()
            metrics = [
                Metric(ts, "bdSeq", DataType.INT64, value=node.bd_seq),
                Metric(ts, REBIRTH, DataType.BOOLEAN, value=False, alias=1),
            ]
            if node.meter:
                metrics += [
                    self._metric(
                        node,
                        node.meter,
                        t,
                        node.last.get((node.meter.equipment_id, t.name)),
                        ts,
                        True,
                    )
                    for t in node.meter.tags
                ]
            node.birth_payload = NBirth(ts, node.next_seq(), tuple(metrics))
            client.publish(
                node.topic("NBIRTH"), node.birth_payload.encode(), qos=0
            ).wait_for_publish(30)
            for spec in node.devices:
                metrics = [
                    self._metric(
                        node, spec, t, node.last.get((spec.equipment_id, t.name)), ts, True
                    )
                    for t in spec.tags
                ]
                client.publish(
                    node.topic("DBIRTH", spec.name),
                    DBirth(ts, node.next_seq(), tuple(metrics)).encode(),
                    qos=0,
                ).wait_for_publish(30)
            node.published += 1 + len(node.devices)

    def _on_command(self, client, userdata, message) -> None:
        try:
            # the node's own birth supplies names and types a command leaves out
            cmd = NCmd.decode(message.payload, birth=self.nodes[userdata].birth_payload)
        except Exception:  # a malformed command is ignored, as the spec asks of edge nodes
            log.warning("ignoring malformed NCMD on %s", message.topic, exc_info=True)
            return
        if any(m.name == REBIRTH and m.value for m in cmd.metrics):
            self.rebirths += 1
            threading.Thread(target=self.birth, args=(userdata,), daemon=True).start()

    # -- data ------------------------------------------------------------------------------------
    def publish(self, readings: pa.Table) -> int:
        """DDATA per machine (NDATA for the meter) with the values that changed, QoS 1."""
        if readings.num_rows == 0:
            return 0
        groups: dict[tuple[str, str | None], list[Metric]] = {}
        eqs, tags = readings["equipment_id"].to_pylist(), readings["tag"].to_pylist()
        ts = readings["timestamp"].cast("int64").to_pylist()
        vd, vs = readings["value_double"].to_pylist(), readings["value_str"].to_pylist()
        specs = {}
        for eq, tag, t, d, s in zip(eqs, tags, ts, vd, vs, strict=True):
            key, spec = self.index[eq]
            node = self.nodes[key]
            tag_spec = specs.get((eq, tag)) or next(x for x in spec.tags if x.name == tag)
            specs[(eq, tag)] = tag_spec
            value = s if s is not None else d
            node.last[(eq, tag)] = value
            device = None if spec.kind == "energy_meter" else spec.name
            groups.setdefault((key, device), []).append(
                self._metric(node, spec, tag_spec, value, t, False)
            )
        sent = 0
        infos = []
        with self.lock:
            for (key, device), metrics in groups.items():
                node = self.nodes[key]
                ts_msg = max(m.timestamp for m in metrics)
                if device is None:
                    payload = NData(ts_msg, node.next_seq(), tuple(metrics)).encode()
                    infos.append(self.clients[key].publish(node.topic("NDATA"), payload, qos=1))
                else:
                    payload = DData(ts_msg, node.next_seq(), tuple(metrics)).encode()
                    infos.append(
                        self.clients[key].publish(node.topic("DDATA", device), payload, qos=1)
                    )
                sent += 1
                node.published += 1
        for info in infos:
            info.wait_for_publish(30)
        return sent

    def close(self) -> None:
        """Publish each node's NDEATH (as its will would) and disconnect."""
        for key, node in self.nodes.items():
            client = self.clients[key]
            death = NDeath(
                _ms(), Metric(_ms(), "bdSeq", DataType.INT64, value=node.bd_seq)
            ).encode()
            client.publish(node.topic("NDEATH"), death, qos=1).wait_for_publish(10)
            client.disconnect()
            client.loop_stop()
