"""Unified-namespace publisher: one JSON message per reading, QoS 1, topic = ISA-95 path + tag."""

from __future__ import annotations

import pyarrow as pa

from plant.servers.mqtt_client import BrokerOptions, connect


class UnsPublisher:
    """Publishes the readings tables the simulation produces (topic and payload columns)."""

    def __init__(
        self, options: BrokerOptions, client_id: str = "plantlake-plant-uns", qos: int = 1
    ):
        self.client = connect(options, client_id)
        self.qos = qos
        self.published = 0

    def publish(self, readings: pa.Table) -> int:
        infos = [
            self.client.publish(topic, payload, qos=self.qos)
            for topic, payload in zip(
                readings["topic"].to_pylist(), readings["payload"].to_pylist(), strict=True
            )
        ]
        for info in infos:
            info.wait_for_publish(30)
        self.published += len(infos)
        return len(infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
