"""The broker lets each client do only its part (issue 14, item 3): no account, no entry; only the
plant publishes into the plant's namespaces (a forged reading from another account reaches no
subscriber); people only read; ingestion publishes only its Sparkplug STATE and rebirth
requests; as root the broker gives up root; with TLS a client must verify the broker's
certificate by the lake's CA, and the ingestion connector lands through it."""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from ingestion.landing import LandingZone
from ingestion.mqtt.connector import MqttConnector, MqttSourceConfig
from lakehouse.services.mosquitto import SYSTEM_USER, Mosquitto, MqttAccount, start_mosquitto
from lakehouse.services.tls import make_server_tls

pytestmark = pytest.mark.integration

ACCOUNTS = (
    MqttAccount("plant", "plant-pw", "plant"),
    MqttAccount("ingestion", "ingestion-pw", "ingestion"),
    MqttAccount("reader", "reader-pw", "reader"),
)
UNS_TOPIC = "acme/berlin/machining/line1/cell1/cnc01/temperature_c"
NDATA_TOPIC = "spBv1.0/acme/NDATA/machining-line1"
DDATA_TOPIC = "spBv1.0/acme/DDATA/machining-line1/cnc01"
NCMD_TOPIC = "spBv1.0/acme/NCMD/machining-line1"
STATE_TOPIC = "spBv1.0/STATE/plantlake-spb"
NOT_AUTHORIZED = 0x87


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="plantlake-mqtt-acl-"))
    folder.chmod(0o755)  # reachable by the broker's user (mosquitto) when we are root
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def broker(base) -> Iterator[Mosquitto]:
    b = start_mosquitto(base / "plain", accounts=ACCOUNTS)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def tls_broker(base) -> Iterator[Mosquitto]:
    b = start_mosquitto(base / "tls-broker", accounts=ACCOUNTS, tls=make_server_tls(base / "tls"))
    yield b
    b.stop()


class Client:
    """A paho MQTT 5 client that records CONNACK, PUBACK and SUBACK reason codes and messages."""

    def __init__(self, broker: Mosquitto, role: str | None, *, password: str | None = None):
        self.connack: queue.Queue[ReasonCode] = queue.Queue()
        self.acks: dict[int, ReasonCode] = {}
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.broker = broker
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-{role}-{id(self)}", protocol=mqtt.MQTTv5
        )
        if role:
            account = broker.account(role)
            self.paho.username_pw_set(account.username, password or account.password)
        self.paho.on_connect = lambda c, u, flags, rc, props: self.connack.put(rc)
        self.paho.on_publish = lambda c, u, mid, rc, props: self.acks.__setitem__(mid, rc)
        self.paho.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put(rcs)
        self.paho.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))

    def connect(self, ca_file: Path | None = None) -> ReasonCode:
        if ca_file:
            self.paho.tls_set(ca_certs=str(ca_file))
        self.paho.connect(self.broker.host, self.broker.port)
        self.paho.loop_start()
        return self.connack.get(timeout=10)

    def subscribe(self, *topics: str) -> list[ReasonCode]:
        self.paho.subscribe([(t, 1) for t in topics])
        return self.subacks.get(timeout=10)

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        info = self.paho.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        return self.acks[info.mid]

    def next_message(self) -> tuple[str, bytes]:
        return self.messages.get(timeout=10)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


@pytest.fixture
def clients(broker) -> Iterator:
    """`connect(role, on=broker, password=..., ca_file=...)`: a connected Client, closed after."""
    made: list[Client] = []

    def connect(role, *, on=None, password=None, ca_file=None) -> Client:
        client = Client(on or broker, role, password=password)
        made.append(client)
        assert client.connect(ca_file) == 0, f"{role} could not connect"
        return client

    yield connect
    for client in made:
        client.close()


def connack(broker: Mosquitto, role: str | None, password: str | None = None) -> ReasonCode:
    client = Client(broker, role, password=password)
    try:
        return client.connect()
    finally:
        client.close()


def test_no_password_and_a_wrong_password_are_refused(broker):
    assert connack(broker, None).is_failure
    assert connack(broker, "plant", password="not-the-password").is_failure
    assert connack(broker, "plant") == 0


