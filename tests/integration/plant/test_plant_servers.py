"""The simulated plant's servers, against real clients: OPC UA, Mosquitto, PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from paho.mqtt.enums import CallbackAPIVersion
from pysparkplug import DataType, Metric, NCmd

from ingestion.mqtt.sparkplug import SparkplugDecoder
from lakehouse.services.mosquitto import start_mosquitto
from lakehouse.services.ports import free_port
from lakehouse.services.postgres import start_postgres
from plant.config import load_plant_config
from plant.run import run_live
from plant.servers.mqtt_client import BrokerOptions
from plant.servers.opcua import OpcUaSecurity, PlantOpcUaServer
from plant.simulation import Simulation

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning: machines are running


@pytest.fixture(scope="module")
def config():
    return load_plant_config()


@pytest.fixture(scope="module")
def broker():
    base = Path(tempfile.mkdtemp(prefix="plantlake-mqtt-"))
    base.chmod(0o755)  # reachable by the broker's user (mosquitto) when we are root
    b = start_mosquitto(base / "mosquitto", password="s3cret")
    yield b
    b.stop()
    shutil.rmtree(base, ignore_errors=True)


def subscriber(broker, topics, client_id):
    got: list[tuple[str, bytes]] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(broker.username, broker.password)
    client.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    client.connect(broker.host, broker.port)
    client.subscribe([(t, 1) for t in topics])
    client.loop_start()
    time.sleep(0.3)
    return client, got


def test_opcua_server_browses_typed_values_with_units_and_timestamps(config):
    async def scenario():
        server = await PlantOpcUaServer(config, free_port()).start()
        sim = Simulation(config, 1, START, horizon_days=0.05)
        sim.advance(60)
        await server.write(sim.snapshot())
        try:
            async with Client(server.endpoint) as client:
                line = await client.nodes.objects.get_child(
                    ["2:acme", "2:berlin", "2:machining", "2:line1"]
                )
                machines = {(await n.read_browse_name()).Name for n in await line.get_children()}
                vib = client.get_node(
                    "ns=2;s=acme.berlin.machining.line1.cell1.cnc01.vibration_mm_s"
                )
                dv = await vib.read_data_value()
                eu = await (await vib.get_child("2:EngineeringUnits")).read_value()
                rng = await (await vib.get_child("2:EURange")).read_value()
                parts = await client.get_node(
                    "ns=2;s=acme.berlin.machining.line1.cell1.cnc01.parts_total"
                ).read_data_value()
                state = await client.get_node(
                    "ns=2;s=acme.berlin.machining.line1.cell1.cnc01.state"
                ).read_data_value()
                return machines, dv, eu, rng, parts, state, len(server.nodes)
        finally:
            await server.stop()

    machines, dv, eu, rng, parts, state, n = asyncio.run(scenario())
    assert machines == {"cnc01", "cnc02", "press01", "pack01", "energy"}
    assert n == config.tag_count >= 1000
    assert dv.Value.VariantType == ua.VariantType.Double and dv.StatusCode.is_good()
    assert dv.SourceTimestamp.replace(tzinfo=UTC) == datetime(2026, 3, 2, 8, 1, tzinfo=UTC)
    assert eu.DisplayName.Text == "mm/s" and eu.UnitId == (
        ord("C") << 16 | ord("1") << 8 | ord("6")
    )
    assert (rng.Low, rng.High) == (0, 50)
    assert parts.Value.VariantType == ua.VariantType.Int64 and parts.Value.Value > 100_000
    assert state.Value.Value in range(5)


def test_secure_opcua_server_accepts_the_right_user_only(config, tmp_path):
    async def connect(server, password):
        client = Client(server.endpoint)
        client.set_user("operator")
        client.set_password(password)
        key, cert = tmp_path / "client-key.pem", tmp_path / "client-cert.der"
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        await setup_self_signed_certificate(
            key,
            cert,
            "urn:plantlake:test",
            "localhost",
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": "test"},
        )
        client.application_uri = "urn:plantlake:test"
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            str(cert),
            str(key),
            mode=ua.MessageSecurityMode.SignAndEncrypt,
        )
        async with client:
            return await client.nodes.server_state.read_value()

    async def scenario():
        server = await PlantOpcUaServer(
            config, free_port(), OpcUaSecurity({"operator": "p4ss"}, tmp_path / "pki")
        ).start()
        try:
            ok = await connect(server, "p4ss")
            with pytest.raises(Exception, match=r"(?i)identity|user|denied|Bad"):
                await connect(server, "wrong")
            return ok
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == ua.ServerState.Running


def test_mqtt_uns_and_sparkplug_from_a_live_run(config, broker):
    uns_client, uns = subscriber(broker, ["acme/#"], "test-uns")
    spb_client, spb = subscriber(broker, ["spBv1.0/#"], "test-spb")
    options = BrokerOptions(broker.host, broker.port, broker.username, broker.password)

    async def scenario():
        return await run_live(
            config, 1, speed=120, duration_s=240, start=START, mqtt=options, tick_s=0.5
        )

    summary = asyncio.run(scenario())
    time.sleep(1.0)
    uns_client.loop_stop()
    # every UNS reading arrived and parses; topics follow the hierarchy
    assert len(uns) == summary.uns_messages > 1000
    topic, payload = uns[0]
    doc = json.loads(payload)
    assert set(doc) == {"value", "timestamp", "quality"} and len(topic.split("/")) == 7
    # Sparkplug: births before data, consecutive seq per node, aliases resolve through the births
    decoder = SparkplugDecoder("test")
    kinds = [t.split("/")[2] for t, _ in spb]
    assert kinds.index("NBIRTH") < kinds.index("DBIRTH") < kinds.index("DDATA")
    results = [decoder.handle(t, p, datetime.now(UTC)) for t, p in spb]
    rejected = [r.record.attributes for r in results if r.record.kind == "quarantine"]
    assert rejected == [] and len(results) >= summary.sparkplug_messages
    # a rebirth on command
    before = len([k for k in kinds if k == "NBIRTH"])
    spb.clear()
    from plant.servers.sparkplug import SparkplugPublisher

    pub = SparkplugPublisher(config, options, client_prefix="test-rebirth")
    time.sleep(0.5)
    spb.clear()
    cmd = NCmd(
        int(time.time() * 1000),
        (Metric(int(time.time() * 1000), "Node Control/Rebirth", DataType.BOOLEAN, value=True),),
    ).encode()
    spb_client.publish("spBv1.0/berlin/NCMD/machining-line1", cmd, qos=1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any("NBIRTH" in t for t, _ in spb):
        time.sleep(0.1)
    pub.close()
    spb_client.loop_stop()
    births = [t for t, _ in spb if "/NBIRTH/" in t or "/DBIRTH/" in t]
    assert "spBv1.0/berlin/NBIRTH/machining-line1" in births and before >= 5
    assert sum("/DBIRTH/machining-line1/" in t for t in births) == 4


def test_mes_database_gets_work_orders_and_later_updates(config):
    base = Path(tempfile.mkdtemp(prefix="plantlake-pg-"))
    base.chmod(0o755)
    pg = start_postgres(base / "pg", password="s3cret")
    try:
        summary = asyncio.run(
            run_live(
                config,
                1,
                speed=3600,
                duration_s=6 * 3600,
                start=START,
                postgres_conninfo=pg.conninfo(),
                tick_s=0.2,
            )
        )
        with psycopg.connect(pg.conninfo()) as conn:
            orders = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE status <> 'released') FROM mes.work_orders"
            ).fetchone()
            updated = conn.execute(
                "SELECT count(*) FROM mes.downtime_events WHERE end_time IS NOT NULL AND updated_at > start_time"
            ).fetchone()[0]
            products = conn.execute("SELECT count(*) FROM erp.products").fetchone()[0]
        assert summary.mes_changes > 100
        assert orders[0] >= 17 and orders[1] >= 1  # released, then started
        assert updated > 0 and products == 3
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_broker_refuses_a_wrong_password(broker):
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="intruder", protocol=mqtt.MQTTv5)
    client.username_pw_set(broker.username, "wrong")
    result = threading.Event()
    codes = []
    client.on_connect = lambda c, u, f, rc, p: (codes.append(rc), result.set())
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert result.wait(5)
    client.loop_stop()
    assert codes[0].is_failure
