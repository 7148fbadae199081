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
    time.sleep(2.5)  # the first run creates the persistent session

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
            if i % 100 == 0:
                time.sleep(0.05)

    publisher = threading.Thread(target=publish_all)
    publisher.start()
    rng = random.Random(7)
    kills = 0
    while kills < 5:
        time.sleep(rng.uniform(0.4, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
        proc = start_connector(cfg, lake.root, log_path)
    publisher.join(120)
    pub.loop_stop()

    zone = LandingZone(lake.root / "_landing")
    deadline = time.monotonic() + 60
    status = lake.root / "_landing" / "_status" / "uns.json"
    seen = None
    while (
        time.monotonic() < deadline
    ):  # until the last connector has landed the tail and gone quiet
        time.sleep(1.5)
        current = json.loads(status.read_text()).get("landed") if status.exists() else None
        if current is not None and current == seen:
            break
        seen = current
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, log_path.read_text()[-3000:]

    BronzeLoader(lake, zone.root).run()
    bronze = lake.read("bronze.mqtt_messages")
    values = sorted(json.loads(r.payload)["value"] for r in bronze.select("payload").collect())
    assert values == list(range(N)), (
        f"missing {sorted(set(range(N)) - set(values))[:10]}, count {len(values)}"
    )
    assert lake.read("bronze.quarantine").count() == 0
