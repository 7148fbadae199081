"""The live plant: the simulation on an accelerated clock, fanned out to every server.

Each wall-clock second the plant advances `speed` seconds; the readings go to the unified
namespace and the Sparkplug B nodes, the OPC UA server gets every tag's current value, and the
MES/ERP database gets the inserts and updates. The summary counts what each channel sent: what
ingestion must reconcile with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plant.config import PlantConfig
from plant.servers.mqtt_client import BrokerOptions
from plant.simulation import Simulation

log = logging.getLogger(__name__)


@dataclass
class LiveRunSummary:
    plant_seconds: float = 0.0
    wall_seconds: float = 0.0
    uns_messages: int = 0
    sparkplug_messages: int = 0
    opcua_writes: int = 0
    mes_changes: int = 0
    sent_by_tag_kind: dict[str, int] = field(default_factory=dict)


async def run_live(
    config: PlantConfig,
    seed: int,
    speed: float,
    duration_s: float,
    *,
    start: datetime | None = None,
    opcua_port: int | None = None,
    opcua_users: dict[str, str] | None = None,
    pki_dir: Path | None = None,
    mqtt: BrokerOptions | None = None,
    uns: bool = True,
    sparkplug: bool = True,
    postgres_conninfo: str | None = None,
    tick_s: float = 1.0,
    stop: asyncio.Event | None = None,
    servers_ready: Callable[[], Awaitable[None]] | None = None,
    sent_everything: Callable[[LiveRunSummary], Awaitable[None]] | None = None,
) -> LiveRunSummary:
    """Run the plant for `duration_s` of plant time (or until `stop`), `speed` plant seconds per second.

    `servers_ready`, when given, is awaited after the servers are up and before the first tick
    (e.g. until a client has subscribed), so that a consumer sees the run from its start.
    `sent_everything`, when given, is awaited after the last tick, once the MQTT
    sessions have closed (deaths sent) and the MES writes are done, while the OPC UA server is
    still up: a consumer can drain and stop before the server goes away.
    """
    from plant.servers.mes import MesWriter
    from plant.servers.opcua import OpcUaSecurity, PlantOpcUaServer
    from plant.servers.sparkplug import SparkplugPublisher
    from plant.servers.uns import UnsPublisher

    start = start or datetime.now(UTC).replace(microsecond=0)
    sim = Simulation(config, seed, start, horizon_days=duration_s / 86400 + 0.1)
    stop = stop or asyncio.Event()
    summary = LiveRunSummary()
    opc = None
    if opcua_port:
        security = (
            OpcUaSecurity(opcua_users, pki_dir or Path("lake/_pki/plant")) if opcua_users else None
        )
        opc = await PlantOpcUaServer(config, opcua_port, security).start()
    uns_pub = UnsPublisher(mqtt) if mqtt and uns else None
    spb_pub = SparkplugPublisher(config, mqtt) if mqtt and sparkplug else None
    mes = MesWriter(postgres_conninfo) if postgres_conninfo else None
    if mes:
        summary.mes_changes += mes.apply(sim.master_data())
    loop = asyncio.get_running_loop()
    began = time.monotonic()
    try:
        if servers_ready:
            await servers_ready()
        began = time.monotonic()
        while summary.plant_seconds < duration_s and not stop.is_set():
            tick_began = time.monotonic()
            step = min(speed * tick_s, duration_s - summary.plant_seconds)
            readings, changes = sim.advance(step)
            summary.plant_seconds += step
            if opc:
                summary.opcua_writes += await opc.write(sim.snapshot())
            if uns_pub:
                summary.uns_messages += await loop.run_in_executor(None, uns_pub.publish, readings)
            if spb_pub:
                summary.sparkplug_messages += await loop.run_in_executor(
                    None, spb_pub.publish, readings
                )
            if mes and changes:
                summary.mes_changes += await loop.run_in_executor(None, mes.apply, changes)
            for tag in readings["tag"].to_pylist():
                kind = (
                    "counter"
                    if tag.startswith("parts_")
                    else "state"
                    if tag in ("state", "reason_code")
                    else "value"
                )
                summary.sent_by_tag_kind[kind] = summary.sent_by_tag_kind.get(kind, 0) + 1
            lag = tick_s - (time.monotonic() - tick_began)
            if lag > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), lag)
        summary.wall_seconds = time.monotonic() - began
        spb_pub, uns_pub, mes = _close(spb_pub, uns_pub, mes)
        if sent_everything:
            await sent_everything(summary)
    finally:
        summary.wall_seconds = summary.wall_seconds or time.monotonic() - began
        _close(spb_pub, uns_pub, mes)
        if opc:
            await opc.stop()
    return summary


def _close(*channels):
    for channel in channels:
        if channel is not None:
            channel.close()
    return (None,) * len(channels)


def run_until_signalled(**kwargs) -> LiveRunSummary:
    """`run_live` that stops cleanly on SIGINT or SIGTERM."""

    async def main() -> LiveRunSummary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run_live(stop=stop, **kwargs)

    return asyncio.run(main())