@pytest.mark.parametrize(
    "topic",
    [UNS_TOPIC, NDATA_TOPIC, DDATA_TOPIC],
    ids=["uns", "sparkplug-ndata", "sparkplug-ddata"],
)
def test_only_the_plant_publishes_into_the_plant_namespaces(clients, topic):
    reader = clients("reader")
    assert reader.subscribe("acme/#", "spBv1.0/#") == [1, 1]
    forger = clients("ingestion")
    assert forger.publish(topic, b"forged").value == NOT_AUTHORIZED
    # the broker handles one message after another: the forged one, had it been let through,
    # would reach the reader before the plant's genuine one
    assert clients("plant").publish(topic, b"genuine") == 0
    assert reader.next_message() == (topic, b"genuine")


def test_people_only_read(clients):
    watcher = clients("ingestion")  # reads everything
    assert watcher.subscribe("#") == [1]
    reader = clients("reader")
    for topic in (UNS_TOPIC, NDATA_TOPIC, NCMD_TOPIC, STATE_TOPIC, "notes/from/people"):
        assert reader.publish(topic, b"by a person").value == NOT_AUTHORIZED, topic
    assert clients("plant").publish(UNS_TOPIC, b"genuine") == 0
    assert watcher.next_message() == (UNS_TOPIC, b"genuine")


def test_ingestion_publishes_its_state_and_rebirth_requests_and_the_plant_reads_them(clients):
    plant = clients("plant")
    assert plant.subscribe(NCMD_TOPIC, "spBv1.0/STATE/+") == [1, 1]
    ingestion = clients("ingestion")
    assert ingestion.publish(STATE_TOPIC, b'{"online":true,"timestamp":1}') == 0
    assert plant.next_message() == (STATE_TOPIC, b'{"online":true,"timestamp":1}')
    assert ingestion.publish(NCMD_TOPIC, b"rebirth") == 0
    assert plant.next_message() == (NCMD_TOPIC, b"rebirth")
    # but not a command to a machine, nor a birth in the plant's name
    for topic in ("spBv1.0/acme/DCMD/machining-line1/cnc01", "spBv1.0/acme/NBIRTH/x"):
        assert ingestion.publish(topic, b"no").value == NOT_AUTHORIZED, topic


def test_the_plant_reads_nothing_but_what_is_addressed_to_it(clients):
    plant = clients("plant")
    granted = plant.subscribe("acme/#")
    # Mosquitto 2.0 grants the filter and holds back at delivery what the role may not read
    assert granted[0].value == NOT_AUTHORIZED or granted == [1]
    assert plant.subscribe(NCMD_TOPIC) == [1]
    assert clients("plant").publish(UNS_TOPIC, b"not for the plant") == 0
    assert clients("ingestion").publish(NCMD_TOPIC, b"for the plant") == 0
    assert plant.next_message() == (NCMD_TOPIC, b"for the plant")


