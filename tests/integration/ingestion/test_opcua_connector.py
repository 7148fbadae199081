"""The OPC UA connector against real asyncua servers on loopback ports: our tiny plant, and an
address space unlike ours (names with `/` and `&`, a namespace named by URI, structures, NaN)."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from asyncua import Server, ua

from ingestion.health import SourceState
from ingestion.landing import LandingZone
from ingestion.opcua.connector import (
    GAP_STATUS,
    AddressSpaceError,
    OpcUaConnector,
    OpcUaSourceConfig,
)

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TinyPlant:
    """A 2-machine OPC UA server: Objects/acme/berlin/line1/<machine>/<tag>."""

    def __init__(self, port: int):
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/plantlake/"
        self.server: Server | None = None
        self.vars: dict[str, object] = {}
        self.tick = 0

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await server.register_namespace("urn:plantlake:test")
        parent = server.nodes.objects
        for level in ("acme", "berlin", "line1"):
            parent = await parent.add_object(ua.NodeId(f"{level}", ns), f"{ns}:{level}")
        for machine in ("cnc01", "press01"):
            obj = await parent.add_object(ua.NodeId(f"line1.{machine}", ns), f"{ns}:{machine}")
            for tag, value, vtype in (
                ("temperature_c", 20.0, ua.VariantType.Double),
                ("parts_total", 0, ua.VariantType.Int64),
            ):
                var = await obj.add_variable(
                    ua.NodeId(f"{machine}.{tag}", ns), f"{ns}:{tag}", ua.Variant(value, vtype)
                )
                await var.add_property(ns, "Note", "a property, not data")
                self.vars[f"{machine}.{tag}"] = var
        await server.start()
        self.server = server

    async def write_all(self, status=ua.StatusCodes.Good) -> None:
        self.tick += 1
        ts = datetime.now(UTC)
        for key, var in self.vars.items():
            value = (
                ua.Variant(20.0 + self.tick, ua.VariantType.Double)
                if key.endswith("temperature_c")
                else ua.Variant(self.tick, ua.VariantType.Int64)
            )
            await var.write_value(
                ua.DataValue(value, ua.StatusCode(status), SourceTimestamp=ts, ServerTimestamp=ts)
            )

    async def stop(self) -> None:
        await self.server.stop()


def landed(zone: LandingZone) -> list[dict]:
    files = zone.files()
    return pa.concat_tables([pq.read_table(f) for f in files]).to_pylist() if files else []


async def wait_until(predicate, what: str, timeout_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


async def write_and_wait(connector: OpcUaConnector, plant: TinyPlant, status=ua.StatusCodes.Good):
    """One write of every variable, and its arrival at each monitored one."""
    before = connector.stats.received
    await plant.write_all(status)
    s = connector.stats
    await wait_until(lambda: s.received >= before + s.monitored, "the write arrived")


async def run_for(connector: OpcUaConnector, plant: TinyPlant, writes: int, during=None) -> None:
    """Subscribe, take the first values and `writes` writes, then `during`, then stop."""
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(stop))
    s = connector.stats
    await wait_until(lambda: 0 < s.monitored <= s.subscribed, "the connector subscribed", 30)
    await wait_until(lambda: s.received >= s.monitored, "the first values arrived")
    for _ in range(writes):
        await write_and_wait(connector, plant)
    if during is not None:
        await during()
    await wait_until(lambda: s.landed == s.received, "everything received is landed")
    stop.set()
    await asyncio.wait_for(task, 20)


def config(plant: TinyPlant, **kw) -> OpcUaSourceConfig:
    return OpcUaSourceConfig(
        name="opcua-test",
        endpoint=plant.endpoint,
        root=["0:Objects", "2:acme"],
        sampling_interval_ms=100,
        publishing_interval_ms=100,
        flush_interval_s=0.2,
        reconnect_max_delay_s=2,
        **kw,
    )


def test_browses_subscribes_and_lands_values_with_timestamps_and_status(tmp_path):
    async def scenario():
        plant = TinyPlant(free_port())
        await plant.start()
        try:
            zone = LandingZone(tmp_path)
            connector = OpcUaConnector(config(plant, exclude=[".*/press01/.*"]), zone)
            await run_for(
                connector,
                plant,
                6,
                during=lambda: write_and_wait(connector, plant, ua.StatusCodes.BadSensorFailure),
            )
            return connector, landed(zone)
        finally:
            await plant.stop()

    connector, rows = asyncio.run(scenario())
    assert connector.stats.monitored == 2  # press01 excluded, properties skipped
    paths = {dict(r["attributes"])["browse_path"] for r in rows}
    assert paths == {"berlin/line1/cnc01/temperature_c", "berlin/line1/cnc01/parts_total"}
    assert len(rows) >= 10 and connector.stats.landed == len(rows) == connector.stats.received
    assert len({r["record_id"] for r in rows}) == len(rows)
    temps = [
        r
        for r in rows
        if r["address"].endswith("cnc01.temperature_c")
        and dict(r["attributes"])["status_code"] == "0"
    ]
    attrs = dict(temps[-1]["attributes"])
    assert (
        attrs["variant_type"] == "Double"
        and attrs["status_name"] == "Good"
        and attrs["status_code"] == "0"
    )
    assert (
        temps[-1]["source_timestamp"] is not None
        and temps[-1]["received_at"] >= temps[-1]["source_timestamp"]
    )
    bad = [dict(r["attributes"]) for r in rows if dict(r["attributes"])["status_code"] != "0"]
    assert {b["status_name"] for b in bad} == {"BadSensorFailure"} and len(
        bad
    ) == 2  # kept, flagged
    counts = [
        int(r["payload"])
        for r in rows
        if r["address"].endswith("cnc01.parts_total") and r["payload"] != b"null"
    ]
    assert counts == sorted(counts) and len(counts) >= 5


def test_server_restart_is_recorded_as_a_gap_and_the_connector_resubscribes(tmp_path):
    async def scenario():
        plant = TinyPlant(free_port())
        await plant.start()
        zone = LandingZone(tmp_path)
        connector = OpcUaConnector(config(plant, include=[".*/cnc01/.*"]), zone)

        async def restart_and_write():
            await plant.stop()  # down until the connector has seen it and landed the gap
            await wait_until(lambda: connector.stats.gaps > 0, "the connector saw the outage")
            assert connector.stats.state == SourceState.RECONNECTING
            await plant.start()
            for _ in range(
                240
            ):  # up to 60 s to re-subscribe on a loaded machine (seconds when idle)
                await plant.write_all()
                await asyncio.sleep(0.25)
                if values_after_the_gap():
                    break
            assert connector.stats.state == SourceState.CONNECTED  # data flows again

        def values_after_the_gap() -> bool:
            """A good value stamped after the gap records (not merely after the test began)."""
            rows = landed(zone)
            gaps = [
                r["source_timestamp"]
                for r in rows
                if dict(r["attributes"])["status_code"] == str(GAP_STATUS)
            ]
            return bool(gaps) and any(
                dict(r["attributes"])["status_code"] == "0"
                and r["source_timestamp"]
                and r["source_timestamp"] > max(gaps)
                for r in rows
            )

        try:
            await run_for(connector, plant, 3, during=restart_and_write)
        finally:
            await plant.stop()
        return connector, landed(zone)

    connector, rows = asyncio.run(scenario())
    gaps = [r for r in rows if dict(r["attributes"])["status_code"] == str(GAP_STATUS)]
    stats = connector.stats
    assert stats.reconnects >= 1 and stats.errors >= 1 and "lost" in stats.last_error
    assert stats.gaps == len(gaps) and stats.received == stats.accepted == len(rows)
    assert stats.state == SourceState.STOPPED
    assert {r["address"] for r in gaps} >= {
        "ns=2;s=cnc01.temperature_c",
        "ns=2;s=cnc01.parts_total",
    }
    assert dict(gaps[0]["attributes"])["status_name"] == "BadNoCommunication"
    after = [
        r
        for r in rows
        if dict(r["attributes"])["status_code"] == "0"
        and r["source_timestamp"] > max(g["source_timestamp"] for g in gaps)
    ]
    assert after, "values arrive again after the restart"


# -- an address space unlike ours ----------------------------------------------------------------
ODD_URI = "urn:plantlake:test:odd"
RAW_TYPE = 4711  # a structure the client has no definition for


class OddServer:
    """Objects/Werk&Co/Halle 2/Nord/{Temp/Ist, Nicht-Zahl, …} and Axis[6], Axis6, Axis7 below
    Werk&Co, in namespace ODD_URI registered after another one (index 3, not 2)."""

    def __init__(self, port: int):
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/odd/"
        self.server: Server | None = None

    async def start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        await server.register_namespace("urn:plantlake:test:other")
        ns = await server.register_namespace(ODD_URI)
        assert ns == 3
        werk = await server.nodes.objects.add_object(
            ua.NodeId("werk", ns), ua.QualifiedName("Werk&Co", ns)
        )
        halle = await werk.add_object(ua.NodeId("halle", ns), ua.QualifiedName("Halle 2/Nord", ns))
        structure = ua.NodeId(ua.ObjectIds.Structure)
        for ident, name, variant, datatype in (
            ("temp", "Temp/Ist", ua.Variant(21.5, ua.VariantType.Double), None),
            ("nan", "Nicht-Zahl", ua.Variant(math.nan, ua.VariantType.Double), None),
            ("inf", "Unendlich", ua.Variant(-math.inf, ua.VariantType.Float), None),
            ("label", "Bezeichnung", ua.Variant(ua.LocalizedText("Presse", "de-DE")), None),
            ("range", "Bereich", ua.Variant(ua.Range(0.0, 250.0)), None),
            (
                "unit",
                "Einheit",
                ua.Variant(
                    ua.EUInformation(
                        NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
                        UnitId=4408652,
                        DisplayName=ua.LocalizedText("°C"),
                        Description=ua.LocalizedText("degree Celsius", "en"),
                    )
                ),
                None,
            ),
            (
                "raw",
                "Rezept",
                ua.Variant(ua.ExtensionObject(ua.NodeId(RAW_TYPE, ns), b"\x01\x02\xff")),
                structure,
            ),
            ("matrix", "Matrix", ua.Variant([[1, 2, 3], [4, 5, 6]], ua.VariantType.Int32), None),
        ):
            await halle.add_variable(
                ua.NodeId(ident, ns), ua.QualifiedName(name, ns), variant, datatype=datatype
            )
        for axis in ("Axis[6]", "Axis6", "Axis7"):
            obj = await werk.add_object(ua.NodeId(axis, ns), ua.QualifiedName(axis, ns))
            await obj.add_variable(
                ua.NodeId(f"{axis}.pos", ns), ua.QualifiedName("pos", ns), ua.Variant(1.0)
            )
        await server.start()
        self.server = server

    async def stop(self) -> None:
        await self.server.stop()


@pytest.fixture(scope="module")
def odd_server():
    """One OddServer for the module, served by its own event loop on a thread (the tests' own
    loops only run clients): its start-up is paid once."""
    server = OddServer(free_port())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="odd-opcua-server", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def odd_config(server: OddServer, **kw) -> OpcUaSourceConfig:
    return OpcUaSourceConfig(
        name="odd-opcua",
        endpoint=server.endpoint,
        sampling_interval_ms=50,
        publishing_interval_ms=50,
        flush_interval_s=0.1,
        **{"root": ["0:Objects", f"nsu={ODD_URI};Werk&Co"], **kw},
    )


async def land_first_values(connector: OpcUaConnector) -> None:
    """Run until every monitored variable's first value is landed (servers send it at once)."""
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(stop))
    s = connector.stats
    await wait_until(
        lambda: task.done() or 0 < s.monitored == s.subscribed <= s.landed, "first values landed"
    )
    stop.set()
    await asyncio.wait_for(task, 20)


