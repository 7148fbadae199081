"""The OPC UA connector against a real asyncua server on a loopback port."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from asyncua import Server, ua

from ingestion.landing import LandingZone
from ingestion.opcua.connector import GAP_STATUS, OpcUaConnector, OpcUaSourceConfig

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


async def run_for(connector: OpcUaConnector, plant: TinyPlant, seconds: float, during=None) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not 0 < connector.stats.monitored <= connector.stats.subscribed:  # connect, browse,
        assert loop.time() < deadline, "the connector did not subscribe"  # subscribe
        await asyncio.sleep(0.1)
    end = loop.time() + seconds
    while loop.time() < end:
        await plant.write_all()
        await asyncio.sleep(0.25)
    if during is not None:
        await during()
    await asyncio.sleep(1.0)
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
            connector = OpcUaConnector(config(plant, exclude=["*/press01/*"]), zone)
            await run_for(
                connector,
                plant,
                2.0,
                during=lambda: plant.write_all(status=ua.StatusCodes.BadSensorFailure),
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
        connector = OpcUaConnector(config(plant, include=["*/cnc01/*"]), zone)

        async def restart_and_write():
            await plant.stop()
            await asyncio.sleep(2.0)
            await plant.start()
            for _ in range(
                240
            ):  # up to 60 s to re-subscribe on a loaded machine (seconds when idle)
                await plant.write_all()
                await asyncio.sleep(0.25)
                if values_after_the_gap():
                    break

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

        restarted_at = datetime.now(UTC)
        try:
            await run_for(connector, plant, 1.5, during=restart_and_write)
        finally:
            await plant.stop()
        return connector, landed(zone), restarted_at

    connector, rows, _ = asyncio.run(scenario())
    gaps = [r for r in rows if dict(r["attributes"])["status_code"] == str(GAP_STATUS)]
    assert connector.stats.reconnects >= 1
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