def test_mosquitto_clients_from_outside_get_the_same_answers(broker):
    """The Debian package's own clients, not ours: the reader is refused a publish, a wrong
    password is refused, the plant's message reaches `mosquitto_sub`."""

    def tool(name: str, role: str, *args: str, password: str | None = None):
        account = broker.account(role)
        return [name, "-h", broker.host, "-p", str(broker.port), "-V", "5", "-u", account.username,
                "-P", password or account.password, *args]  # fmt: skip

    denied = subprocess.run(
        tool("mosquitto_pub", "reader", "-q", "1", "-t", UNS_TOPIC, "-m", "x"),
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert "Not authorized" in denied.stderr, denied
    wrong = subprocess.run(
        tool("mosquitto_pub", "plant", "-t", UNS_TOPIC, "-m", "x", password="wrong"),
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert wrong.returncode != 0 and "Not authorized" in wrong.stderr, wrong
    sub = subprocess.Popen(
        tool("mosquitto_sub", "reader", "-t", "acme/#", "-C", "1", "-W", "20", "-F", "%t %p"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # mosquitto_sub says nothing once subscribed: publish (retained) until it has the message
        publish = tool("mosquitto_pub", "plant", "-q", "1", "-t", UNS_TOPIC, "-m", "42", "-r")
        subprocess.run(publish, check=True, capture_output=True, timeout=20)
        out, err = sub.communicate(timeout=30)
    finally:
        sub.kill()
        subprocess.run(
            tool("mosquitto_pub", "plant", "-t", UNS_TOPIC, "-r", "-n"), check=True, timeout=20
        )  # clear the retained message
    assert out.strip() == f"{UNS_TOPIC} 42", err


@pytest.mark.skipif(os.geteuid() != 0, reason="only root changes user")
def test_as_root_the_broker_runs_as_an_unprivileged_user_with_private_files(broker):
    process = psutil.Process(broker.pid)
    assert process.username() == SYSTEM_USER and 0 not in process.uids()
    assert broker.data_dir.stat().st_mode & 0o777 == 0o700
    for name in ("passwd", "acl", "mosquitto.conf"):
        path = broker.data_dir / name
        assert path.owner() == SYSTEM_USER and path.stat().st_mode & 0o777 == 0o600, path
    # the acl file is the table's: per account, its role's rules
    acl = (broker.data_dir / "acl").read_text()
    assert "user reader\ntopic read #\n" in acl and "topic write acme/#" in acl


# -- TLS -------------------------------------------------------------------------------------------
def test_tls_a_client_must_verify_the_broker_by_the_lakes_ca(tls_broker, base, clients):
    ca_file = base / "tls" / "ca.pem"
    assert (base / "tls" / "server.key").stat().st_mode & 0o777 == 0o600
    assert not (base / "tls" / "ca.key").exists()  # the CA signed the broker, and no more
    plant = clients("plant", on=tls_broker, ca_file=ca_file)
    assert plant.paho.socket().version() in ("TLSv1.2", "TLSv1.3")
    assert not plant.publish(UNS_TOPIC, b"over tls").is_failure  # no subscriber: 0x10
    # the system's CAs, another CA: the handshake fails before any password is sent
    other_ca = make_server_tls(base / "other-tls").ca_file
    for untrusted in (None, other_ca):
        client = Client(tls_broker, "plant")
        client.paho.tls_set(ca_certs=str(untrusted) if untrusted else None)
        with pytest.raises(ssl.SSLCertVerificationError):
            client.paho.connect(tls_broker.host, tls_broker.port)
    # TLS 1.1, offered by a client that allows it: the broker answers with a protocol alert
    old_tls = ssl.create_default_context(cafile=str(ca_file))
    old_tls.set_ciphers("DEFAULT:@SECLEVEL=0")  # lets our OpenSSL offer TLS 1.1 at all
    old_tls.minimum_version = old_tls.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        socket.create_connection((tls_broker.host, tls_broker.port), timeout=10) as raw,
        pytest.raises(ssl.SSLError, match="alert protocol version"),
    ):
        old_tls.wrap_socket(raw, server_hostname=tls_broker.host)
    # plain MQTT on the TLS port: no CONNACK
    client = Client(tls_broker, "plant")
    client.paho.connect(tls_broker.host, tls_broker.port)
    client.paho.loop_start()
    try:
        with pytest.raises(queue.Empty):
            client.connack.get(timeout=2)
    finally:
        client.close()


def test_tls_the_ingestion_connector_lands_through_the_tls_listener(
    tls_broker, base, clients, tmp_path, monkeypatch
):
    ca_file = base / "tls" / "ca.pem"
    account = tls_broker.account("ingestion")
    monkeypatch.setenv("TEST_MQTT_PASSWORD", account.password)
    zone = LandingZone(tmp_path / "landing")
    connector = MqttConnector(
        MqttSourceConfig(
            name="uns-tls",
            host=tls_broker.host,
            port=tls_broker.port,
            client_id="plantlake-tls",
            username=account.username,
            password_env="TEST_MQTT_PASSWORD",
            tls_ca_file=str(ca_file),
            topics=["acme/#"],
            flush_interval_s=0.1,
        ),
        zone,
    )
    stop = threading.Event()
    thread = threading.Thread(target=connector.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert connector.subscribed.wait(15), "the connector did not subscribe through TLS"
        # its Sparkplug STATE birth (a publish the ACL allows ingestion) reached the broker
        reader = clients("reader", on=tls_broker, ca_file=ca_file)
        assert reader.subscribe("spBv1.0/STATE/+") == [1]
        topic, payload = reader.next_message()  # retained
        assert topic == "spBv1.0/STATE/plantlake-tls" and json.loads(payload)["online"] is True
        plant = clients("plant", on=tls_broker, ca_file=ca_file)
        reading = b'{"value": 21.5, "timestamp": "2026-03-01T06:00:00Z", "quality": "good"}'
        assert plant.publish(UNS_TOPIC, reading) == 0
        deadline = time.monotonic() + 15
        while connector.stats.landed < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(15)
    rows = pa.concat_tables([pq.read_table(f) for f in zone.files()]).to_pylist()
    assert [(r["kind"], r["address"], r["payload"]) for r in rows] == [("mqtt", UNS_TOPIC, reading)]
