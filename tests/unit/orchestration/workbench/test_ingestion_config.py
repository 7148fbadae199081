"""The live plant's ingestion config: ingestion's MQTT client ids end in a secret of the lake, so
no other broker account can take over (and end) ingestion's persistent sessions, while the
Sparkplug host id, which every subscriber sees in the STATE topic, stays public."""

from __future__ import annotations

import json

import yaml

from orchestration.workbench.services import Workbench


def test_ingestion_client_ids_carry_the_lakes_secret_and_no_topic_shows_it(test_settings, tmp_path):
    settings = test_settings.model_copy(update={"lake_root": tmp_path / "lake"})
    workbench = Workbench(settings)
    config = yaml.safe_load(workbench._ingestion_config().read_text())
    session = json.loads((workbench.home / "secrets.json").read_text())["mqtt_session"]
    mqtt = {s["name"]: s for s in config["sources"] if s["type"] == "mqtt"}
    assert mqtt["uns"]["client_id"] == f"plantlake-uns-{session}"
    assert mqtt["sparkplug"]["client_id"] == f"plantlake-spb-{session}"
    assert mqtt["sparkplug"]["sparkplug_host_id"] == "plantlake-spb"
    assert len(session) >= 16
    other = Workbench(test_settings.model_copy(update={"lake_root": tmp_path / "other"}))
    assert (
        yaml.safe_load(other._ingestion_config().read_text())["sources"][0]["client_id"]
        != (mqtt["uns"]["client_id"])
    )
