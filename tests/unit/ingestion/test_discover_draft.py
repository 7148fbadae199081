"""Draft plant models from discovered addresses: role and hierarchy guesses, valid YAML, and the
check's matching (the same as silver's)."""

from __future__ import annotations

import json
import re
from importlib.metadata import entry_points

import pytest
import yaml
from pysparkplug import DataType, DBirth, Metric, NBirth

from ingestion.discover.check import _opcua_match, _sparkplug_match, check_model
from ingestion.discover.draft import (
    _y,
    assign_levels,
    compact_tags,
    draft_from_mqtt,
    draft_from_opcua,
    guess_role,
    render_draft,
)
from ingestion.discover.mqtt import MqttCapture, payload_shape
from ingestion.discover.opcua import OpcUaScan, OpcUaVariable
from lakehouse.plant_model.schema import PlantModel, parse_plant_model
from lakehouse.plant_model.templates import SEGMENT

URI = "urn:vendor:line"
MS = 1772445600000  # 2026-03-02T10:00:00Z


def _model(text: str) -> PlantModel:
    """The draft exactly as written: no TODO needs replacing before it parses."""
    return parse_plant_model(yaml.safe_load(text))


def _roles(rule) -> dict[str, dict]:
    return {k: v.model_dump(mode="json", exclude_none=True) for k, v in rule.tags.items()}


# -- roles ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kind", "values", "unit", "role"),
    [
        ("MachineState", "int", [6], None, {"role": "state", "values": "packml"}),
        ("Status", "int", [101], None, {"role": "state", "values": {"101": "idle"}}),
        ("Running", "bool", [True], None, {"role": "state", "values": "running_bool"}),
        (
            "mode",
            "string",
            ["Auto", "Setup"],
            None,
            {"role": "state", "values": {"Auto": "running", "Setup": "changeover"}},
        ),
        ("state", "string", ["idle", "running"], None, {"role": "state", "values": "plantlake"}),
        ("PartsGood", "int", [], None, {"role": "counter_good"}),
        ("RejectCount", "int", [], None, {"role": "counter_scrap"}),
        ("parts_rework", "int", [], None, {"role": "counter_rework"}),
        ("total", "int", [], None, {"role": "counter_total"}),
        ("EnergyWh", "float", [], None, {"role": "energy_counter", "source_unit": "Wh"}),
        ("energy_kwh", "float", [], None, {"role": "energy_counter"}),
        ("Power_kW", "float", [], None, {"role": "power"}),
        ("power", "float", [], "W", {"role": "power", "source_unit": "W"}),
        ("power_factor", "float", [], None, {"role": "analog"}),
        ("temperature_c", "float", [], None, {"role": "analog", "unit": "degC"}),
        ("vibration_mm_s", "float", [], None, {"role": "analog", "unit": "mm/s"}),
        ("Pressure", "float", [], "bar", {"role": "analog", "unit": "bar"}),
        ("speed", "string", ["12.5"], None, {"role": "analog"}),  # a number sent as text
        ("ProductId", "string", [], None, {"role": "product"}),
        ("part_number", "string", [], None, {"role": "product"}),
        ("WorkOrder", "string", [], None, {"role": "work_order"}),
        ("downtime_reason", "int", [], None, {"role": "reason_code"}),
        ("lot", "string", [], None, {"role": "material_lot"}),
        ("SerialNumber", "string", ["SN-1"], None, None),
        ("DoorOpen", "bool", [False], None, None),
        ("Curve", "other", [], None, None),
    ],
)
def test_guess_role(name, kind, values, unit, role):
    guess = guess_role(name, kind, values=values, unit=unit)
    assert guess.role == role
    assert guess.note.startswith("guess: " if role else "left out: ")