def strict_json(text: bytes):
    def no_constants(token: str):
        raise AssertionError(f"{token} is not JSON")

    return json.loads(text, parse_constant=no_constants)


def test_an_address_space_unlike_ours_lands_strict_json_with_escaped_browse_paths(
    odd_server, tmp_path
):
    # regular expressions, not globs: `\[6\]` is the literal name Axis[6], `[67]` a class
    include = [r"Halle 2&/Nord/.*", r".*Axis\[6\]/.*", r".*/?Axis[67]/.*"]
    exclude = [r"Axis[6]/.*", f"nsu={ODD_URI};s=temp"]

    async def scenario():
        zone = LandingZone(tmp_path)
        config = odd_config(odd_server, include=include, exclude=exclude)
        connector = OpcUaConnector(config, zone)
        assert await connector.check() == []
        await land_first_values(connector)
        return connector, landed(zone)

    connector, rows = asyncio.run(scenario())
    by_path = {dict(r["attributes"])["browse_path"]: r for r in rows}
    assert set(by_path) == {
        # Temp/Ist is excluded by its node id; Axis6 by the class [6]
        "Halle 2&/Nord/Nicht-Zahl",
        "Halle 2&/Nord/Unendlich",
        "Halle 2&/Nord/Bezeichnung",
        "Halle 2&/Nord/Bereich",
        "Halle 2&/Nord/Einheit",
        "Halle 2&/Nord/Rezept",
        "Halle 2&/Nord/Matrix",
        "Axis[6]/pos",
        "Axis7/pos",
    }
    value = {p: strict_json(r["payload"]) for p, r in by_path.items()}
    assert value["Halle 2&/Nord/Nicht-Zahl"] == "NaN"
    assert value["Halle 2&/Nord/Unendlich"] == "-Infinity"
    assert value["Halle 2&/Nord/Bezeichnung"] == {"Text": "Presse", "Locale": "de-DE"}
    assert value["Halle 2&/Nord/Bereich"] == {"Low": 0.0, "High": 250.0}
    assert value["Halle 2&/Nord/Einheit"] == {
        "NamespaceUri": "http://www.opcfoundation.org/UA/units/un/cefact",
        "UnitId": 4408652,
        "DisplayName": {"Text": "°C", "Locale": None},
        "Description": {"Text": "degree Celsius", "Locale": "en"},
    }
    assert value["Halle 2&/Nord/Rezept"] == {
        "TypeId": f"nsu={ODD_URI};i={RAW_TYPE}",
        "Encoding": 1,
        "Body": "AQL/",  # base64 of 01 02 ff
    }
    assert value["Halle 2&/Nord/Matrix"] == [[1, 2, 3], [4, 5, 6]]
    label = dict(by_path["Halle 2&/Nord/Bezeichnung"]["attributes"])
    assert (label["variant_type"], label["namespace_uri"]) == ("LocalizedText", ODD_URI)
    assert by_path["Axis[6]/pos"]["address"] == "ns=3;s=Axis[6].pos"
    s = connector.stats
    assert (s.monitored, s.received, s.accepted, s.quarantined) == (9, 9, 9, 0)
    assert (s.errors, s.state) == (0, SourceState.STOPPED)


