"""The MQTT connector against a real Mosquitto: lands, quarantines, acknowledges after landing."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pysparkplug import DataType, DBirth, DData, Metric, NBirth, NCmd

from ingestion.landing import LandingZone
from ingestion.mqtt.connector import MqttConnector, MqttSourceConfig

pytestmark = pytest.mark.integration
TOPIC = "acme/berlin/machining/line1/cell1/cnc01/temperature_c"


def publisher(broker) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="test-publisher", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(broker.username, broker.password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def landed(zone: LandingZone) -> list[dict]:
    files = zone.files()
    return pa.concat_tables([pq.read_table(f) for f in files]).to_pylist() if files else []


def start_connector(broker, zone, monkeypatch, **kw):
    monkeypatch.setenv("TEST_MQTT_PASSWORD", broker.password)
    cfg = MqttSourceConfig(
        name="mqtt-test",
        host=broker.host,
        port=broker.port,
        client_id="plantlake-test",
        username=broker.username,
        password_env="TEST_MQTT_PASSWORD",
        flush_interval_s=0.1,
        **kw,
    )
    connector = MqttConnector(cfg, zone)
    stop = threading.Event()
    thread = threading.Thread(target=connector.run, args=(stop,), daemon=True)
    thread.start()
    assert connector.subscribed.wait(10), "connector subscribed"
    return connector, stop, thread


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_uns_messages_land_and_bad_ones_are_quarantined(broker, tmp_path, monkeypatch):
    zone = LandingZone(tmp_path / "landing")
    connector, stop, thread = start_connector(broker, zone, monkeypatch)
    pub = publisher(broker)
    for i in range(200):
        payload = (
            b'{"value": %d, "timestamp": "2026-03-01T06:00:%02d.%03dZ", "quality": "good"}'
            % (i, i // 1000, i % 1000)
        )
        pub.publish(TOPIC, payload, qos=1).wait_for_publish(5)
    for bad in (b"not json", b'{"value": NaN, "timestamp": "2026-03-01T06:00:00Z"}', b"\xff"):
        pub.publish(TOPIC, bad, qos=1).wait_for_publish(5)
    # any topic depth is a plant's choice (the plant model maps it); a JSON array is no reading
    pub.publish("acme/too/short", b'{"value": 1}', qos=1).wait_for_publish(5)
    pub.publish("acme/too/short", b"[1, 2]", qos=1).wait_for_publish(5)
    assert wait_for(lambda: connector.stats.landed >= 205)
    stop.set()
    thread.join(10)
    pub.loop_stop()
    rows = landed(zone)
    assert connector.stats.received == 205 == connector.stats.accepted + connector.stats.quarantined
    assert connector.stats.reasons == {
        "invalid_json": 1,
        "non_finite_value": 1,
        "invalid_utf8": 1,
        "not_an_object": 1,
    }
    assert (
        sum(r["kind"] == "mqtt" for r in rows) == 201
        and sum(r["kind"] == "quarantine" for r in rows) == 4
    )


def test_sparkplug_gap_triggers_a_rebirth_request_on_the_broker(broker, tmp_path, monkeypatch):
    zone = LandingZone(tmp_path / "landing")
    connector, stop, thread = start_connector(broker, zone, monkeypatch)
    commands: list[bytes] = []
    pub = publisher(broker)
    pub.on_message = lambda c, u, m: commands.append(m.payload)
    granted = threading.Event()
    pub.on_subscribe = lambda *_: granted.set()
    pub.subscribe("spBv1.0/berlin/NCMD/line1", qos=1)
    assert granted.wait(10), "the test hears rebirth requests"
    ms = int(time.time() * 1000)
    metrics = (Metric(ms, "bdSeq", DataType.INT64, value=0),)
    dev = (Metric(ms, "vibration_mm_s", DataType.DOUBLE, value=1.0, alias=5),)
    pub.publish("spBv1.0/berlin/NBIRTH/line1", NBirth(ms, 0, metrics).encode(), qos=1)
    pub.publish("spBv1.0/berlin/DBIRTH/line1/cnc01", DBirth(ms, 1, dev).encode(), qos=1)

    def data(seq):
        return DData(
            ms + seq, seq, (Metric(ms + seq, None, DataType.DOUBLE, value=1.5, alias=5),)
        ).encode()

    pub.publish("spBv1.0/berlin/DDATA/line1/cnc01", data(2), qos=1)
    pub.publish("spBv1.0/berlin/DDATA/line1/cnc01", data(7), qos=1).wait_for_publish(5)  # a gap
    assert wait_for(lambda: commands and connector.stats.landed >= 4)
    stop.set()
    thread.join(10)
    pub.loop_stop()
    metric = NCmd.decode(commands[0]).metrics[0]
    assert (metric.name, metric.value) == ("Node Control/Rebirth", True)
    assert connector.stats.reasons == {"sequence_gap": 1}
    # births and the first data are accepted; the connector does not hear its own NCMD (No Local)
    kinds = sorted(dict(r["attributes"]).get("message_type", r["kind"]) for r in landed(zone))
    assert kinds == ["DBIRTH", "DDATA", "NBIRTH", "quarantine"]


def test_messages_published_while_the_connector_is_away_are_delivered_later(
    broker, tmp_path, monkeypatch
):
    zone = LandingZone(tmp_path / "landing")
    connector, stop, thread = start_connector(broker, zone, monkeypatch)
    stop.set()
    thread.join(10)  # the persistent session stays at the broker
    pub = publisher(broker)
    for i in range(50):
        pub.publish(
            TOPIC, b'{"value": %d, "timestamp": "2026-03-01T06:00:00.%03dZ"}' % (i, i), qos=1
        ).wait_for_publish(5)
    pub.loop_stop()
    connector, stop, thread = start_connector(broker, zone, monkeypatch)
    assert wait_for(lambda: connector.stats.landed >= 50)
    stop.set()
    thread.join(10)
    values = sorted(
        int(r["payload"].split(b",")[0].split(b":")[1]) for r in landed(zone) if r["kind"] == "mqtt"
    )
    assert values == list(range(50))


def test_the_connector_is_a_sparkplug_host_application_with_a_retained_state_and_will(
    broker, tmp_path, monkeypatch
):
    """Sparkplug 3.0 (section 7.x, Host Application STATE): a retained `online: true` birth on
    spBv1.0/STATE/<host id> after connecting, the same topic with `online: false` and the
    same timestamp as the MQTT will (sent by the broker when the connection drops), and an
    offline STATE when the connector stops."""
    import json

    states: list[dict] = []
    watcher = publisher(broker)
    granted = threading.Event()
    watcher.on_subscribe = lambda *_: granted.set()
    watcher.on_message = lambda c, u, m: states.append(json.loads(m.payload) | {"retain": m.retain})
    watcher.subscribe("spBv1.0/STATE/plantlake-test", qos=1)
    assert granted.wait(10)
    zone = LandingZone(tmp_path / "landing")
    connector, stop, thread = start_connector(broker, zone, monkeypatch)
    assert wait_for(lambda: states and states[-1]["online"] is True)
    birth = states[-1]
    connector.client.socket().close()  # the connection drops without DISCONNECT: the will
    assert wait_for(lambda: any(s["online"] is False for s in states))
    will = next(s for s in states if s["online"] is False)
    assert will["timestamp"] == birth["timestamp"]
    assert wait_for(
        lambda: states[-1]["online"] is True and states[-1]["timestamp"] > will["timestamp"]
    )
    stop.set()
    thread.join(10)
    assert wait_for(lambda: states[-1]["online"] is False)
    watcher.disconnect()
    watcher.loop_stop()
    # a late subscriber sees the retained offline STATE
    late = publisher(broker)
    seen: list[bytes] = []
    late.on_message = lambda c, u, m: seen.append(m.payload)
    late.subscribe("spBv1.0/STATE/plantlake-test", qos=1)
    assert wait_for(lambda: seen)
    late.loop_stop()
    assert json.loads(seen[0])["online"] is False
