"""Failures on the way to bronze lose nothing and count nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingestion.bronze_loader import BronzeLoader
from ingestion.config import parse_ingestion_config
from ingestion.landing import LandingRecord, LandingZone
from ingestion.service import IngestionService
from lakehouse.settings import REPO_ROOT

pytestmark = pytest.mark.integration
TOPIC = "acme/berlin/machining/line1/cell1/cnc01/parts_total"
T0 = datetime(2026, 3, 1, 6, tzinfo=UTC)


def reading(i: int) -> bytes:
    return json.dumps(
        {
            "value": i,
            "timestamp": f"2026-03-01T06:{(i // 1000) % 60:02d}:{(i // 10) % 60:02d}.{i % 1000:03d}Z",
        }
    ).encode()


def persistent_publisher(broker, client_id="rel-publisher") -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(broker.username, broker.password)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.2, 1)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect(broker.host, broker.port, clean_start=False, properties=props)
    client.loop_start()
    return client


def values_in_bronze(lake) -> list[int]:
    return sorted(
        json.loads(r.payload)["value"]
        for r in lake.read("bronze.mqtt_messages").select("payload").collect()
    )


def test_bronze_loader_killed_mid_batch_then_rerun(lake):
    zone = LandingZone(lake.root / "_landing")
    n_files, per_file = 30, 400
    for f in range(n_files):
        recs = [
            LandingRecord(
                "mqtt",
                "uns",
                TOPIC,
                reading(f * per_file + i),
                T0,
                None,
                {"qos": "1"},
            )
            for i in range(per_file)
        ]
        zone.write_batch("uns", recs, batch_id=f"b{f:03d}")
    script = (
        "from ingestion.bronze_loader import BronzeLoader\n"
        "from lakehouse.lake import open_lake\n"
        f"BronzeLoader(open_lake(), {str(zone.root)!r}, max_files_per_batch=2).run()\n"
    )
    env = {
        **os.environ,
        "PLANTLAKE_LAKE_ROOT": str(lake.root),
        "PLANTLAKE_SPARK_MASTER": "local[1]",
        "PLANTLAKE_SPARK_DRIVER_MEMORY": "1g",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log_dir = lake.root / "bronze" / "mqtt_messages" / "_delta_log"
    deadline = time.monotonic() + 240
    while (
        time.monotonic() < deadline and len(list(log_dir.glob("*.json"))) < 3
    ):  # create + 2 batches committed
        time.sleep(0.1)
    time.sleep(0.7)  # into the next batch
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    committed_before = len(values_in_bronze(lake))
    assert 0 < committed_before < n_files * per_file, "killed mid-way"
    BronzeLoader(lake, zone.root, max_files_per_batch=8).run()
    assert values_in_bronze(lake) == list(range(n_files * per_file))


def test_broker_restart_during_a_stream_loses_nothing(broker, lake, tmp_path, monkeypatch):
    monkeypatch.setenv("REL_PW", broker.password)
    cfg = parse_ingestion_config(
        {
            "loader_interval_s": 3600,
            "sources": [
                {
                    "type": "mqtt",
                    "name": "uns",
                    "host": broker.host,
                    "port": broker.port,
                    "client_id": "rel-connector",
                    "username": broker.username,
                    "password_env": "REL_PW",
                    "topics": ["acme/#"],
                    "flush_interval_s": 0.05,
                }
            ],
        }
    )
    service = IngestionService(cfg, lake.root)
    stop = threading.Event()
    runner = threading.Thread(
        target=service.run, args=(stop,), kwargs={"load_bronze": False}, daemon=True
    )
    runner.start()
    time.sleep(1.0)
    pub = persistent_publisher(broker)
    n = 3000
    for i in range(n):
        pub.publish(TOPIC, reading(i), qos=1)
        if i == 1000:
            broker.restart()  # SIGTERM by PID, then start again on the same port with its persistence
        if i % 100 == 0:
            time.sleep(0.02)
    deadline = time.monotonic() + 60
    connector = service.mqtt[0]
    while time.monotonic() < deadline and connector.stats.accepted < n:
        time.sleep(0.2)
    stop.set()
    runner.join(60)
    pub.loop_stop()
    assert connector.stats.connects >= 2, "the connector reconnected"
    BronzeLoader(lake, service.landing_root).run()
    assert values_in_bronze(lake) == list(range(n))


def test_lake_unwritable_for_a_while_connectors_keep_landing_and_bronze_catches_up(
    broker, lake, monkeypatch
):
    monkeypatch.setenv("REL_PW", broker.password)
    cfg = parse_ingestion_config(
        {
            "loader_interval_s": 1.5,
            "sources": [
                {
                    "type": "mqtt",
                    "name": "uns",
                    "host": broker.host,
                    "port": broker.port,
                    "client_id": "rel-lake",
                    "username": broker.username,
                    "password_env": "REL_PW",
                    "topics": ["acme/#"],
                }
            ],
        }
    )
    service = IngestionService(cfg, lake.root)
    service._loader = lambda: BronzeLoader(
        lake, service.landing_root
    )  # this test's lake and session
    lake.create("bronze.mqtt_messages")
    bronze = lake.root / "bronze"
    away = lake.root / "bronze.away"
    stop = threading.Event()
    runner = threading.Thread(target=service.run, args=(stop,), daemon=True)
    runner.start()
    time.sleep(1.0)
    # The bronze folder is replaced by a file: every write into the lake fails (root ignores chmod).
    bronze.rename(away)
    bronze.write_text("the lake is down")
    pub = persistent_publisher(broker, "rel-lake-pub")
    for i in range(1500):
        pub.publish(TOPIC, reading(i), qos=1).wait_for_publish(10)
    time.sleep(4)  # at least two loader runs fail meanwhile
    errors_while_down = service.loader_errors
    landed_while_down = service.mqtt[0].stats.landed
    bronze.unlink()
    away.rename(bronze)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and service.loader_runs < 2:
        time.sleep(0.5)
    stop.set()
    runner.join(90)
    pub.loop_stop()
    assert errors_while_down >= 1 and landed_while_down == 1500
    assert values_in_bronze(lake) == list(range(1500))
