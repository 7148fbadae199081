"""`plantlake model discover` and `check` against a real asyncua server and a real Mosquitto.

The OPC UA fixture is laid out unlike the simulator: its namespace is at index 3, node ids are
numeric and string, levels are named in German (Werk, Halle, Linie), and a second namespace
holds a device-info object with text only.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import paho.mqtt.client as mqtt
import pytest
import yaml
from asyncua import Server, ua
from paho.mqtt.enums import CallbackAPIVersion
from pysparkplug import DataType, DBirth, Metric, NBirth, NData
from typer.testing import CliRunner

from ingestion.discover.check import check_model
from ingestion.discover.draft import draft_from_mqtt, draft_from_opcua, render_draft
from ingestion.discover.mqtt import capture_mqtt
from ingestion.discover.opcua import scan_opcua
from ingestion.model_cli import app
from lakehouse.plant_model.schema import load_plant_model
from lakehouse.services.ports import free_port

pytestmark = pytest.mark.integration

URI = "urn:example:stamping-line"
OTHER = "urn:example:device-info"
MS = 1772445600000  # 2026-03-02T10:00:00Z


class _Loop:
    """An asyncio loop in a thread of its own, so the code under test can run its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _stamping_line(endpoint: str) -> Server:
    server = Server()
    await server.init()
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    other = await server.register_namespace(OTHER)  # index 2: ours is not the first
    ns = await server.register_namespace(URI)  # index 3
    assert (other, ns) == (2, 3)
    objects = server.nodes.objects
    werk = await objects.add_object(ua.NodeId(5000, ns), ua.QualifiedName("Werk Hamburg", ns))
    halle = await werk.add_object(ua.NodeId(5001, ns), ua.QualifiedName("Halle2", ns))
    linie = await halle.add_object(ua.NodeId("Linie3", ns), ua.QualifiedName("Linie3", ns))
    # Presse1: string node ids that end in the browse name
    presse = await linie.add_object(
        ua.NodeId("Linie3.Presse1", ns), ua.QualifiedName("Presse1", ns)
    )
    await presse.add_variable(
        ua.NodeId("Linie3.Presse1.MachineState", ns),
        ua.QualifiedName("MachineState", ns),
        ua.Variant(6, ua.VariantType.Int32),
    )
    temp = await presse.add_variable(
        ua.NodeId("Linie3.Presse1.Temperature", ns),
        ua.QualifiedName("Temperature", ns),
        ua.Variant(41.5, ua.VariantType.Double),
    )
    await temp.add_property(
        0,
        "EngineeringUnits",
        ua.EUInformation(
            NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
            UnitId=4408652,
            DisplayName=ua.LocalizedText("degC"),
        ),
    )
    await temp.add_property(0, "EURange", ua.Range(Low=0.0, High=250.0))
    await presse.add_variable(
        ua.NodeId("Linie3.Presse1.GoodParts", ns),
        ua.QualifiedName("GoodParts", ns),
        ua.Variant(1200, ua.VariantType.UInt32),
    )
    await presse.add_variable(
        ua.NodeId("Linie3.Presse1.SerialNumber", ns),
        ua.QualifiedName("SerialNumber", ns),
        ua.Variant("SN-778", ua.VariantType.String),
    )
    # Roboter2: numeric node ids, so rules go by browse path
    robot = await linie.add_object(ua.NodeId(6000, ns), ua.QualifiedName("Roboter2", ns))
    for i, (name, value, vtype) in enumerate(
        (
            ("Running", True, ua.VariantType.Boolean),
            ("PartCount", 88, ua.VariantType.UInt32),
            ("ScrapCount", 3, ua.VariantType.UInt32),
            ("Power_kW", 4.2, ua.VariantType.Double),
        ),
        start=1,
    ):
        await robot.add_variable(
            ua.NodeId(6000 + i, ns), ua.QualifiedName(name, ns), ua.Variant(value, vtype)
        )
    info = await objects.add_object(
        ua.NodeId("DeviceInfo", other), ua.QualifiedName("DeviceInfo", other)
    )
    await info.add_variable(
        ua.NodeId("DeviceInfo.Firmware", other),
        ua.QualifiedName("Firmware", other),
        ua.Variant("2.4.1", ua.VariantType.String),
    )
    await server.start()
    return server


@pytest.fixture
def stamping_line():
    loop = _Loop()
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/stamping/"
    server = loop.run(_stamping_line(endpoint))
    yield endpoint
    loop.run(server.stop())
    loop.close()


