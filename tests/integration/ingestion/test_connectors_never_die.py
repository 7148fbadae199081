"""Inputs that used to kill the MQTT connector, and faults that used to be silent, against a real
Mosquitto: every message is accepted or quarantined, the connector keeps running, nothing comes
back after a restart, and `plantlake ingest status` and the metrics show what is wrong.

The Sparkplug payloads are built with the protobuf classes generated from Eclipse Tahu's
`sparkplug_b.proto` (shipped in pysparkplug), the way Tahu's Java encoder fills them: an Int8 of
-1 travels as the uint32 0xFFFFFFFF (Java sign-extends a byte to an int).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pysparkplug._protobuf import sparkplug_b_pb2 as pb
from typer.testing import CliRunner

from ingestion.config import parse_ingestion_config
from ingestion.health import SourceState
from ingestion.landing import LandingZone
from ingestion.mqtt.connector import MqttConnector
from ingestion.service import IngestionService

pytestmark = pytest.mark.integration
UNS = "acme/berlin/machining/line1/cell1/cnc01/temperature_c"
INT8, INT64, UINT8, DOUBLE, STRING, DATASET, TEMPLATE = 1, 4, 5, 10, 12, 16, 19


def wait_until(predicate, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def publisher(broker) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="corpus", protocol=mqtt.MQTTv5)
    client.username_pw_set(broker.username, broker.password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def landed(zone: LandingZone) -> list[dict]:
    files = zone.files()
    return pa.concat_tables([pq.read_table(f) for f in files]).to_pylist() if files else []


def payload(seq: int | None, *metrics: pb.Payload.Metric) -> bytes:
    msg = pb.Payload(timestamp=int(time.time() * 1000))
    if seq is not None:
        msg.seq = seq
    msg.metrics.extend(metrics)
    return msg.SerializeToString()


def metric(name: str, datatype: int, **value) -> pb.Payload.Metric:
    return pb.Payload.Metric(name=name, datatype=datatype, **value)


def birth(*metrics: pb.Payload.Metric) -> bytes:
    return payload(0, metric("bdSeq", INT64, long_value=0), *metrics)


def dataset() -> pb.Payload.DataSet:
    ds = pb.Payload.DataSet(num_of_columns=2, columns=["step", "torque_nm"], types=[7, 10])
    for step, torque in ((1, 12.5), (2, 13.0)):
        row = ds.rows.add()
        row.elements.add(int_value=step)
        row.elements.add(double_value=torque)
    return ds


def template() -> pb.Payload.Template:
    t = pb.Payload.Template(template_ref="Motor", version="1.0", is_definition=False)
    t.metrics.append(metric("speed_rpm", DOUBLE, double_value=1480.0))
    return t


def corpus() -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected outcome) — the seven inputs that killed the connector and the
    Sparkplug faults of the issue, each Sparkplug case on an edge node of its own so that one
    cannot disturb another."""
    spb = "spBv1.0/corpus"
    deep = b'{"value": 1, "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"  # 40 kB, under the limit
    now_ms = int(time.time() * 1000)
    return [
        (UNS, b'{"value": 1, "timestamp": "9999-12-31T23:59:59-23:59"}', "bad_timestamp"),
        (UNS, deep, "invalid_json"),
        (UNS, b'{"value": 1, "value": 2}', "duplicate_key"),
        (f"{spb}/NBIRTH/tahu", birth(metric("level", INT8, int_value=0xFFFFFFFF)), "accepted"),
        (f"{spb}/NBIRTH/range", birth(metric("count", UINT8, int_value=300)), "value_out_of_range"),
        (f"{spb}/NBIRTH/ds", birth(metric("recipe", DATASET, dataset_value=dataset())), "accepted"),
        (f"{spb}/NBIRTH/udt", birth(metric("m1", TEMPLATE, template_value=template())), "accepted"),
        (f"{spb}/NBIRTH/noseq", birth(metric("t", DOUBLE, double_value=1.0)), "accepted"),
        (
            f"{spb}/NDATA/noseq",
            payload(None, metric("t", DOUBLE, double_value=2.0)),
            "missing_sequence",
        ),
        # the rest of the Sparkplug list: size limit, STATE, DDEATH without seq, bad ids
        (
            f"{spb}/NBIRTH/big",
            birth(metric("blob", STRING, string_value="x" * 200_000)),
            "oversized_payload",
        ),
        ("spBv1.0/STATE/scada-1", b'{"online":true,"timestamp":%d}' % now_ms, "accepted"),
        (f"{spb}/NBIRTH/dd", birth(), "accepted"),
        (f"{spb}/DBIRTH/dd/press", payload(1, metric("p", DOUBLE, double_value=1.0)), "accepted"),
        (f"{spb}/DDEATH/dd/press", payload(None), "missing_sequence"),
        (
            "spBv1.0/../NDATA/..",
            payload(3, metric("t", DOUBLE, double_value=1.0)),
            "unknown_topic_layout",
        ),
        (UNS, b'{"value": 21.5, "timestamp_ms": %d}' % now_ms, "accepted"),
    ]