def test_state_from_enumeration_names_and_range_of_analog():
    state = guess_role(
        "State", "int", enum_strings=["Stopped", "Running", "Fault", "Setup", "Gizmo"]
    )
    assert state.role == {
        "role": "state",
        "values": {
            "0": "idle",
            "1": "running",
            "2": "unplanned_stop",
            "3": "changeover",
            "4": "idle",
        },
    }
    assert "TODO: Gizmo unknown" in state.note
    temp = guess_role("Temperature", "float", unit="°C", eu_range=(0.0, 200.0))
    assert temp.role == {"role": "analog", "unit": "°C", "low": 0.0, "high": 200.0}


def test_numbered_tags_with_one_role_become_a_glob():
    tags = [guess_role(f"aux_temperature_{i:02}", "float", unit="degC") for i in range(1, 5)]
    tags += [guess_role("aux_temperature_state", "int", values=[6])]
    # the glob would also take aux_temperature_state (another role): all stay explicit
    assert [t.name for t in compact_tags(tags)] == [t.name for t in tags]
    assert [(t.name, t.role) for t in compact_tags(tags[:4])] == [
        ("aux_temperature_*", {"role": "analog", "unit": "degC"})
    ]
    assert [t.name for t in compact_tags(tags[:2])] == ["aux_temperature_01", "aux_temperature_02"]


# -- hierarchy ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("levels", "roles"),
    [
        (["acme", "berlin", "line1"], ["enterprise", "site", "line"]),
        (["Plant", "Hall1", "Line2"], ["site", "area", "line"]),
        (["Werk Hamburg", "Halle2", "Linie3"], ["site", "area", "line"]),
        (
            ["DeviceSet", "acme", "b", "c", "d", "e"],
            [None, "enterprise", "site", "area", "line", "cell"],
        ),
        (["line1", "plant"], ["line", "cell"]),  # a level named out of order is not taken
    ],
)
def test_assign_levels(levels, roles):
    assert assign_levels([[x] for x in levels]) == roles


