"""Killing the MQTT connector with SIGKILL mid-stream loses nothing and duplicates nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingestion.bronze_loader import BronzeLoader
from ingestion.landing import LandingZone
from lakehouse.settings import REPO_ROOT

pytestmark = pytest.mark.integration
N = 3000
TOPIC = "acme/berlin/machining/line1/cell1/cnc01/parts_total"


def start_connector(cfg_path, lake_root, log_path):
    env = {**os.environ, "PLANTLAKE_LAKE_ROOT": str(lake_root), "TEST_MQTT_PASSWORD": "s3cret"}
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lakehouse.cli",
                "ingest",
                "run",
                "-c",
                str(cfg_path),
                "--no-load",
            ],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def test_sigkill_five_times_then_bronze_has_every_message_once(broker, lake, tmp_path):
    cfg = tmp_path / "ingestion.yaml"
    cfg.write_text(
        json.dumps(
            {
                "sources": [
                    {
                        "type": "mqtt",
                        "name": "uns",
                        "host": broker.host,
                        "port": broker.port,
                        "client_id": "plantlake-killtest",
                        "username": broker.username,
                        "password_env": "TEST_MQTT_PASSWORD",
                        "topics": ["acme/#"],
                        "flush_interval_s": 0.05,
                        "batch_max_messages": 200,
                    }
                ],
            }
        )
    )
    log_path = tmp_path / "connector.log"
    proc = start_connector(cfg, lake.root, log_path)
    deadline = time.monotonic() + 60
    while "connected (session present" not in log_path.read_text():  # the first run creates
        assert time.monotonic() < deadline, "the connector did not connect"  # the session
        time.sleep(0.1)
    time.sleep(1.0)  # and its subscription

    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="kill-publisher", protocol=mqtt.MQTTv5)
    pub.username_pw_set(broker.username, broker.password)
    pub.max_inflight_messages_set(100)
    pub.connect(broker.host, broker.port)
    pub.loop_start()

    def publish_all():
        for i in range(N):
            payload = json.dumps(
                {
                    "value": i,
                    "timestamp": f"2026-03-01T06:{i // 60000:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}Z",
                }
            )
            pub.publish(TOPIC, payload.encode(), qos=1).wait_for_publish(10)
            if i % 10 == 0:
                time.sleep(0.1)  # a 30 s stream: every kill below lands inside it

    publisher = threading.Thread(target=publish_all)
    publisher.start()
    rng = random.Random(7)
    kills = 0
    while kills < 5:
        # a kill at a random point of a connected, landing connector (it starts in a few seconds)
        deadline = time.monotonic() + 60
        while log_path.read_text().count("connected (session present") <= kills:
            assert time.monotonic() < deadline, "the connector did not connect"
            time.sleep(0.1)
        time.sleep(rng.uniform(0.2, 1.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
        proc = start_connector(cfg, lake.root, log_path)
    last_start = datetime.now(UTC)
    publisher.join(120)
    pub.loop_stop()

    zone = LandingZone(lake.root / "_landing")
    deadline = time.monotonic() + 60
    status = lake.root / "_landing" / "_status" / "uns.json"
    seen = None
    while time.monotonic() < deadline:  # until the last connector is connected and gone quiet
        time.sleep(1.5)
        current = json.loads(status.read_text()) if status.exists() else {}
        if datetime.fromisoformat(
            current.get("started_at", "2000-01-01T00:00:00+00:00")
        ) < last_start or not current.get("connects"):
            continue  # a status of an earlier run, or not connected yet
        if current["landed"] == seen:
            break
        seen = current["landed"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, log_path.read_text()[-3000:]

    BronzeLoader(lake, zone.root).run()
    bronze = lake.read("bronze.mqtt_messages")
    values = sorted(json.loads(r.payload)["value"] for r in bronze.select("payload").collect())
    assert values == list(range(N)), (
        f"missing {sorted(set(range(N)) - set(values))[:10]}, count {len(values)}"
    )
    assert lake.read("bronze.quarantine").count() == 0
