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


@pytest.mark.parametrize(
    ("opcua", "message"),
    [
        (
            'include: [".*", "*/press01/*"]',
            "sources[0].include[1]: Value error, not a regular expression: nothing to repeat at "
            "position 0; patterns are regular expressions, not globs (for the glob "
            "'*/press01/*' write '.*/press01/.*')",
        ),
        ("exclude: ['Axis[6']", "sources[0].exclude[0]: Value error, not a regular expression"),
        ("nodes: ['ns=2;q=1']", "sources[0].nodes[0]: Value error, 'ns=2;q=1': write a node id"),
        ("root: ['0:Objects', 'nsu=urn:x']", "sources[0].root[1]: Value error, 'nsu=urn:x': write"),
    ],
)
def test_a_bad_opcua_pattern_node_or_root_names_its_key(tmp_path, opcua, message):
    path = tmp_path / "ingestion.yaml"
    path.write_text(
        "sources:\n  - type: opcua\n    name: x\n    endpoint: opc.tcp://h:4840\n    " + opcua
    )
    with pytest.raises(IngestionConfigError) as err:
        load_ingestion_config(path)
    assert message in str(err.value)


def test_metrics_listen_on_loopback_by_default_and_a_bad_sparkplug_host_id_names_its_key(tmp_path):
    path = tmp_path / "ingestion.yaml"
    path.write_text("sources: [{type: mqtt, name: uns, client_id: plantlake-uns}]")
    cfg = load_ingestion_config(path)
    assert (cfg.metrics_host, cfg.metrics_port) == ("127.0.0.1", 9464)
    assert cfg.sources[0].host_id == "plantlake-uns" and cfg.sources[0].sparkplug_host
    path.write_text("sources: [{type: mqtt, name: uns, client_id: 'site/a'}]")
    with pytest.raises(IngestionConfigError, match=r"sources\[0\]: .*sparkplug_host_id 'site/a'"):
        load_ingestion_config(path)
    path.write_text(
        "sources: [{type: mqtt, name: uns, client_id: 'site/a', sparkplug_host: false}]"
    )
    assert not load_ingestion_config(path).sources[0].sparkplug_host