def test_discover_opcua_drafts_a_model_that_checks(stamping_line, tmp_path):
    started = time.monotonic()
    scan = scan_opcua(stamping_line)
    seconds = time.monotonic() - started
    print(f"\ndiscover opcua: {len(scan.variables)} variables in {seconds:.2f} s")
    by_path = {v.browse_path: v for v in scan.variables}
    assert sorted(by_path) == [
        "DeviceInfo/Firmware",
        "Werk Hamburg/Halle2/Linie3/Presse1/GoodParts",
        "Werk Hamburg/Halle2/Linie3/Presse1/MachineState",
        "Werk Hamburg/Halle2/Linie3/Presse1/SerialNumber",
        "Werk Hamburg/Halle2/Linie3/Presse1/Temperature",
        "Werk Hamburg/Halle2/Linie3/Roboter2/PartCount",
        "Werk Hamburg/Halle2/Linie3/Roboter2/Power_kW",
        "Werk Hamburg/Halle2/Linie3/Roboter2/Running",
        "Werk Hamburg/Halle2/Linie3/Roboter2/ScrapCount",
    ]  # the Server object (namespace 0) and the properties are not data
    temp = by_path["Werk Hamburg/Halle2/Linie3/Presse1/Temperature"]
    assert (temp.node, temp.data_type, temp.unit, temp.eu_range, temp.value) == (
        f"nsu={URI};s=Linie3.Presse1.Temperature",
        "Double",
        "degC",
        (0.0, 250.0),
        41.5,
    )
    assert by_path["Werk Hamburg/Halle2/Linie3/Roboter2/PartCount"].node == f"nsu={URI};i=6002"

    draft = draft_from_opcua(scan, timezone="Europe/Berlin")
    text = render_draft(draft)
    model_file = tmp_path / "draft.yaml"
    model_file.write_text(text)
    model = load_plant_model(model_file)  # valid as drafted
    assert (
        [e.equipment_id for e in model.equipment()]
        == [
            "enterprise.Werk Hamburg.Halle2.Linie3.Presse1.Presse1",
            "enterprise.Werk Hamburg.Halle2.Linie3.Roboter2.Roboter2",
        ]
    )  # Werk = site, Halle = area, Linie = line by their names; DeviceInfo has no role: no equipment
    rules = {r.label: r for r in model.signals}
    presse = rules["Werk Hamburg/Halle2/Linie3/Presse1"]
    assert presse.opcua.node.text == f"nsu={URI};s=Linie3.Presse1.{{tag}}"
    assert {k: v.model_dump(mode="json", exclude_none=True) for k, v in presse.tags.items()} == {
        "MachineState": {"role": "state", "values": "packml"},
        "Temperature": {"role": "analog", "unit": "degC", "low": 0.0, "high": 250.0},
        "GoodParts": {"role": "counter_good"},
    }
    robot = rules["Werk Hamburg/Halle2/Linie3/Roboter2"]
    assert robot.opcua.browse_path.text == "Werk Hamburg/Halle2/Linie3/Roboter2/{tag}"
    assert {k: v.model_dump(mode="json", exclude_none=True) for k, v in robot.tags.items()} == {
        "Running": {"role": "state", "values": "running_bool"},
        "PartCount": {"role": "counter_total"},
        "ScrapCount": {"role": "counter_scrap"},
        "Power_kW": {"role": "power"},
    }
    assert "# left out: SerialNumber (String): text without a role" in text
    assert "MachineState: {role: state, values: packml}  # guess: state (Int32); PackML" in text

    # A person confirms the guesses: names the enterprise and gives the press its cycle time.
    confirmed = text.replace("enterprise: enterprise", "enterprise: acme").replace(
        "enterprise.Werk", "acme.Werk"
    )
    confirmed = confirmed.replace(
        "                    # TODO: ideal_cycle_s",
        "                    ideal_cycle_s: 12  # TODO: ideal_cycle_s",
        1,
    )
    confirmed_file = tmp_path / "plant-model.yaml"
    confirmed_file.write_text(confirmed)
    assert load_plant_model(confirmed_file).equipment()[0].spec.ideal_cycle_s == 12

    report = check_model(load_plant_model(confirmed_file), opcua=[scan])
    assert report.ok
    assert {r.label: (r.addresses, r.values, sorted(r.equipment)) for r in report.rules} == {
        "Werk Hamburg/Halle2/Linie3/Presse1": (
            4,
            4,
            ["acme.Werk Hamburg.Halle2.Linie3.Presse1.Presse1"],
        ),
        "Werk Hamburg/Halle2/Linie3/Roboter2": (
            4,
            4,
            ["acme.Werk Hamburg.Halle2.Linie3.Roboter2.Roboter2"],
        ),
    }
    assert [r.problems for r in report.rules] == [{}, {}]
    assert report.rules[0].tags_without_role == ["SerialNumber"]
    assert report.unmatched == {
        "opcua": [f"nsu={OTHER};s=DeviceInfo.Firmware @ DeviceInfo/Firmware"]
    }

    # the same through the CLI: discover to a file, then check -> exit 0
    runner = CliRunner()
    out = tmp_path / "cli-draft.yaml"
    result = runner.invoke(
        app, ["discover", "opcua", stamping_line, "--out", str(out), "--enterprise", "acme"]
    )
    assert result.exit_code == 0, result.output
    assert "9 addresses, 2 equipment, 2 rules" in result.output
    assert load_plant_model(out).enterprise == "acme"
    result = runner.invoke(app, ["check", str(confirmed_file), "--opcua", stamping_line])
    assert result.exit_code == 0, result.output
    assert "every checked rule matches" in result.output

    # a rule that matches nothing fails the check
    broken = confirmed.replace("s=Linie3.Presse1.{tag}", "s=Linie9.Presse1.{tag}")
    (tmp_path / "broken.yaml").write_text(broken)
    result = runner.invoke(app, ["check", str(tmp_path / "broken.yaml"), "--opcua", stamping_line])
    assert result.exit_code == 1, result.output
    assert "1 rule(s) match nothing" in result.output
    (tmp_path / "invalid.yaml").write_text(confirmed.replace("values: packml", "values: pacml"))
    result = runner.invoke(app, ["check", str(tmp_path / "invalid.yaml")])
    assert result.exit_code == 2
    assert "unknown value map 'pacml'" in result.output