def test_a_root_that_does_not_exist_is_an_error_that_names_the_key_and_the_fix(
    odd_server, tmp_path
):
    zone = LandingZone(tmp_path)

    async def scenario():
        bare = OpcUaConnector(odd_config(odd_server, root=["0:Objects", "Werk&Co"]), zone)
        problems = await bare.check()
        with pytest.raises(AddressSpaceError) as raised:
            await bare.run(asyncio.Event())
        deeper = OpcUaConnector(
            odd_config(odd_server, root=["0:Objects", "3:Werk&Co", "3:Halle 3"]), zone
        )
        return bare, problems, raised.value, await deeper.check()

    connector, problems, error, deeper = asyncio.run(scenario())
    expected = (
        "root[1] 'Werk&Co': no such child of 0:Objects (BadNoMatch); a browse name needs its "
        f"namespace: write 3:Werk&Co or nsu={ODD_URI};Werk&Co"
    )
    assert problems == error.problems == [expected]
    assert connector.stats.state == SourceState.FAILING and connector.stats.errors == 1
    assert expected in connector.stats.last_error and connector.stats.monitored == 0
    assert deeper == [
        "root[2] '3:Halle 3': no such child of 3:Werk&Co (BadNoMatch); its children are: "
        "3:Halle 2/Nord, 3:Axis[6], 3:Axis6, 3:Axis7"
    ]


