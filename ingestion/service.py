"""The ingestion service: every connector of the config, the bronze loader, and a status file.

Connectors land into the landing zone on their own threads; the bronze loader runs every
`loader_interval_s` on the main thread. If the lake cannot be written, the loader logs and tries
again next time while the connectors keep landing: the landing zone is the buffer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from tenacity import retry, retry_if_exception_type, stop_never, wait_exponential

from ingestion.config import IngestionConfig, MqttSource, OpcUaSource, PostgresSource
from ingestion.landing import LandingZone
from ingestion.mqtt.connector import MqttConnector
from ingestion.opcua.connector import OpcUaConnector
from ingestion.sql.extractor import PostgresExtractor

log = logging.getLogger(__name__)
STATUS_DIR = "_status"


def status_path(landing_root: Path, source: str) -> Path:
    return landing_root / STATUS_DIR / f"{source}.json"


def processed_landing_files(checkpoint: Path) -> set[str]:
    """Files the bronze loader has committed, from its stream checkpoint's file log."""
    done: set[str] = set()
    log_dir = checkpoint / "sources" / "0"
    if not log_dir.is_dir():
        return done
    for entry in log_dir.iterdir():
        if entry.name.startswith("."):
            continue
        for line in entry.read_text().splitlines():
            if line.startswith("{"):
                path = json.loads(line).get("path", "")
                done.add(path.removeprefix("file:"))
    return done


class IngestionService:
    """Runs the sources of one config until stopped."""

    def __init__(self, config: IngestionConfig, lake_root: Path):
        self.config = config
        self.lake_root = Path(lake_root).resolve()
        self.landing_root = (config.landing_root or self.lake_root / "_landing").resolve()
        self.zone = LandingZone(self.landing_root)
        self.mqtt = [
            MqttConnector(s, self.zone) for s in config.sources if isinstance(s, MqttSource)
        ]
        self.opcua = [
            OpcUaConnector(s, self.zone) for s in config.sources if isinstance(s, OpcUaSource)
        ]
        self.sql = [
            PostgresExtractor(s, self.zone) for s in config.sources if isinstance(s, PostgresSource)
        ]
        self.loader_runs = 0
        self.loader_errors = 0

    # -- connectors ------------------------------------------------------------------------------
    def _run_opcua(self, stop: threading.Event) -> None:
        async def supervise(connector: OpcUaConnector, stop_async: asyncio.Event) -> None:
            @retry(
                retry=retry_if_exception_type((OSError, TimeoutError, ConnectionError)),
                wait=wait_exponential(min=1, max=connector.config.reconnect_max_delay_s),
                stop=stop_never,
                before_sleep=lambda s: log.warning(
                    "%s: cannot connect (%s); retrying",
                    connector.config.name,
                    s.outcome.exception(),
                ),
            )
            async def connect_and_run() -> None:
                if not stop_async.is_set():
                    await connector.run(stop_async)

            await connect_and_run()

        async def main() -> None:
            stop_async = asyncio.Event()
            tasks = [asyncio.create_task(supervise(c, stop_async)) for c in self.opcua]
            while not stop.is_set():
                await asyncio.sleep(0.2)
            stop_async.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run(main())

    def _run_sql(self, extractor: PostgresExtractor, stop: threading.Event) -> None:
        delay = extractor.config.poll_interval_s
        while not stop.is_set():
            try:
                extractor.poll()
                delay = extractor.config.poll_interval_s
            except Exception as exc:  # the database may be down: back off and keep trying
                delay = min(delay * 2, 300)
                log.warning(
                    "%s: extraction failed (%s); retrying in %.0f s",
                    extractor.config.name,
                    exc,
                    delay,
                )
            stop.wait(delay)

    def _connectors(self) -> list:
        return [*self.mqtt, *self.opcua, *self.sql]

    def _write_status(self) -> None:
        now = datetime.now(UTC)
        for connector in self._connectors():
            path = status_path(self.landing_root, connector.config.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            stats = dataclasses.asdict(connector.stats)
            last = connector.stats.last_message_at
            status = {
                "source": connector.config.name,
                "type": {
                    MqttConnector: "mqtt",
                    OpcUaConnector: "opcua",
                    PostgresExtractor: "postgres",
                }[type(connector)],
                "written_at": now.isoformat(),
                **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in stats.items()},
                "lag_s": (now - last).total_seconds() if last else None,
                "loader_runs": self.loader_runs,
                "loader_errors": self.loader_errors,
            }
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(status, default=str))
            tmp.replace(path)

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, load_bronze: bool = True) -> None:
        """Start every connector; load bronze every interval until `stop` is set, then once more."""
        threads = [
            threading.Thread(target=c.run, args=(stop,), name=f"mqtt-{c.config.name}", daemon=True)
            for c in self.mqtt
        ]
        if self.opcua:
            threads.append(
                threading.Thread(target=self._run_opcua, args=(stop,), name="opcua", daemon=True)
            )
        threads += [
            threading.Thread(
                target=self._run_sql, args=(x, stop), name=f"sql-{x.config.name}", daemon=True
            )
            for x in self.sql
        ]
        for thread in threads:
            thread.start()
        loader = None
        next_load = time.monotonic() + self.config.loader_interval_s
        next_status = time.monotonic()
        try:
            while not stop.wait(0.2):
                if time.monotonic() >= next_status:
                    self._write_status()
                    next_status = time.monotonic() + self.config.status_interval_s
                if load_bronze and time.monotonic() >= next_load:
                    loader = loader or self._loader()
                    self._load(loader)
                    next_load = time.monotonic() + self.config.loader_interval_s
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
            self._write_status()
            if load_bronze:
                self._load(loader or self._loader())
                self._write_status()

    def _loader(self):
        from ingestion.bronze_loader import BronzeLoader
        from lakehouse.lake import open_lake
        from lakehouse.settings import get_settings

        settings = get_settings().model_copy(update={"lake_root": self.lake_root})
        return BronzeLoader(open_lake(settings), self.landing_root)

    def _mirror_watermarks(self, lake) -> None:
        """Copy the extractors' watermarks into `ops.watermarks`, after their rows are in bronze."""
        rows = [(*row, None, datetime.now(UTC)) for x in self.sql for row in x.watermark_rows()]
        if not rows:
            return
        lake.create("ops.watermarks")
        df = lake.spark.createDataFrame(
            [(s, t, ts, key, n, at) for (s, t, ts, key, n, at) in rows],
            "source string, source_table string, watermark_ts timestamp, watermark_key string, "
            "rows_extracted bigint, updated_at timestamp",
        )
        lake.upsert("ops.watermarks", df)

    def _load(self, loader) -> None:
        try:
            result = loader.run()
            self._mirror_watermarks(loader.lake)
            self.loader_runs += 1
            log.info("bronze loader: %d batch(es), %s", result.batches, result.rows_read_by_table)
        except (
            Exception
        ) as exc:  # the lake may be down; the landing zone holds everything meanwhile
            self.loader_errors += 1
            log.error("bronze loader failed (%s); landed data waits for the next run", exc)
