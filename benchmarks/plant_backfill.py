"""Benchmark: how fast the simulated plant generates history, and its OPC UA server's update rate.

Prints (1) readings per second of a 7-day backfill of the whole plant (goal: >= 1,000,000/s),
beside a naive per-reading Python loop measured in the same run, and (2) the OPC UA server's
sustained value updates per second with every tag written at 1 Hz for 20 s (goal: >= 1,000 tags
at 1 Hz), beside one-at-a-time `write_value` calls on the same nodes.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime

from asyncua import ua

from lakehouse.services.ports import free_port
from plant.backfill import backfill
from plant.config import load_plant_config
from plant.servers.opcua import PlantOpcUaServer
from plant.simulation import Simulation

START = datetime(2026, 3, 2, tzinfo=UTC)


def naive_rate(n: int = 200_000) -> float:
    """Readings/s of a plain Python loop that builds each payload with json.dumps."""
    began = time.perf_counter()
    out = []
    for i in range(n):
        ts = datetime.fromtimestamp(1772409600 + i, UTC)
        payload = json.dumps(
            {
                "value": round(20 + (i % 97) * 0.1, 4),
                "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "quality": "good",
            }
        )
        out.append((f"acme/berlin/machining/line1/cell1/cnc01/t{i % 40}", payload.encode()))
    return n / (time.perf_counter() - began)


async def opcua_rate(seconds: float = 20.0) -> tuple[int, float, float, float]:
    config = load_plant_config()
    server = await PlantOpcUaServer(config, free_port()).start()
    sim = Simulation(config, 1, START.replace(hour=8), horizon_days=0.1)
    try:
        written, write_s = 0, []
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            tick_began = time.perf_counter()
            sim.advance(1)
            snapshot = sim.snapshot()
            w0 = time.perf_counter()
            written += await server.write(snapshot)
            write_s.append(time.perf_counter() - w0)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - tick_began)))
        rate = written / (time.perf_counter() - began)
        write_s.sort()
        median_write = write_s[len(write_s) // 2]
        # baseline: the client-facing node API, one value at a time, for 2 s
        nodes = [
            server.server.get_node(node_id)
            for node_id, variant in server.nodes.values()
            if variant == ua.VariantType.Double
        ]
        began, n = time.perf_counter(), 0
        while time.perf_counter() - began < 2.0:
            await nodes[n % len(nodes)].write_value(ua.Variant(float(n), ua.VariantType.Double))
            n += 1
        baseline = n / (time.perf_counter() - began)
        return len(server.nodes), rate, median_write, baseline
    finally:
        await server.stop()


def main() -> None:
    config = load_plant_config()
    with tempfile.TemporaryDirectory() as out:
        summary = backfill(config, 1, 7, out, START)
    naive = naive_rate()
    print(
        f"backfill, 7 days, whole plant ({config.tag_count} tags): {summary.readings:,} readings in {summary.seconds:.1f} s"
    )
    print(
        f"  {summary.readings_per_s:,.0f} readings/s (goal 1,000,000); naive Python loop {naive:,.0f}/s; ratio {summary.readings_per_s / naive:.1f}x"
    )
    print(f"  ground truth: {summary.oee}")
    tags, rate, median_write, baseline = asyncio.run(opcua_rate())
    capacity = tags / median_write
    print(
        f"OPC UA server: {tags} tags written every second for 20 s: sustained {rate:,.0f} values/s (goal >= 1,000)"
    )
    print(
        f"  one tick writes all {tags} values in {median_write * 1000:.1f} ms (median): capacity {capacity:,.0f} values/s; "
        f"node write_value one at a time {baseline:,.0f}/s; ratio {capacity / baseline:.2f}x"
    )


if __name__ == "__main__":
    main()