def test_missing_nodes_are_errors_and_the_others_are_monitored(odd_server, tmp_path):
    nodes = [f"nsu={ODD_URI};s=temp", "ns=3;s=no.such.node", "nsu=urn:nobody;i=1", "ns=3;s=halle"]

    async def scenario():
        zone = LandingZone(tmp_path)
        connector = OpcUaConnector(odd_config(odd_server, nodes=nodes), zone)
        problems = await connector.check()
        await land_first_values(connector)
        none_left = OpcUaConnector(odd_config(odd_server, nodes=nodes[1:2]), zone)
        with pytest.raises(AddressSpaceError):
            await none_left.run(asyncio.Event())
        return connector, problems, landed(zone)

    connector, problems, rows = asyncio.run(scenario())
    assert problems == [
        "nodes[1] 'ns=3;s=no.such.node': the server has no such node (BadNodeIdUnknown); check "
        "the identifier and the namespace (nsu=<URI>;… survives renumbering)",
        "nodes[2] 'nsu=urn:nobody;i=1': the server has no namespace urn:nobody (it has: "
        f"http://opcfoundation.org/UA/, urn:freeopcua:python:server, urn:plantlake:test:other, {ODD_URI})",
        "nodes[3] 'ns=3;s=halle': is an Object, not a Variable",
    ]
    s = connector.stats
    assert (s.monitored, s.subscribed, s.state) == (1, 1, SourceState.STOPPED)
    assert s.errors == 1 and all(p in s.last_error for p in problems)
    assert [(r["address"], dict(r["attributes"])["browse_path"]) for r in rows] == [
        ("ns=3;s=temp", "Temp&/Ist")
    ]


