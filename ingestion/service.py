"""The ingestion service: every connector of the config, the bronze loader, status and metrics.

Connectors land into the landing zone on their own threads; the bronze loader runs every
`loader_interval_s` on the main thread. If the lake cannot be written, the loader logs and tries
again next time while the connectors keep landing: the landing zone is the buffer. A connector
that stops with an error is restarted with exponential backoff; its state, last error and
restarts go to `<landing>/_status/<source>.json` (read by `plantlake ingest status`) and to the
Prometheus metrics on a loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from asyncua import ua
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential,
)

from ingestion.config import IngestionConfig, MqttSource, OpcUaSource, PostgresSource
from ingestion.health import SourceState, SourceStats
from ingestion.landing import LandingZone
from ingestion.metrics import IngestionCollector, LoaderView, MetricsServer, SourceView
from ingestion.mqtt.connector import MqttConnector
from ingestion.opcua.connector import AddressSpaceError, OpcUaConnector
from ingestion.sql.extractor import PostgresExtractor

log = logging.getLogger(__name__)
STATUS_DIR = "_status"
RESTART_MAX_DELAY_S = 60.0
# Exceptions that mean "the server is not there (yet)": the source is reconnecting, not broken.
TRANSIENT = (OSError, TimeoutError, ConnectionError)
KNOWN_FAULTS = (AddressSpaceError, ua.UaError)  # e.g. BadUserAccessDenied


def status_path(landing_root: Path, source: str) -> Path:
    return landing_root / STATUS_DIR / f"{source}.json"


def read_status(landing_root: Path, source: str, now: datetime) -> dict:
    """A source's last status as the service wrote it, aged to `now`; `state` is
    `not running` when the file is missing or older than three status intervals."""
    path = status_path(landing_root, source)
    if not path.exists():
        return {"state": "not running"}
    status = json.loads(path.read_text())
    written = datetime.fromisoformat(status["written_at"])
    if (now - written).total_seconds() > 3 * status.get("status_interval_s", 5.0) + 5:
        status["state"] = "not running"
    if status.get("last_message_at"):
        last = datetime.fromisoformat(status["last_message_at"])
        status["last_message_age_s"] = (now - last).total_seconds()
    return status


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


SOURCE_TYPES = {MqttConnector: "mqtt", OpcUaConnector: "opcua", PostgresExtractor: "postgres"}


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
        self.metrics: MetricsServer | None = None

    # -- connectors ------------------------------------------------------------------------------
    def _record_restart(self, name: str, stats: SourceStats) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            stats.restarts += 1
            now = SourceState.RECONNECTING if isinstance(exc, TRANSIENT) else SourceState.FAILING
            if str(exc) and str(exc) in (stats.last_error or ""):  # the connector told it already
                stats.set_state(now)
            else:
                text = f"{type(exc).__name__}: {exc} (restart {stats.restarts} in {delay:.0f} s)"
                stats.error(text, state=now)
            # a fault of the server or the config is told in one line; anything else is a bug
            # of ours and keeps its traceback
            trace = None if isinstance(exc, (*TRANSIENT, *KNOWN_FAULTS)) else exc
            log.error("%s stopped: %s; restarting in %.0f s", name, exc, delay, exc_info=trace)

        return before_sleep

    def _supervise(
        self, name: str, stats: SourceStats, run: Callable[[threading.Event], object], stop
    ) -> None:
        """Run `run(stop)` until `stop` is set, restarting it with backoff whenever it raises."""
        retrying = Retrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential(min=1, max=RESTART_MAX_DELAY_S),
            stop=stop_when_event_set(stop),
            sleep=stop.wait,  # a stop ends the wait at once
            before_sleep=self._record_restart(name, stats),
        )
        with contextlib.suppress(RetryError):
            for attempt in retrying:
                with attempt:
                    run(stop)

    def _run_opcua(self, stop: threading.Event) -> None:
        async def supervise(connector: OpcUaConnector, stop_async: asyncio.Event) -> None:
            async def stop_aware_sleep(seconds: float) -> None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop_async.wait(), seconds)

            name = connector.config.name
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(Exception),
                wait=wait_exponential(min=1, max=connector.config.reconnect_max_delay_s),
                stop=lambda _: stop_async.is_set(),
                sleep=stop_aware_sleep,
                before_sleep=self._record_restart(name, connector.stats),
            )
            with contextlib.suppress(RetryError):
                async for attempt in retrying:
                    with attempt:
                        if not stop_async.is_set():
                            await connector.run(stop_async)

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
                extractor.stats.set_state(SourceState.CONNECTED)
                delay = extractor.config.poll_interval_s
            except Exception as exc:  # the database may be down: back off and keep trying
                delay = min(delay * 2, 300)
                extractor.stats.error(
                    f"extraction failed ({type(exc).__name__}: {exc}); retrying in {delay:.0f} s",
                    state=SourceState.RECONNECTING
                    if isinstance(exc, (*TRANSIENT, *extractor.TRANSIENT))
                    else SourceState.FAILING,
                    logger=log,
                )
            stop.wait(delay)

    def _connectors(self) -> list:
        return [*self.mqtt, *self.opcua, *self.sql]

    def sources(self) -> list[SourceView]:
        return [
            SourceView(c.config.name, SOURCE_TYPES[type(c)], c.stats) for c in self._connectors()
        ]

    def _write_status(self) -> None:
        now = datetime.now(UTC)
        for source in self.sources():
            path = status_path(self.landing_root, source.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            status = {
                "source": source.name,
                "type": source.type,
                "written_at": now.isoformat(),
                "status_interval_s": self.config.status_interval_s,
                **source.stats.snapshot(now),
                "loader_runs": self.loader_runs,
                "loader_errors": self.loader_errors,
                "metrics_port": self.metrics.port if self.metrics else None,
            }
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(status, default=str))
            tmp.replace(path)

    def _start_metrics(self) -> None:
        port = self.config.metrics_port
        if port is None:
            return
        collector = IngestionCollector(
            self.sources, lambda: LoaderView(self.loader_runs, self.loader_errors)
        )
        try:
            self.metrics = MetricsServer(collector, port, self.config.metrics_host)
        except OSError as exc:  # metrics are for watching; ingestion goes on without them
            log.error(
                "metrics: cannot listen on %s:%d (%s); set metrics_port in the ingestion YAML",
                self.config.metrics_host,
                port,
                exc,
            )

    def check(self) -> dict[str, list[str]]:
        """Per source, what keeps it from working (empty: ready): connect, log in, resolve."""
        problems = {c.config.name: c.check() for c in [*self.mqtt, *self.sql]}

        async def opcua() -> list[list[str]]:
            return await asyncio.gather(*(c.check() for c in self.opcua))

        if self.opcua:
            for c, found in zip(self.opcua, asyncio.run(opcua()), strict=True):
                problems[c.config.name] = found
        return {s.name: problems[s.name] for s in self.config.sources}

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, load_bronze: bool = True) -> None:
        """Start every connector; load bronze every interval until `stop` is set, then once more."""
        supervised: list[tuple[str, SourceStats, Callable]] = [
            (f"mqtt-{c.config.name}", c.stats, c.run) for c in self.mqtt
        ]
        if self.opcua:  # one event loop for every OPC UA source; each is supervised inside it
            supervised.append(("opcua", SourceStats(), self._run_opcua))
        supervised += [
            (f"sql-{x.config.name}", x.stats, lambda stop, x=x: self._run_sql(x, stop))
            for x in self.sql
        ]
        threads = [
            threading.Thread(
                target=self._supervise, args=(name, stats, target, stop), name=name, daemon=True
            )
            for name, stats, target in supervised
        ]
        threads.append(
            threading.Thread(target=self._report, args=(stop,), name="status", daemon=True)
        )  # its own thread: a long bronze load must not make the sources look dead
        self._start_metrics()
        for thread in threads:
            thread.start()
        loader = None
        next_load = time.monotonic() + self.config.loader_interval_s
        try:
            while not stop.wait(0.2):
                if load_bronze and time.monotonic() >= next_load:
                    loader = loader or self._loader()
                    self._load(loader)
                    next_load = time.monotonic() + self.config.loader_interval_s
        finally:
            stop.set()
            try:
                for thread in threads:
                    thread.join(30)
                for source in self.sources():
                    source.stats.set_state(SourceState.STOPPED)
                self._report_once()
                if load_bronze:
                    self._load(loader or self._loader())
                    self._report_once()
            finally:
                if self.metrics:
                    self.metrics.stop()

    def _report(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._report_once()
            stop.wait(self.config.status_interval_s)

    def _report_once(self) -> None:
        try:
            self._write_status()
        except OSError as exc:  # e.g. the landing volume is full: the metrics still tell
            log.error("cannot write the status files under %s: %s", self.landing_root, exc)

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
        from lakehouse.catalog import get_table  # Spark only where the loader runs, as above

        lake.create("ops.watermarks")
        df = lake.spark.createDataFrame(rows, get_table("ops.watermarks").schema)
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
