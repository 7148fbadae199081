"""The live leg of the demo: the plant's servers, the real connectors, bronze, and a reconciliation.

Mosquitto and PostgreSQL start on free loopback ports; the plant runs on an accelerated clock
with its OPC UA server, unified-namespace and Sparkplug B publishers and MES database; the
ingestion service reads all of it; then the bronze loader runs and every source's rows are
counted against what the plant sent.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingestion.bronze_loader import BronzeLoader
from ingestion.config import parse_ingestion_config
from ingestion.service import IngestionService
from ingestion.sql.extractor import contract_tables
from lakehouse.lake import Lake
from lakehouse.services.mosquitto import start_mosquitto
from lakehouse.services.ports import free_port
from lakehouse.services.postgres import start_postgres
from plant.config import load_plant_config
from plant.run import LiveRunSummary, run_live
from plant.servers.mes import MesWriter
from plant.servers.mqtt_client import BrokerOptions

# The MES/ERP tables the live demo extracts: those the MES contract declares.
MES_TABLES = [t.model_dump() for t in contract_tables()]


@dataclass(frozen=True)
class SourceCount:
    source: str
    sent: int
    accepted: int
    quarantined: int
    in_bronze: int
    note: str


def run_live_demo(
    lake: Lake, *, plant_seconds: float = 3600, speed: float = 60, seed: int = 1
) -> tuple[LiveRunSummary, list[SourceCount]]:
    """Run the live plant through every connector into bronze; returns what reconciles."""
    work = Path(tempfile.mkdtemp(prefix="plantlake-live-"))
    work.chmod(0o755)  # the PostgreSQL server user must reach its folder when we are root
    broker = start_mosquitto(work / "mosquitto", password="plantlake-demo")
    pg = start_postgres(work / "postgres", password="plantlake-demo")
    os.environ["PLANTLAKE_DEMO_MQTT_PASSWORD"] = broker.password
    os.environ["PLANTLAKE_DEMO_PG_PASSWORD"] = pg.password
    opcua_port = free_port()
    config = load_plant_config()
    landing = lake.root / "_landing" / "live"
    shutil.rmtree(landing, ignore_errors=True)
    ingest = parse_ingestion_config(
        {
            "landing_root": str(landing),
            "loader_interval_s": 3600,  # loaded once at the end, to reconcile in one pass
            "metrics_port": 0,  # any free loopback port: a workbench may hold the default
            "sources": [
                {
                    "type": "mqtt",
                    "name": "live-uns",
                    "host": broker.host,
                    "port": broker.port,
                    "client_id": "plantlake-demo-uns",
                    "username": broker.username,
                    "password_env": "PLANTLAKE_DEMO_MQTT_PASSWORD",
                    "topics": ["acme/#"],
                    "sparkplug_host": False,  # live-sparkplug is the Host Application
                },
                {
                    "type": "mqtt",
                    "name": "live-sparkplug",
                    "host": broker.host,
                    "port": broker.port,
                    "client_id": "plantlake-demo-spb",
                    "username": broker.username,
                    "password_env": "PLANTLAKE_DEMO_MQTT_PASSWORD",
                    "topics": ["spBv1.0/#"],
                },
                {
                    "type": "opcua",
                    "name": "live-opcua",
                    "endpoint": f"opc.tcp://127.0.0.1:{opcua_port}/plantlake/",
                    "root": ["0:Objects", "2:acme"],
                    "sampling_interval_ms": 1000,
                    "publishing_interval_ms": 1000,
                    "reconnect_max_delay_s": 2,  # the plant's server comes up a few seconds after us
                },
                {
                    "type": "postgres",
                    "name": "live-mes",
                    "host": pg.host,
                    "port": pg.port,
                    "dbname": pg.dbname,
                    "user": pg.user,
                    "password_env": "PLANTLAKE_DEMO_PG_PASSWORD",
                    "tables": MES_TABLES,
                    "poll_interval_s": 5,
                    "overlap_s": 3600,
                },
            ],
        }
    )
    service = IngestionService(ingest, lake.root)
    service._loader = lambda: BronzeLoader(lake, service.landing_root)  # this lake and its session
    stop = threading.Event()
    try:
        MesWriter(pg.conninfo()).close()  # the MES schema exists before the extractor's first poll
        runner = threading.Thread(target=service.run, args=(stop,), daemon=True)
        runner.start()
        time.sleep(2.0)
        options = BrokerOptions(broker.host, broker.port, broker.username, broker.password)
        # The accelerated clock runs ahead of the wall clock: start it in the past so that it ends
        # now, and no reading carries a timestamp from the future (which the connectors quarantine).
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=plant_seconds)

        async def opcua_subscribed() -> None:
            opc = service.opcua[0]
            deadline = time.monotonic() + 120
            while opc.stats.subscribed == 0 or opc.stats.subscribed < opc.stats.monitored:
                if time.monotonic() > deadline:
                    raise RuntimeError("the OPC UA connector did not subscribe within 120 s")
                await asyncio.sleep(0.2)

        def drain_and_stop(summary: LiveRunSummary) -> None:
            uns, spb = service.mqtt
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and (
                uns.stats.received < summary.uns_messages
                or spb.stats.received < summary.sparkplug_messages
            ):
                time.sleep(0.2)
            time.sleep(
                service.sql[0].config.poll_interval_s + 1
            )  # a MES poll after the last change
            stop.set()  # the connectors land what they hold; the loader runs a last time
            runner.join(600)

        async def sent_everything(summary: LiveRunSummary) -> None:
            await asyncio.to_thread(drain_and_stop, summary)

        async def plant() -> LiveRunSummary:
            return await run_live(
                config,
                seed,
                speed=speed,
                duration_s=plant_seconds,
                start=start,
                opcua_port=opcua_port,
                mqtt=options,
                postgres_conninfo=pg.conninfo(),
                servers_ready=opcua_subscribed,
                sent_everything=sent_everything,
            )

        summary = asyncio.run(plant())
        counts = _reconcile(lake, service, summary, pg)
        return summary, counts
    finally:
        stop.set()
        broker.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def _reconcile(
    lake: Lake, service: IngestionService, summary: LiveRunSummary, pg
) -> list[SourceCount]:
    import psycopg

    spark = lake.spark

    def bronze(table: str, source: str) -> int:
        return spark.table(table).where(f"source = '{source}'").count()

    quarantined = {
        r.source: r.n
        for r in spark.sql(
            "SELECT source, count(*) AS n FROM bronze.quarantine GROUP BY source"
        ).collect()
    }
    uns, spb = service.mqtt
    opc = service.opcua[0]
    mes = service.sql[0]
    with psycopg.connect(pg.conninfo()) as conn:
        db_rows = sum(
            conn.execute(f"SELECT count(*) FROM {t['table']}").fetchone()[0] for t in MES_TABLES
        )
    latest = spark.sql(
        "SELECT count(*) AS n FROM (SELECT DISTINCT source_table, primary_key FROM bronze.mes_rows WHERE source = 'live-mes')"
    ).first()["n"]
    return [
        SourceCount(
            "live-uns (MQTT JSON)",
            summary.uns_messages,
            uns.stats.accepted,
            quarantined.get("live-uns", 0),
            bronze("bronze.mqtt_messages", "live-uns"),
            "each message the plant published, once",
        ),
        SourceCount(
            "live-sparkplug (MQTT Sparkplug B)",
            spb.stats.received,
            spb.stats.accepted,
            quarantined.get("live-sparkplug", 0),
            bronze("bronze.sparkplug_messages", "live-sparkplug"),
            f"{summary.sparkplug_messages:,} data messages + births and deaths",
        ),
        SourceCount(
            "live-opcua (OPC UA)",
            summary.opcua_writes,
            opc.stats.accepted,
            opc.stats.quarantined,
            bronze("bronze.opcua_values", "live-opcua"),
            f"{opc.stats.monitored:,} nodes; sent = writes, accepted = data changes and "
            f"{opc.stats.gaps:,} gap records",
        ),
        SourceCount(
            "live-mes (PostgreSQL)",
            db_rows,
            mes.stats.received,
            quarantined.get("live-mes", 0),
            latest,
            "sent = rows in the database; bronze = distinct rows (all versions kept)",
        ),
    ]