def test_the_service_shows_a_missing_root_in_status_and_check_and_keeps_retrying(
    odd_server, tmp_path, monkeypatch
):
    """The issue's case: a browse name without its namespace. `ingest run --check` exits 1
    naming it; the running service retries, and `ingest status` shows the source failing."""
    import time

    import yaml
    from typer.testing import CliRunner

    from ingestion.config import load_ingestion_config
    from ingestion.service import IngestionService
    from lakehouse.cli import app

    config = tmp_path / "ingestion.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "landing_root": str(tmp_path / "landing"),
                "status_interval_s": 0.2,
                "metrics_port": None,
                "sources": [
                    {
                        "type": "opcua",
                        "name": "werk",
                        "endpoint": odd_server.endpoint,
                        "root": ["0:Objects", "Werk&Co"],
                        "reconnect_max_delay_s": 1,
                    }
                ],
            }
        )
    )
    monkeypatch.setenv("PLANTLAKE_LAKE_ROOT", str(tmp_path / "lake"))
    runner, env = CliRunner(), {"COLUMNS": "250"}
    checked = runner.invoke(app, ["ingest", "run", "-c", str(config), "--check"], env=env)
    assert checked.exit_code == 1 and "root[1] 'Werk&Co': no such child" in checked.output

    service = IngestionService(load_ingestion_config(config), tmp_path / "lake")
    stop = threading.Event()
    thread = threading.Thread(
        target=service.run, args=(stop,), kwargs={"load_bronze": False}, daemon=True
    )
    thread.start()
    stats = service.opcua[0].stats
    deadline = time.monotonic() + 60
    while stats.restarts < 2 and time.monotonic() < deadline:  # retried with backoff
        time.sleep(0.05)
    status_file = tmp_path / "landing" / "_status" / "werk.json"
    while time.monotonic() < deadline and not (
        status_file.exists() and json.loads(status_file.read_text())["restarts"] >= 2
    ):
        time.sleep(0.05)
    status = runner.invoke(app, ["ingest", "status", "-c", str(config)], env=env)
    stop.set()
    thread.join(60)
    print(status.output)  # the closing note quotes it
    assert stats.restarts >= 2 and stats.state == SourceState.STOPPED
    assert status.exit_code == 1, status.output
    assert "failing" in status.output and "no such child of 0:Objects" in status.output
