"""The ingestion YAML: every source type parses; a bad entry names its key."""

from __future__ import annotations

import pytest

from ingestion.config import (
    IngestionConfigError,
    MqttSource,
    OpcUaSource,
    PostgresSource,
    load_ingestion_config,
)

GOOD = """
loader_interval_s: 15
sources:
  - {type: mqtt, name: uns, port: 1883, client_id: plantlake-uns, username: plantlake, password_env: PW}
  - {type: opcua, name: berlin, endpoint: "opc.tcp://127.0.0.1:4840/plantlake/", root: ["0:Objects", "2:acme"]}
  - type: postgres
    name: mes
    dbname: plant
    user: plantlake
    tables: [{table: mes.work_orders, key: [work_order_id]}]
"""


def test_every_source_type_parses(tmp_path):
    path = tmp_path / "ingestion.yaml"
    path.write_text(GOOD)
    cfg = load_ingestion_config(path)
    assert [type(s) for s in cfg.sources] == [MqttSource, OpcUaSource, PostgresSource]
    assert cfg.loader_interval_s == 15 and cfg.sources[2].tables[0].mode == "incremental"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("sources: [{type: opcua, name: x}]", "sources[0].endpoint"),
        ("sources: [{type: mqtt, name: x, client_id: c, port: nope}]", "sources[0].port"),
        ("sources: [{type: modbus, name: x}]", "sources[0]"),
        (
            "sources: [{type: postgres, name: m, dbname: d, user: u, tables: [{table: workorders, key: [id]}]}]",
            "sources[0].tables[0].table",
        ),
        ("loader_intervl_s: 3", "loader_intervl_s"),
        (
            "sources: [{type: mqtt, name: a, client_id: c}, {type: mqtt, name: a, client_id: d}]",
            "repeated: ['a']",
        ),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, key):
    path = tmp_path / "ingestion.yaml"
    path.write_text(text)
    with pytest.raises(IngestionConfigError) as err:
        load_ingestion_config(path)
    assert key in str(err.value) and str(path) in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(IngestionConfigError, match="does not exist"):
        load_ingestion_config(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("sources: [unclosed")
    with pytest.raises(IngestionConfigError, match="not valid YAML"):
        load_ingestion_config(tmp_path / "bad.yaml")