# -- payloads --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("objects", "shape"),
    [
        (
            [{"value": 1, "timestamp": "2026-03-02T10:00:00Z", "quality": "good"}],
            ("value", "timestamp", "iso", "quality", None),
        ),
        (
            [{"timestamp_ms": MS, "temperature": 21.5, "unit": "degC"}],
            (None, "timestamp_ms", "epoch_ms", None, "unit"),
        ),
        ([{"ts": MS // 1000, "val": 3}], ("val", "ts", "epoch_s", None, None)),
        (
            [{"at": "2026-03-02T10:00:00+01:00", "speed": 3}],
            (None, "at", "iso", None, None),
        ),  # ISO by content
        ([{"value": 3}], ("value", None, "iso", None, None)),
    ],
)
def test_payload_shape(objects, shape):
    s = payload_shape(objects)
    assert (s.value, s.timestamp, s.timestamp_format, s.quality, s.unit) == shape


def test_payload_shape_flags_timestamps_it_cannot_read():
    assert "finer than milliseconds" in payload_shape([{"ts": MS * 1000, "value": 1}]).note
    assert "no timestamp" in payload_shape([{"value": 1}]).note
    assert payload_shape([]) is None


@pytest.mark.parametrize(
    "text", ["yes", "No", "1", "1.5", "a: b", "°C", "{tag}", "x # y", "null", "", "-", 'q"uote']
)
def test_yaml_scalars_read_back_as_written(text):
    assert yaml.safe_load(f"k: {_y(text)}") == {"k": text}
    assert yaml.safe_load(f"k: {_y({text or 'e': [text, 1.5, None, True]})}") == {
        "k": {text or "e": [text, 1.5, None, True]}
    }


# -- OPC UA drafts --------------------------------------------------------------------------------------
def _scan() -> OpcUaScan:
    def var(node, path, dtype, value, **kw):
        return OpcUaVariable(node, URI, path, dtype, value=value, **kw)

    variables = [
        var(
            "ns=3;s=Hall1.Line2.Press7.MachineState",
            "Plant/Hall1/Line2/Press7/MachineState",
            "Int32",
            6,
        ),
        var(
            "ns=3;s=Hall1.Line2.Press7.Temperature",
            "Plant/Hall1/Line2/Press7/Temperature",
            "Double",
            40.2,
            unit="°C",
            eu_range=(0.0, 200.0),
        ),
        var(
            "ns=3;s=Hall1.Line2.Press7.PartsGood",
            "Plant/Hall1/Line2/Press7/PartsGood",
            "UInt32",
            10,
        ),
        var(
            "ns=3;s=Hall1.Line2.Press7.SerialNo",
            "Plant/Hall1/Line2/Press7/SerialNo",
            "String",
            "X1",
        ),
        var("ns=3;i=1001", "Plant/Hall1/Line2/Mill.3/Running", "Boolean", True),
        var("ns=3;i=1002", "Plant/Hall1/Line2/Mill.3/EnergyKWh", "Double", 1.5),
        var("ns=3;i=1003", "Plant/Hall1/Line2/Mill.3/Spindle/Speed", "Float", 1200.0, unit="rpm"),
        var("ns=3;i=1004", "Plant/Hall1/Line2/Mill.3/Spindle/Load", "Float", 12.0, unit="%"),
        var("ns=3;i=1005", "Plant/Hall1/Line2/Mill.3/Spindle/Load/Setpoint", "Float", 15.0),
        var("ns=3;i=1006", "Plant/Hall1/Line2/Mill.3/Spindle/Warning", "Boolean", False),
        var("ns=3;i=1100", "Plant/Hall1/Line2/Mill.3/Axis/Temp_01", "Double", 30.0),
        var("ns=3;i=1101", "Plant/Hall1/Line2/Mill.3/Axis/Temp_02", "Double", 30.0),
        var("ns=3;i=1102", "Plant/Hall1/Line2/Mill.3/Axis/Temp_03", "Double", 30.0),
        var("ns=2;s=Info.Firmware", "Info/Firmware", "String", "2.4.1"),
    ]
    variables[-1].namespace_uri = "urn:other"
    return OpcUaScan(
        "opc.tcp://plc:4840",
        ["0:Objects"],
        ["http://opcfoundation.org/UA/", "x", "urn:other", URI],
        variables,
    )


def test_opcua_draft_is_valid_as_written_and_checks():
    scan = _scan()
    draft = draft_from_opcua(scan, enterprise="acme")
    text = render_draft(draft)
    model = _model(text)
    assert [e.equipment_id for e in model.equipment()] == [
        "acme.Plant.Hall1.Line2.Mill_3.Mill_3",
        "acme.Plant.Hall1.Line2.Mill_3.Axis",
        "acme.Plant.Hall1.Line2.Mill_3.Spindle",
        "acme.Plant.Hall1.Line2.Press7.Press7",
    ]  # Plant = site, Hall = area, Line = line by name; the machine's sub-objects are its cell
    assert "TODO: 'Mill.3' is not a valid name" in text
    rules = {r.label: r for r in model.signals}
    # node ids that end in the tag name make a node template; numeric ids a browse path
    assert (
        rules["Plant/Hall1/Line2/Press7"].opcua.node.text
        == f"nsu={URI};s=Hall1.Line2.Press7.{{tag}}"
    )
    assert (
        rules["Plant/Hall1/Line2/Mill.3/Spindle"].opcua.browse_path.text
        == "Plant/Hall1/Line2/Mill.3/Spindle/{tag:.+}"
    )
    assert _roles(rules["Plant/Hall1/Line2/Mill.3/Spindle"]) == {
        "Speed": {"role": "analog", "unit": "rpm"},
        "Load": {"role": "analog", "unit": "%"},
        "Load/Setpoint": {"role": "analog"},  # a variable below a variable: a tag of its object
    }
    assert _roles(rules["Plant/Hall1/Line2/Mill.3/Axis"]) == {"Temp_*": {"role": "analog"}}
    assert _roles(rules["Plant/Hall1/Line2/Mill.3"]) == {
        "Running": {"role": "state", "values": "running_bool"},
        "EnergyKWh": {"role": "energy_counter"},
    }
    # deeper browse paths first: the first matching rule wins
    assert [r.label for r in model.signals].index("Plant/Hall1/Line2/Mill.3/Spindle") < [
        r.label for r in model.signals
    ].index("Plant/Hall1/Line2/Mill.3")
    assert "# left out: Warning (Boolean): a flag without a role" in text
    assert "#   Info: no variable with a role (Firmware)" in text
    assert "kind: press  # guess: from the name 'Press7'" in text
    assert "# TODO: ideal_cycle_s" in text  # the press counts parts

    report = check_model(model, opcua=[scan])
    assert report.ok
    assert {r.label: r.addresses for r in report.rules} == {
        "Plant/Hall1/Line2/Press7": 4,
        "Plant/Hall1/Line2/Mill.3/Spindle": 4,
        "Plant/Hall1/Line2/Mill.3/Axis": 3,
        "Plant/Hall1/Line2/Mill.3": 2,
    }
    assert report.unmatched == {"opcua": ["nsu=urn:other;s=Info.Firmware @ Info/Firmware"]}
    assert sorted(t for r in report.rules for t in r.tags_without_role) == ["SerialNo", "Warning"]
    assert all(not r.problems for r in report.rules)


# -- MQTT drafts ------------------------------------------------------------------------------------------
def _capture() -> MqttCapture:
    c = MqttCapture("127.0.0.1:1883")
    for eq, state in (("press01", "running"), ("cnc02", "unplanned_stop")):
        base = f"acme/berlin/machining/line1/cell1/{eq}"
        c.add(
            f"{base}/temperature_c",
            json.dumps(
                {"value": 41.5, "timestamp": "2026-03-02T10:00:00Z", "quality": "good"}
            ).encode(),
        )
        c.add(
            f"{base}/state",
            json.dumps(
                {"value": state, "timestamp": "2026-03-02T10:00:00Z", "quality": "good"}
            ).encode(),
        )
        c.add(
            f"{base}/parts_total",
            json.dumps(
                {"value": 12, "timestamp": "2026-03-02T10:00:00Z", "quality": "good"}
            ).encode(),
        )
    c.add(
        "meters/berlin/hall_a/em01",
        json.dumps({"ts": MS // 1000, "energy_kwh": 1.5, "power_kw": 3.0}).encode(),
    )
    c.add(
        "meters/berlin/hall_a/em02",
        json.dumps({"ts": MS // 1000, "energy_kwh": 2.5, "power_kw": 4.0}).encode(),
    )
    c.add("raw/number", b"42")
    c.add("$SYS/broker/uptime", b"1")
    nbirth = NBirth(timestamp=MS, seq=0, metrics=(Metric(MS, "bdSeq", DataType.INT64, value=0),))
    c.add("spBv1.0/berlin/NBIRTH/line1", nbirth.encode())
    dbirth = DBirth(
        timestamp=MS,
        seq=1,
        metrics=(
            Metric(MS, "vibration_mm_s", DataType.DOUBLE, value=2.0, alias=1),
            Metric(MS, "state", DataType.STRING, value="running", alias=2),
            Metric(MS, "Device Control/Rebirth", DataType.BOOLEAN, value=False, alias=3),
        ),
    )
    c.add("spBv1.0/berlin/DBIRTH/line1/press01", dbirth.encode())
    return c


def test_mqtt_draft_groups_topics_and_reads_births():
    capture = _capture()
    draft = draft_from_mqtt(capture)
    text = render_draft(draft)
    model = _model(text)
    rules = {r.label: r for r in model.signals}
    uns = rules["acme/{site}/{area}/{line}/{cell}/{equipment}/{tag}"]
    assert uns.mqtt.model_dump(mode="json", exclude_none=True) == {
        "topic": "acme/{site}/{area}/{line}/{cell}/{equipment}/{tag}",
        "value": "value",
        "timestamp": "timestamp",
        "timestamp_format": "iso",
        "quality": "quality",
    }
    assert {k: t.text for k, t in uns.selector().items()} == {
        "site": "{site}",
        "area": "{area}",
        "line": "{line}",
        "cell": "{cell}",
        "name": "{equipment}",
    }
    assert _roles(uns) == {
        "parts_total": {"role": "counter_total"},
        "state": {"role": "state", "values": "plantlake"},
        "temperature_c": {"role": "analog", "unit": "degC"},
    }
    meters = rules["meters/{site}/{area}/{equipment}"]  # hall_a is an area by its name
    assert (meters.mqtt.fields, meters.mqtt.timestamp, meters.mqtt.timestamp_format) == (
        "all",
        "ts",
        "epoch_s",
    )
    assert _roles(meters) == {
        "energy_kwh": {"role": "energy_counter"},
        "power_kw": {"role": "power"},
    }
    press = rules["berlin/line1/press01"]
    assert press.equipment.text == "acme.berlin.machining.line1.cell1.press01"  # the UNS's press01
    assert _roles(press) == {
        "state": {"role": "state", "values": "plantlake"},
        "vibration_mm_s": {"role": "analog", "unit": "mm/s"},
    }  # bdSeq and control metrics are not tags
    assert sorted(e.equipment_id for e in model.equipment()) == [
        "acme.berlin.hall_a.line1.em01.em01",
        "acme.berlin.hall_a.line1.em02.em02",
        "acme.berlin.machining.line1.cell1.cnc02",
        "acme.berlin.machining.line1.cell1.press01",
    ]
    assert "TODO: the source has no line level: name the line" in text
    assert "kind: energy_meter  # guess: energy and power only" in text
    assert "#   raw/number: payload is not a JSON object (b'42')" in text
    assert "$SYS" not in text

    report = check_model(model, mqtt=capture)
    assert report.ok
    assert {r.label: (r.addresses, r.values) for r in report.rules} == {
        uns.label: (6, 6),
        meters.label: (2, 4),
        press.label: (2, 2),
    }
    assert report.unmatched == {"uns": ["raw/number"]}
    assert report.rules[0].problems == {}


def test_umh_topics_keep_their_levels():
    c = MqttCapture("b")
    for cell in ("press1", "press2"):
        c.add(
            f"umh/v1/acme/hamburg/stamping/line3/{cell}/_historian/temperature",
            json.dumps({"timestamp_ms": MS, "value": 41.5}).encode(),
        )
        c.add(
            f"umh/v1/acme/hamburg/stamping/line3/{cell}/_historian/axis/x_pos",
            json.dumps({"timestamp_ms": MS, "value": 1.5}).encode(),
        )
    c.add(
        "umh/v1/acme/hamburg/stamping/line3/_historian/power_kw",
        json.dumps({"timestamp_ms": MS, "value": 7.5}).encode(),
    )
    model = _model(render_draft(draft_from_mqtt(c)))
    assert sorted((r.mqtt.topic.text, r.tag_template().text) for r in model.signals) == [
        ("umh/v1/acme/{site}/{area}/{line}/_historian/{tag}", "{tag}"),  # the line is the equipment
        ("umh/v1/acme/{site}/{area}/{line}/{equipment}/_historian/{tag:[^/]+/[^/]+}", "{tag}"),
        ("umh/v1/acme/{site}/{area}/{line}/{equipment}/_historian/{tag}", "{tag}"),
    ]
    tags = {t for r in model.signals for t in r.tags}
    assert tags == {"temperature", "axis/x_pos", "power_kw"}
    assert sorted(e.equipment_id for e in model.equipment()) == [
        "acme.hamburg.stamping.line3.line3.line3",
        "acme.hamburg.stamping.line3.press1.press1",
        "acme.hamburg.stamping.line3.press2.press2",
    ]
    assert check_model(model, mqtt=c).ok


# -- the check ------------------------------------------------------------------------------------------
MODEL = """
enterprise: acme
sites:
  - name: berlin
    timezone: Europe/Berlin
    areas:
      - name: machining
        lines:
          - name: line1
            cells:
              - name: cell1
                equipment: [{name: press01}, {name: cnc02}]
signals:
  - name: state by code
    opcua: {node: "nsu=urn:vendor:line;s=press01.{tag}"}
    equipment: acme.berlin.machining.line1.cell1.press01
    tags: {State: {role: state, values: {"1": running, "2": idle}}, Count: counter_total}
  - name: too late
    opcua: {browse_path: "line1/{machine}/{tag}"}
    equipment: acme.berlin.machining.line1.cell1.press01
    tags: {"*": analog}
  - name: unknown machine
    mqtt: {topic: "acme/{equipment}/{tag}"}
    equipment: {name: "{equipment}"}
    tags: {"*": analog}
  - name: sparkplug node
    sparkplug: {group: berlin, edge_node: "{line}", metric: "{tag}"}
    equipment: {line: "{line}", name: press01}
    tags: {energy_kwh: energy_counter}
"""


def test_check_reports_what_does_not_fit():
    model = _model(MODEL)
    scan = OpcUaScan(
        "opc.tcp://plc:4840",
        ["0:Objects"],
        variables=[
            OpcUaVariable("ns=3;s=press01.State", URI, "line1/press01/State", "Int32", value=7),
            OpcUaVariable(
                "ns=3;s=press01.Count", URI, "line1/press01/Count", "String", value="many"
            ),
            OpcUaVariable("ns=3;s=press01.Mode", URI, "line1/press01/Mode", "Int32", value=1),
            OpcUaVariable("ns=3;s=other.Temp", URI, "line1/other/Temp", "Double", value=1.0),
        ],
    )
    capture = MqttCapture("b")
    capture.add("acme/robot9/temp", json.dumps({"value": 1.0, "timestamp": MS}).encode())
    report = check_model(model, opcua=[scan], mqtt=capture)
    first, late, uns, spb = report.rules
    assert (first.addresses, first.tags) == (
        3,
        {"State": "state", "Count": "counter_total", "Mode": ""},
    )
    assert list(first.problems) == [
        "State: state values 7 are not in its value map",
        "Count: counter_total on text values (e.g. 'many')",
    ]
    assert (late.addresses, late.shadowed, late.problems) == (1, 3, {})  # other/Temp is left
    assert list(uns.problems) == [
        "acme/robot9/temp: timestamp 'timestamp' is a number: set timestamp_format to epoch_s or epoch_ms",
        'equipment {"name": "robot9"} is not declared in the model (unless the MES declares it)',
    ]
    assert (spb.checked, spb.matches_nothing) == (True, True)  # MQTT was read: nothing matched
    assert list(spb.problems) == [
        "no Sparkplug B birth seen: ask for births (--rebirth) or listen longer"
    ]
    assert not report.ok
    assert report.unmatched == {}


def test_check_matches_addresses_as_silver_does():
    """The check's matching and silver's compiled regexes agree on every address."""
    from transforms.silver.signals import SEP, compile_rules

    model = _model(MODEL)
    compiled = compile_rules(model)
    nodes = [
        "nsu=urn:vendor:line;s=press01.State",
        "nsu=urn:vendor:line;s=press01.a.b",
        "nsu=urn:x;s=press01.State",
    ]
    paths = ["line1/press01/Temp", "line1/press01/a/b", "line2/press01/Temp"]
    for r in compiled.of("opcua"):
        rule = r.rule
        for node, path in zip(nodes, paths, strict=True):
            v = OpcUaVariable(
                re.sub("^nsu=[^;]+", "ns=3", node), node.split(";")[0][4:], path, "Double"
            )
            address = node if r.address == "_node" else path
            assert (re.match(r.regex, address) is not None) == (
                _opcua_match(rule, v, "opc.tcp://plc") is not None
            )
    keys = [("berlin", "line1", None), ("berlin", "line1", "press01"), ("munich", "line1", None)]
    metrics = ["energy_kwh", "Node/a/b", "x"]
    for r in compiled.of("sparkplug"):
        for key in keys:
            for metric in metrics:
                address = SEP.join([key[0], key[1], key[2] or "", metric])
                assert (re.match(r.regex, address) is not None) == (
                    _sparkplug_match(r.rule, key, metric) is not None
                )
    for r in compiled.of("uns"):
        for topic in ("acme/robot9/temp", "acme/a/b/c", "acme/x"):
            assert (re.match(r.regex, topic) is not None) == (
                r.rule.mqtt.topic.match(topic, SEGMENT) is not None
            )


def test_model_sub_command_is_registered():
    found = {ep.name: ep.value for ep in entry_points(group="plantlake.cli")}
    assert found.get("model") == "ingestion.model_cli:app"


@pytest.mark.parametrize(
    ("name", "unit", "role", "note"),
    [
        ("power", "kW", {"role": "power"}, "the source says kW"),
        ("power", "W", {"role": "power", "source_unit": "W"}, "silver converts it to kW"),
        (
            "power",
            "hp",
            {"role": "power"},
            "TODO: the source says hp; silver stores kW and cannot convert hp",
        ),
        (
            "energy",
            "MWh",
            {"role": "energy_counter", "source_unit": "MWh"},
            "silver converts it to kWh",
        ),
        (
            "energy",
            None,
            {"role": "energy_counter"},
            "assumed kWh: set source_unit (MWh, Wh) if it is not",
        ),
    ],
)
def test_power_and_energy_units(name, unit, role, note):
    guess = guess_role(name, "float", unit=unit)
    assert guess.role == role
    assert guess.note.endswith(note)


def test_cli_stops_with_a_message_when_the_source_is_unreachable():
    from typer.testing import CliRunner

    from ingestion.model_cli import app
    from lakehouse.services.ports import free_port

    runner = CliRunner()
    result = runner.invoke(app, ["discover", "mqtt", f"127.0.0.1:{free_port()}", "--seconds", "1"])
    assert result.exit_code == 2
    assert "cannot reach the MQTT broker" in result.output
    result = runner.invoke(
        app, ["discover", "mqtt", "127.0.0.1:1", "--password-env", "PLANTLAKE_TEST_UNSET_PASSWORD"]
    )
    assert result.exit_code == 2
    assert "PLANTLAKE_TEST_UNSET_PASSWORD (--password-env) is not set" in result.output


def test_capture_lists_the_members_of_a_template_instance_as_metrics():
    """An Ignition-style UDT instance (Template, datatype 19) in a birth, encoded with the
    protobuf classes generated from Tahu's sparkplug_b.proto: its members are signals too."""
    from pysparkplug._protobuf import Payload

    birth = Payload(timestamp=1772344800000, seq=0)
    birth.metrics.add(name="bdSeq", datatype=DataType.INT64.value, long_value=0)
    motor = birth.metrics.add(name="motor1", datatype=DataType.TEMPLATE.value)
    motor.template_value.template_ref = "Motor"
    motor.template_value.is_definition = False
    motor.template_value.metrics.add(name="speed_rpm", datatype=10, double_value=1480.0)
    capture = MqttCapture("b")
    capture.add("spBv1.0/plant/NBIRTH/edge1", birth.SerializeToString())
    seen = capture.sparkplug[("plant", "edge1", None)]
    assert seen["motor1/speed_rpm"].datatype == "DOUBLE"
    assert seen["motor1/speed_rpm"].values == [1480.0]
