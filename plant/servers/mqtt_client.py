"""A paho-mqtt 2.x (MQTT 5) client for the plant's publishers."""

from __future__ import annotations

from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class BrokerOptions:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls_ca_file: str | None = None


def connect(
    options: BrokerOptions, client_id: str, will: tuple[str, bytes] | None = None
) -> mqtt.Client:
    """A connected client with its network loop running (optionally with a will message)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if options.username:
        client.username_pw_set(options.username, options.password)
    if options.tls_ca_file:
        client.tls_set(ca_certs=options.tls_ca_file)
    if will:
        client.will_set(will[0], will[1], qos=1, retain=False)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(1, 30)
    client.connect(options.host, options.port, keepalive=30)
    client.loop_start()
    return client