# -- MQTT ---------------------------------------------------------------------------------------
def _publisher(broker) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="test-publisher", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(broker.username, broker.password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def _umh_messages() -> list[tuple[str, bytes]]:
    base = "umh/v1/acme/hamburg/stamping/line3/{}/_historian/{}"
    out = []
    for cell, state in (("press1", "running"), ("press2", "Fault")):
        out.append(
            (
                base.format(cell, "temperature"),
                json.dumps({"timestamp_ms": MS, "value": 41.5}).encode(),
            )
        )
        out.append(
            (base.format(cell, "state"), json.dumps({"timestamp_ms": MS, "value": state}).encode())
        )
        out.append(
            (
                base.format(cell, "good_count"),
                json.dumps({"timestamp_ms": MS, "value": 1200}).encode(),
            )
        )
    # a payload with several values and an ISO timestamp
    out.append(
        (
            "umh/v1/acme/hamburg/stamping/line3/meter1/_energy",
            json.dumps(
                {"timestamp": "2026-03-02T10:00:00Z", "energy_kwh": 1523.4, "power_kw": 12.5}
            ).encode(),
        )
    )
    return out


def _births() -> list[tuple[str, bytes]]:
    nbirth = NBirth(
        timestamp=MS,
        seq=0,
        metrics=(
            Metric(MS, "bdSeq", DataType.INT64, value=0),
            Metric(MS, "Node Control/Rebirth", DataType.BOOLEAN, value=False, alias=1),
        ),
    )
    dbirth = DBirth(
        timestamp=MS,
        seq=1,
        metrics=(
            Metric(MS, "vibration_mm_s", DataType.DOUBLE, value=2.1, alias=10),
            Metric(MS, "state", DataType.INT32, value=6, alias=11),
            Metric(MS, "parts_total", DataType.INT64, value=40, alias=12),
        ),
    )
    return [
        ("spBv1.0/hamburg/NBIRTH/line3", nbirth.encode(include_dtypes=True)),
        ("spBv1.0/hamburg/DBIRTH/line3/welder4", dbirth.encode(include_dtypes=True)),
    ]


def _publish(client: mqtt.Client, messages, retain: bool = False) -> None:
    infos = [client.publish(topic, payload, qos=1, retain=retain) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(10)


def test_discover_mqtt_umh_and_sparkplug(broker, tmp_path):
    publisher = _publisher(broker)
    try:
        messages = _umh_messages() + _births()
        _publish(publisher, messages, retain=True)  # retained: every listener sees them at once
        expected = {t for t, _ in messages if not t.startswith("spBv1.0")}
        started = time.monotonic()
        capture = capture_mqtt(
            broker.host,
            broker.port,
            seconds=10,
            username=broker.username,
            password=broker.password,
            enough=lambda c: (
                expected <= set(c.topics) and ("hamburg", "line3", "welder4") in c.births
            ),
        )
        print(f"\ndiscover mqtt: {capture.messages} messages in {time.monotonic() - started:.2f} s")
        draft = draft_from_mqtt(capture, timezone="Europe/Berlin")
        text = render_draft(draft)
        (tmp_path / "draft.yaml").write_text(text)
        model = load_plant_model(tmp_path / "draft.yaml")
        rules = {r.label: r for r in model.signals}
        historian = rules["umh/v1/acme/{site}/{area}/{line}/{equipment}/_historian/{tag}"]
        assert historian.mqtt.model_dump(mode="json", exclude_none=True) == {
            "topic": "umh/v1/acme/{site}/{area}/{line}/{equipment}/_historian/{tag}",
            "value": "value",
            "timestamp": "timestamp_ms",
            "timestamp_format": "epoch_ms",
        }
        assert {
            k: v.model_dump(mode="json", exclude_none=True) for k, v in historian.tags.items()
        } == {
            "good_count": {"role": "counter_good"},
            "state": {"role": "state", "values": {"Fault": "unplanned_stop", "running": "running"}},
            "temperature": {"role": "analog"},
        }
        energy = rules["umh/v1/acme/{site}/{area}/{line}/{equipment}/_energy"]
        assert (energy.mqtt.fields, energy.mqtt.timestamp, energy.mqtt.timestamp_format) == (
            "all",
            "timestamp",
            "iso",
        )
        assert {k: v.role for k, v in energy.tags.items()} == {
            "energy_kwh": "energy_counter",
            "power_kw": "power",
        }
        welder = rules["hamburg/line3/welder4"]
        assert welder.sparkplug.model_dump(mode="json", exclude_none=True) == {
            "group": "hamburg",
            "edge_node": "line3",
            "device": "welder4",
            "metric": "{tag}",
        }
        assert {
            k: v.model_dump(mode="json", exclude_none=True) for k, v in welder.tags.items()
        } == {
            "parts_total": {"role": "counter_total"},
            "state": {"role": "state", "values": "packml"},
            "vibration_mm_s": {"role": "analog", "unit": "mm/s"},
        }
        assert (
            welder.equipment.text == "acme.hamburg.stamping.line3.welder4.welder4"
        )  # UNS gave the area
        assert sorted(e.equipment_id for e in model.equipment()) == [
            "acme.hamburg.stamping.line3.meter1.meter1",
            "acme.hamburg.stamping.line3.press1.press1",
            "acme.hamburg.stamping.line3.press2.press2",
            "acme.hamburg.stamping.line3.welder4.welder4",
        ]
        assert "kind: energy_meter  # guess: from the name 'meter1'" in text

        report = check_model(model, mqtt=capture)
        assert report.ok and report.unmatched == {}
        assert {r.label: (r.addresses, r.values, len(r.equipment)) for r in report.rules} == {
            historian.label: (6, 6, 2),
            energy.label: (1, 2, 1),
            welder.label: (3, 3, 1),
        }
        assert [r.problems for r in report.rules] == [{}, {}, {}]

        # the CLI listens its full window (retained messages arrive at once) and checks the draft
        result = CliRunner().invoke(
            app,
            [
                "check",
                str(tmp_path / "draft.yaml"),
                "--mqtt",
                f"{broker.host}:{broker.port}",
                "--seconds",
                "2",
                "--username",
                broker.username,
                "--password-env",
                "TEST_MQTT_PASSWORD",
            ],
            env={"TEST_MQTT_PASSWORD": broker.password},
        )
        assert result.exit_code == 0, result.output
    finally:
        publisher.disconnect()
        publisher.loop_stop()


def test_discover_mqtt_asks_for_a_rebirth(broker):
    """An edge node heard only by data (aliases, no names) is asked for its birth and answers."""
    edge = _publisher(broker)
    listening = threading.Event()
    edge.on_subscribe = lambda *args: listening.set()

    def rebirth(client, userdata, message) -> None:  # the edge node answers the NCMD with births
        for topic, payload in _births():
            client.publish(topic, payload, qos=1)  # no waiting: this is the client's network thread

    edge.on_message = rebirth
    edge.subscribe("spBv1.0/hamburg/NCMD/line3", qos=1)
    assert listening.wait(10)
    ready = threading.Event()
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(
                capture_mqtt,
                broker.host,
                broker.port,
                120,
                username=broker.username,
                password=broker.password,
                request_rebirth=True,
                ready=ready,
                enough=lambda c: ("hamburg", "line3", "welder4") in c.births,
            )
            assert ready.wait(10)
            data = NData(
                timestamp=MS,
                seq=5,
                metrics=(Metric(MS, None, DataType.DOUBLE, value=2.0, alias=2),),
            )
            _publish(edge, [("spBv1.0/hamburg/NDATA/line3", data.encode())])
            capture = future.result(150)
    finally:
        edge.disconnect()
        edge.loop_stop()
    assert ("hamburg", "line3", None) in capture.sparkplug_without_birth
    assert sorted(capture.sparkplug[("hamburg", "line3", "welder4")]) == [
        "parts_total",
        "state",
        "vibration_mm_s",
    ]
    assert capture.seconds < 120  # it stopped once the birth came, not at the end of the window


# -- the lake's bronze ----------------------------------------------------------------------------
BRONZE_MODEL = """
enterprise: acme
sites:
  - name: hamburg
    timezone: Europe/Berlin
    areas:
      - name: stamping
        lines:
          - name: line3
            cells:
              - name: cell1
                equipment: [{name: press1}, {name: welder4}]
signals:
  - name: press by node id
    opcua: {node: "nsu=urn:example:stamping-line;s=Linie3.Presse1.{tag}"}
    equipment: acme.hamburg.stamping.line3.cell1.press1
    tags: {MachineState: {role: state, values: packml}, Temperature: analog}
  - name: umh historian
    mqtt: {topic: "umh/v1/acme/{site}/{area}/{line}/{equipment}/_historian/{tag}", timestamp: timestamp_ms, timestamp_format: epoch_ms}
    equipment: {site: "{site}", line: "{line}", name: "{equipment}"}
    tags: {state: {role: state, values: {running: running, Fault: unplanned_stop}}, "*": analog}
  - name: welder
    sparkplug: {group: hamburg, edge_node: line3, device: welder4, metric: "{tag}"}
    equipment: acme.hamburg.stamping.line3.cell1.welder4
    tags: {state: {role: state, values: plantlake}, "*": analog}
"""


class _Bronze:
    """The two methods `collect_from_lake` reads a lake by, over bronze frames built in memory
    by the bronze loader's own landing -> bronze functions (no Delta writes: a faster test)."""

    def __init__(self, frames: dict):
        self.frames = frames

    def exists(self, name: str) -> bool:
        return name in self.frames

    def read(self, name: str):
        return self.frames[name]


def test_check_against_the_lakes_bronze(spark, tmp_path):
    """`check --lake` reads the addresses bronze holds, in the forms the live collectors give."""
    from datetime import UTC, datetime

    from pyspark.sql import functions as F

    from ingestion.bronze_loader import (
        landing_to_mqtt_messages,
        landing_to_opcua_values,
        landing_to_sparkplug_messages,
    )
    from ingestion.discover.check import collect_from_lake
    from ingestion.landing import LandingRecord, LandingZone, spark_schema
    from ingestion.mqtt.sparkplug import SparkplugDecoder
    from lakehouse.plant_model.schema import parse_plant_model

    t0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
    endpoint = "opc.tcp://127.0.0.1:4840/stamping/"

    def opcua(node: str, path: str, value: bytes, vtype: str) -> LandingRecord:
        attrs = {
            "endpoint": endpoint,
            "browse_path": path,
            "namespace_uri": URI,
            "variant_type": vtype,
        }
        return LandingRecord(
            "opcua",
            "plc",
            node,
            value,
            t0,
            t0,
            {**attrs, "status_code": "0", "status_name": "Good"},
        )

    records = [
        opcua("ns=3;s=Linie3.Presse1.MachineState", "Linie3/Presse1/MachineState", b"6", "Int32"),
        opcua("ns=3;s=Linie3.Presse1.MachineState", "Linie3/Presse1/MachineState", b"11", "Int32"),
        opcua("ns=3;s=Linie3.Presse1.Temperature", "Linie3/Presse1/Temperature", b"41.5", "Double"),
        opcua("ns=3;i=6001", "Linie3/Roboter2/Running", b"true", "Boolean"),
    ]
    records += [
        LandingRecord("mqtt", "uns", t, p, t0, t0, {"qos": "1"}) for t, p in _umh_messages()[:6]
    ]
    decoder = SparkplugDecoder("spb")
    records += [decoder.handle(t, p, t0).record for t, p in _births()]
    zone = LandingZone(tmp_path / "landing")
    zone.write_batch("all", records)
    landed = spark.read.schema(spark_schema()).parquet(*map(str, zone.files()))
    landed = landed.withColumn("landing_file", F.col("_metadata.file_path"))
    bronze = _Bronze(
        {
            "bronze.opcua_values": landing_to_opcua_values(landed),
            "bronze.mqtt_messages": landing_to_mqtt_messages(landed),
            "bronze.sparkplug_messages": landing_to_sparkplug_messages(landed),
        }
    )

    scans, capture = collect_from_lake(bronze)
    assert [(s.endpoint, len(s.variables)) for s in scans] == [(endpoint, 3)]
    assert sorted(capture.topics) == sorted(t for t, _ in _umh_messages()[:6])
    assert sorted(capture.sparkplug) == [("hamburg", "line3", "welder4")]
    report = check_model(parse_plant_model(yaml.safe_load(BRONZE_MODEL)), opcua=scans, mqtt=capture)
    assert [(r.label, r.addresses) for r in report.rules] == [
        ("press by node id", 2),
        ("umh historian", 6),
        ("welder", 3),
    ]
    assert list(report.rules[2].problems) == ["state: state values 6 are not in its value map"]
    assert report.unmatched == {"opcua": [f"nsu={URI};i=6001 @ Linie3/Roboter2/Running"]}
    assert report.ok


@pytest.fixture
def cli_lake(lake, monkeypatch):
    """The test's lake as the one the CLI opens."""
    from lakehouse.settings import load_settings

    monkeypatch.setattr(
        "lakehouse.settings.get_settings", lambda: load_settings(lake_root=lake.root)
    )
    return lake


def test_cli_check_against_the_lake(cli_lake, spark, tmp_path):
    """`model check --lake` opens the lake of the settings and checks what its bronze holds."""
    from datetime import UTC, datetime

    t0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
    cli_lake.create("bronze.mqtt_messages")
    cli_lake.append(
        "bronze.mqtt_messages",
        spark.createDataFrame(
            [
                (f"r{i}", topic, payload, 1, t0, "uns", t0, t0, "f", "b", t0.date())
                for i, (topic, payload) in enumerate(_umh_messages()[:6])
            ],
            "record_id string, topic string, payload binary, qos int, source_timestamp timestamp, "
            "source string, received_at timestamp, ingested_at timestamp, landing_file string, "
            "batch_id string, event_date date",
        ),
    )
    model_file = tmp_path / "model.yaml"
    model_file.write_text(BRONZE_MODEL)
    result = CliRunner().invoke(app, ["check", str(model_file), "--lake"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output  # no OPC UA or Sparkplug in bronze: not checked
    row = next(line for line in result.output.splitlines() if "umh historian" in line)
    cells = [c.strip() for c in row.split("│")]
    assert cells[4:7] == ["6", "6", "2"]  # addresses, values, equipment
    assert "press2" in cells[8]  # not declared in this model
    assert result.output.count("not checked") == 2


def test_cli_unmapped_lists_what_maps_to_nothing(cli_lake, spark):
    from datetime import UTC, datetime

    today = datetime.now(UTC)
    cli_lake.create("silver.unmapped_addresses")
    cli_lake.append(
        "silver.unmapped_addresses",
        spark.createDataFrame(
            [
                (
                    today.date(),
                    "uns",
                    "acme/x/[y]",
                    "no signal rule matches the address",
                    12,
                    today,
                    today,
                    "1.5",
                    today,
                ),
                (
                    today.date(),
                    "opcua",
                    "nsu=urn:a;i=7 @ A/B",
                    "no readable timestamp",
                    3,
                    today,
                    today,
                    None,
                    today,
                ),
            ],
            "event_date date, source string, address string, reason string, value_count bigint, "
            "first_seen timestamp, last_seen timestamp, example_value string, last_ingested_at timestamp",
        ),
    )
    result = CliRunner().invoke(app, ["unmapped"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "│" in line]
    rows = [[c.strip() for c in line.split("│")][1:-1] for line in lines]  # the header has ┃
    assert [r[:4] for r in rows] == [
        ["uns", "acme/x/[y]", "no signal rule matches the address", "12"],  # markup kept literal
        ["opcua", "nsu=urn:a;i=7 @ A/B", "no readable timestamp", "3"],
    ]  # most values first
