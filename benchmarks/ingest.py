"""Benchmark: ingestion rates, each beside a baseline measured in the same run.

1. MQTT, QoS 1: a stream of N messages is queued at the broker for two persistent sessions;
   each consumer then drains it. The bare paho subscriber only counts (the ceiling of the client
   library); the connector classifies, lands (fsynced Parquet) and acknowledges. Goal: the
   connector's landing rate >= 80 % of the bare subscriber's.
2. OPC UA: a server with 1,000 and then 5,000 variables, each changed every second; value
   changes received and landed per second, and the loss (changes written - landed).
3. Bronze loader: rows per second from 500,000 landed rows into Delta, beside a plain batch
   append of the same files (no checkpoint, no key check), then a replay with the checkpoint lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from asyncua import Server, ua
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingestion.landing import LandingRecord, LandingZone
from ingestion.mqtt.connector import MqttConnector, MqttSourceConfig
from ingestion.opcua.connector import OpcUaConnector, OpcUaSourceConfig
from lakehouse.services.mosquitto import start_mosquitto
from lakehouse.services.ports import free_port

N_MQTT = 60_000
TOPIC = "acme/berlin/machining/line1/cell1/cnc01/temperature_c"


def _client(broker, client_id: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(broker.username, broker.password)
    c.max_inflight_messages_set(1000)
    return c


def _persistent_connect(c: mqtt.Client, broker) -> None:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    c.connect(broker.host, broker.port, clean_start=False, properties=props)


def mqtt_benchmark(work: Path) -> LandingZone:
    broker = start_mosquitto(work / "mosquitto", password="bench")
    try:
        for cid in ("bench-bare", "bench-connector"):  # create the sessions and their subscriptions
            c = _client(broker, cid)
            _persistent_connect(c, broker)
            c.loop_start()
            c.subscribe(TOPIC, qos=1)
            time.sleep(0.3)
            c.disconnect()
            c.loop_stop()
        pub = _client(broker, "bench-pub")
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        t0 = time.perf_counter()
        infos = []
        for i in range(N_MQTT):
            payload = json.dumps(
                {
                    "value": i,
                    "timestamp": f"2026-03-01T06:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}Z",
                    "quality": "good",
                }
            )
            infos.append(pub.publish(TOPIC, payload.encode(), qos=1))
        for info in infos:
            info.wait_for_publish(60)
        print(
            f"MQTT: published {N_MQTT:,} QoS 1 messages in {time.perf_counter() - t0:.1f} s; both sessions hold them"
        )
        pub.disconnect()
        pub.loop_stop()

        got = 0
        done = threading.Event()
        first = []

        def on_message(c, u, m):
            nonlocal got
            if not first:
                first.append(time.perf_counter())
            got += 1
            if got == N_MQTT:
                done.set()

        bare = _client(broker, "bench-bare")
        bare.on_message = on_message
        start = time.perf_counter()
        _persistent_connect(bare, broker)
        bare.loop_start()
        done.wait(300)
        bare_rate = got / (time.perf_counter() - start)
        bare.disconnect()
        bare.loop_stop()

        zone = LandingZone(work / "landing")
        os.environ["BENCH_PW"] = broker.password
        cfg = MqttSourceConfig(
            name="bench",
            host=broker.host,
            port=broker.port,
            client_id="bench-connector",
            username=broker.username,
            password_env="BENCH_PW",
            topics=[TOPIC],
            flush_interval_s=0.05,
        )
        connector = MqttConnector(cfg, zone)
        stop = threading.Event()
        start = time.perf_counter()
        runner = threading.Thread(target=connector.run, args=(stop,))
        runner.start()
        while connector.stats.landed < N_MQTT and time.perf_counter() - start < 300:
            time.sleep(0.01)
        landed_rate = connector.stats.landed / (time.perf_counter() - start)
        stop.set()
        runner.join(30)
        print(f"  bare paho subscriber (counts only): {bare_rate:,.0f} msg/s")
        print(
            f"  connector, classified + landed + acknowledged: {landed_rate:,.0f} msg/s "
            f"({connector.stats.batches} fsynced files) = {landed_rate / bare_rate:.0%} of the bare subscriber (goal 80 %)"
        )
        return zone
    finally:
        broker.stop()


async def _opcua_run(n_vars: int, seconds: float, work: Path) -> tuple[int, int, float]:
    port = free_port()
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench/")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace("urn:bench")
    folder = await server.nodes.objects.add_object(ua.NodeId("bench", ns), f"{ns}:bench")
    nodes = [
        await folder.add_variable(ua.NodeId(f"v{i}", ns), f"{ns}:v{i}", 0.0) for i in range(n_vars)
    ]
    await server.start()
    zone = LandingZone(work / f"opcua-{n_vars}")
    cfg = OpcUaSourceConfig(
        name=f"bench{n_vars}",
        endpoint=f"opc.tcp://127.0.0.1:{port}/bench/",
        root=["0:Objects", f"{ns}:bench"],
        sampling_interval_ms=0,
        publishing_interval_ms=200,
        queue_size=10,
        flush_interval_s=0.5,
    )
    connector = OpcUaConnector(cfg, zone)
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(stop))
    while connector.stats.monitored < n_vars:
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)
    received_before = connector.stats.received
    written = 0
    began = time.perf_counter()
    tick = 0
    while time.perf_counter() - began < seconds:
        t0 = time.perf_counter()
        tick += 1
        ts = datetime.now(UTC)
        for node in nodes:
            await server.write_attribute_value(
                node.nodeid,
                ua.DataValue(
                    ua.Variant(float(tick), ua.VariantType.Double),
                    SourceTimestamp=ts,
                    ServerTimestamp=ts,
                ),
            )
        written += n_vars
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - t0)))
    await asyncio.sleep(3.0)  # the last publish cycles
    elapsed = time.perf_counter() - began
    stop.set()
    await task
    await server.stop()
    received = connector.stats.received - received_before
    return written, received, received / elapsed


def opcua_benchmark(work: Path) -> None:
    for n in (1000, 5000):
        written, received, rate = asyncio.run(_opcua_run(n, 15.0, work))
        print(
            f"OPC UA, {n:,} monitored items changing at 1 Hz for 15 s: {written:,} changes written, {received:,} received and landed "
            f"({rate:,.0f}/s); loss {written - received:,}"
        )


N_LOADER_FILES = 100
N_LOADER_ROWS_PER_FILE = 5_000


def _land_synthetic(root: Path) -> LandingZone:
    """500,000 UNS readings in 100 landed files, as connectors write them."""
    zone = LandingZone(root)
    received = datetime.now(UTC)
    for f in range(N_LOADER_FILES):
        records = [
            LandingRecord(
                kind="mqtt",
                source="bench",
                address=f"acme/berlin/machining/line1/cell1/cnc{i % 17:02d}/temperature_c",
                payload=json.dumps(
                    {"value": f * N_LOADER_ROWS_PER_FILE + i, "timestamp": received.isoformat()}
                ).encode(),
                received_at=received,
                source_timestamp=received,
                attributes={"qos": "1"},
            )
            for i in range(N_LOADER_ROWS_PER_FILE)
        ]
        zone.write_batch("bench", records)
    return zone


def loader_benchmark(work: Path) -> None:
    from ingestion.bronze_loader import BronzeLoader
    from lakehouse.lake import open_lake
    from lakehouse.settings import load_settings

    zone = _land_synthetic(work / "loader-landing")
    rows = N_LOADER_FILES * N_LOADER_ROWS_PER_FILE
    lake = open_lake(load_settings(lake_root=work / "lake"))
    spark = lake.spark
    lake.create_all()

    t0 = time.perf_counter()  # the ceiling: one batch append, no checkpoint, no key check
    spark.read.parquet(str(zone.root / "bench")).write.format("delta").mode("append").save(
        str(work / "baseline-delta")
    )
    baseline = rows / (time.perf_counter() - t0)

    loader = BronzeLoader(lake, zone.root)
    first = loader.run()
    loaded = first.rows_read_by_table.get("bronze.mqtt_messages", 0)
    shutil.rmtree(loader.checkpoint)
    replay = loader.run()
    print(
        f"bronze loader, {rows:,} landed rows in {N_LOADER_FILES} files: baseline (plain batch append "
        f"to Delta, no checkpoint, no key check) {baseline:,.0f} rows/s"
    )
    print(
        f"  loader (streaming availableNow + checkpoint + insert-new by record id): {loaded:,} rows in "
        f"{first.seconds:.1f} s = {rows / first.seconds:,.0f} rows/s = {rows / first.seconds / baseline:.0%} of the baseline"
    )
    print(
        f"  replay with the checkpoint lost: {sum(replay.rows_read_by_table.values()):,} rows checked in "
        f"{replay.seconds:.1f} s, bronze still holds {lake.read('bronze.mqtt_messages').count():,}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # the broker's user (mosquitto) must reach its folder when we are root
        mqtt_benchmark(work)
        opcua_benchmark(work)
        loader_benchmark(work)


if __name__ == "__main__":
    main()