def service_for(broker, tmp_path, monkeypatch, *sources: dict, **settings) -> IngestionService:
    monkeypatch.setenv("TEST_MQTT_PASSWORD", broker.password)
    base = {
        "host": broker.host,
        "port": broker.port,
        "username": broker.username,
        "password_env": "TEST_MQTT_PASSWORD",
        "flush_interval_s": 0.05,
    }
    cfg = parse_ingestion_config(
        {
            "landing_root": str(tmp_path / "landing"),
            "status_interval_s": 0.2,
            "metrics_port": 0,
            **settings,
            "sources": [{"type": "mqtt", **base, **s} for s in sources],
        }
    )
    return IngestionService(cfg, tmp_path / "lake")


def running(service: IngestionService):
    stop = threading.Event()
    thread = threading.Thread(
        target=service.run, args=(stop,), kwargs={"load_bronze": False}, daemon=True
    )
    thread.start()
    return stop, thread


def stopped(stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    thread.join(60)
    assert not thread.is_alive()


def test_the_seven_killers_are_quarantined_and_nothing_comes_back_after_a_restart(
    broker, tmp_path, monkeypatch
):
    source = {"name": "uns", "client_id": "pl-corpus", "sparkplug_max_payload_bytes": 100_000}
    service = service_for(broker, tmp_path, monkeypatch, source)
    stop, thread = running(service)
    connector = service.mqtt[0]
    wait_until(connector.subscribed.is_set, "the connector has subscribed")
    pub = publisher(broker)
    commands: list[str] = []
    granted = threading.Event()
    pub.on_message = lambda c, u, m: commands.append(m.topic)
    pub.on_subscribe = lambda *_: granted.set()
    pub.subscribe("spBv1.0/+/NCMD/#", qos=1)
    wait_until(granted.is_set, "the test hears rebirth requests")
    cases = corpus()
    for topic, body, _ in cases:
        pub.publish(topic, body, qos=1).wait_for_publish(10)
    wait_until(lambda: connector.stats.landed >= len(cases), "every message is landed")
    stats = connector.stats
    assert stats.received == stats.accepted + stats.quarantined == len(cases)
    assert stats.reasons == Counter(r for _, _, r in cases if r != "accepted"), (
        "each input is quarantined with its own reason, none as internal_error"
    )
    assert ".." not in "".join(commands), "no rebirth request to an id that failed validation"
    assert stats.effective_state() == SourceState.CONNECTED and stats.restarts == 0
    stopped(stop, thread)

    rows = landed(LandingZone(tmp_path / "landing"))
    by_topic = {r["address"]: r for r in rows if r["kind"] == "sparkplug"}
    decoded = json.loads(dict(by_topic["spBv1.0/corpus/NBIRTH/tahu"]["attributes"])["decoded_json"])
    assert [m["value"] for m in decoded["metrics"] if m["name"] == "level"] == [-1]
    assert "spBv1.0/corpus/NBIRTH/ds" in by_topic and "spBv1.0/corpus/NBIRTH/udt" in by_topic

    # Everything was acknowledged after landing: a restart receives nothing of the corpus again
    # (the broker may send the retained STATE of the last run: it is data about the host).
    again = service_for(broker, tmp_path, monkeypatch, {"name": "uns", "client_id": "pl-corpus"})
    stop, thread = running(again)
    wait_until(again.mqtt[0].subscribed.is_set, "the restarted connector has subscribed")
    pub.publish(UNS, b'{"value": 22.0}', qos=1).wait_for_publish(10)
    wait_until(lambda: again.mqtt[0].stats.accepted >= 1, "a new reading arrives")
    stopped(stop, thread)
    pub.loop_stop()
    assert again.mqtt[0].stats.quarantined == 0
    payloads = [r["payload"] for r in landed(LandingZone(tmp_path / "landing"))]
    assert all(payloads.count(body) == 1 for _, body, _ in cases), "no message came back"


def test_a_message_that_breaks_the_classifier_is_quarantined_as_internal_error(
    broker, tmp_path, monkeypatch
):
    import ingestion.mqtt.classifier as classifier

    real = classifier.classify_uns_message

    def fragile(**kw):
        if kw["topic"].endswith("/boom"):
            raise ZeroDivisionError("a bug no input should reach")
        return real(**kw)

    monkeypatch.setattr(classifier, "classify_uns_message", fragile)
    service = service_for(
        broker,
        tmp_path,
        monkeypatch,
        {"name": "uns", "client_id": "pl-boom", "sparkplug_host": False},
    )
    stop, thread = running(service)
    connector = service.mqtt[0]
    wait_until(connector.subscribed.is_set, "the connector has subscribed")
    pub = publisher(broker)
    pub.publish("acme/boom", b'{"value": 1}', qos=1).wait_for_publish(10)
    pub.publish(UNS, b'{"value": 2}', qos=1).wait_for_publish(10)
    wait_until(lambda: connector.stats.landed >= 2, "both messages are landed")
    stopped(stop, thread)
    pub.loop_stop()
    assert connector.stats.reasons == {"internal_error": 1} and connector.stats.accepted == 1
    (bad,) = [r for r in landed(LandingZone(tmp_path / "landing")) if r["kind"] == "quarantine"]
    assert bad["payload"] == b'{"value": 1}'
    assert dict(bad["attributes"])["detail"] == "ZeroDivisionError: a bug no input should reach"


def test_a_retained_bad_message_lands_once_however_often_it_is_delivered(
    broker, tmp_path, monkeypatch
):
    pub = publisher(broker)
    pub.publish("acme/retained/bad", b"not json", qos=1, retain=True).wait_for_publish(10)
    pub.loop_stop()
    for _ in range(3):  # each start subscribes again, and the broker sends the retained message
        service = service_for(
            broker,
            tmp_path,
            monkeypatch,
            {"name": "uns", "client_id": "pl-ret", "sparkplug_host": False},
        )
        stop, thread = running(service)
        stats = service.mqtt[0].stats
        wait_until(lambda: stats.landed >= 1, "the retained message is landed")  # noqa: B023
        stopped(stop, thread)
    rows = [r for r in landed(LandingZone(tmp_path / "landing")) if r["kind"] == "quarantine"]
    assert len(rows) == 3 and len({r["record_id"] for r in rows}) == 1  # bronze merges on the id


def test_a_failing_landing_zone_holds_the_messages_and_shows_the_fault(
    broker, tmp_path, monkeypatch
):
    service = service_for(
        broker,
        tmp_path,
        monkeypatch,
        {"name": "uns", "client_id": "pl-disk", "sparkplug_host": False},
    )
    failures = iter([OSError(28, "No space left on device")] * 2)
    real = LandingZone.write_batch

    def full_disk(self, source, records, batch_id=None):
        records = list(records)
        if any(r.kind == "sparkplug" for r in records):  # a batch with a Sparkplug session
            exc = next(failures, None)
            if exc is not None:
                raise exc
        return real(self, source, records, batch_id)

    monkeypatch.setattr(LandingZone, "write_batch", full_disk)
    stop, thread = running(service)
    connector = service.mqtt[0]
    wait_until(connector.subscribed.is_set, "the connector has subscribed")
    pub = publisher(broker)
    sparkplug = [("spBv1.0/disk/NBIRTH/edge", birth(metric("t", DOUBLE, double_value=0.0)))]
    sparkplug += [
        ("spBv1.0/disk/NDATA/edge", payload(seq % 256, metric("t", DOUBLE, double_value=seq)))
        for seq in range(1, 600)  # more than the decoder remembers per node (512)
    ]
    sent = [(UNS, b'{"value": %d}' % i) for i in range(20)] + sparkplug
    for topic, body in sent:
        pub.publish(topic, body, qos=1)
    wait_until(lambda: connector.stats.errors >= 1, "the landing failure is recorded")
    assert "No space left on device" in connector.stats.last_error
    wait_until(lambda: connector.stats.landed >= len(sent), "the held messages land later")
    wait_until(
        lambda: connector.stats.effective_state() == SourceState.CONNECTED, "the source recovers"
    )
    stopped(stop, thread)
    pub.loop_stop()
    # classified once, written when the disk was back: no Sparkplug seq was seen twice
    assert connector.stats.reasons == {} and connector.stats.rebirths_requested == 0
    assert connector.stats.received == connector.stats.accepted == len(sent)
    values = sorted(r["payload"] for r in landed(LandingZone(tmp_path / "landing")))
    assert values == sorted(body for _, body in sent)


def test_status_and_metrics_show_a_failing_source_and_a_restarted_one(
    broker, tmp_path, monkeypatch
):
    crashed = []
    real = MqttConnector._start_lander

    def crash_once(self):
        if self.config.name == "uns" and not crashed:
            crashed.append(self.config.name)
            raise RuntimeError("the lander could not start")
        return real(self)

    monkeypatch.setattr(MqttConnector, "_start_lander", crash_once)
    monkeypatch.setenv("WRONG_PASSWORD", "not-the-password")
    service = service_for(
        broker,
        tmp_path,
        monkeypatch,
        {"name": "uns", "client_id": "pl-ok", "sparkplug_host": False},
        {
            "name": "intruder",
            "client_id": "pl-bad",
            "password_env": "WRONG_PASSWORD",
            "sparkplug_host": False,
        },
    )
    stop, thread = running(service)
    good, bad = service.mqtt
    wait_until(lambda: good.stats.restarts == 1 and good.subscribed.is_set(), "uns restarts")
    wait_until(lambda: bad.stats.state == SourceState.FAILING, "the refused login is failing")
    wait_until(lambda: service.metrics is not None, "metrics are served")
    status_file = tmp_path / "landing" / "_status" / "intruder.json"
    wait_until(
        lambda: status_file.exists() and json.loads(status_file.read_text())["state"] == "failing",
        "the status file says failing",
    )
    metrics = (
        urllib.request.urlopen(f"http://127.0.0.1:{service.metrics.port}/metrics", timeout=10)
        .read()
        .decode()
    )

    from lakehouse.cli import app

    (tmp_path / "ingestion.yaml").write_text(
        json.dumps({**json.loads(service.config.model_dump_json()), "metrics_port": None})
    )
    monkeypatch.setenv("PLANTLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    result = CliRunner().invoke(
        app, ["ingest", "status", "-c", str(tmp_path / "ingestion.yaml")], env={"COLUMNS": "250"}
    )
    stopped(stop, thread)
    print(result.output)
    assert result.exit_code == 1, result.output
    assert "failing" in result.output and "Not authorized" in result.output
    assert "not healthy: intruder" in result.output
    assert (
        'plantlake_ingest_source_state{source="intruder",state="failing",type="mqtt"} 1.0'
        in metrics
    )
    assert 'plantlake_ingest_source_up{source="uns",type="mqtt"} 1.0' in metrics
    assert 'plantlake_ingest_restarts_total{source="uns",type="mqtt"} 1.0' in metrics
    uns = json.loads((tmp_path / "landing" / "_status" / "uns.json").read_text())
    assert uns["restarts"] == 1 and "the lander could not start" in uns["last_error"]
    assert datetime.fromisoformat(uns["last_error_at"]) <= datetime.now(UTC)
