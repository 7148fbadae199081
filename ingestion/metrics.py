"""The ingestion service's health as Prometheus metrics, served on a loopback port.

The same numbers as `plantlake ingest status` (read from each connector's `SourceStats` at scrape
time, nothing counted twice), under the names plant IT dashboards expect: counters end in
`_total`, times are Unix seconds, every series is labelled with `source` and `type`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ingestion.health import SourceState, SourceStats

log = logging.getLogger(__name__)
PREFIX = "plantlake_ingest"


@dataclass(frozen=True)
class SourceView:
    """What a scrape reads of one source."""

    name: str
    type: str
    stats: SourceStats


@dataclass(frozen=True)
class LoaderView:
    runs: int
    errors: int


def _seconds(ts: datetime | None) -> float | None:
    return ts.timestamp() if ts else None


class IngestionCollector(Collector):
    """Reads the sources' stats when Prometheus scrapes."""

    def __init__(
        self, sources: Callable[[], Iterable[SourceView]], loader: Callable[[], LoaderView]
    ):
        self._sources = sources
        self._loader = loader

    def collect(self) -> Iterable[Metric]:
        labels = ["source", "type"]
        counters = {
            field: CounterMetricFamily(f"{PREFIX}_{field}", text, labels=labels)
            for field, text in (
                ("received", "messages or rows received"),
                ("accepted", "received and accepted into the landing zone"),
                ("landed", "records written to the landing zone (fsynced)"),
                ("restarts", "times the service restarted the connector after it failed"),
                ("errors", "faults recorded (connection, landing, address space, …)"),
            )
        }
        quarantined = CounterMetricFamily(
            f"{PREFIX}_quarantined",
            "received and quarantined, by reason code",
            labels=[*labels, "reason"],
        )
        state = GaugeMetricFamily(
            f"{PREFIX}_source_state",
            "1 for the state the source is in (connected, reconnecting, failing, …), else 0",
            labels=[*labels, "state"],
        )
        up = GaugeMetricFamily(
            f"{PREFIX}_source_up", "1 if the source is connected, else 0", labels=labels
        )
        last_message = GaugeMetricFamily(
            f"{PREFIX}_last_message_timestamp_seconds",
            "when the last message or row arrived (Unix time)",
            labels=labels,
        )
        last_error = GaugeMetricFamily(
            f"{PREFIX}_last_error_timestamp_seconds",
            "when the last fault was recorded (Unix time)",
            labels=labels,
        )
        for source in self._sources():
            stats, values = source.stats, [source.name, source.type]
            for field, family in counters.items():
                family.add_metric(values, getattr(stats, field))
            for reason, n in sorted(dict(stats.reasons).items()):
                quarantined.add_metric([*values, reason], n)
            if not stats.reasons:
                quarantined.add_metric([*values, ""], stats.quarantined)
            current = stats.effective_state()
            for candidate in SourceState:
                state.add_metric([*values, candidate.value], float(candidate == current))
            up.add_metric(values, float(current == SourceState.CONNECTED))
            if (t := _seconds(stats.last_message_at)) is not None:
                last_message.add_metric(values, t)
            if (t := _seconds(stats.last_error_at)) is not None:
                last_error.add_metric(values, t)
        loader = self._loader()
        runs = CounterMetricFamily(f"{PREFIX}_loader_runs", "bronze loader runs that committed")
        runs.add_metric([], loader.runs)
        failures = CounterMetricFamily(f"{PREFIX}_loader_errors", "bronze loader runs that failed")
        failures.add_metric([], loader.errors)
        yield from (*counters.values(), quarantined, state, up, last_message, last_error)
        yield from (runs, failures)


class MetricsServer:
    """`/metrics` on 127.0.0.1:<port> (or the host given) until `stop()`."""

    def __init__(self, collector: Collector, port: int, host: str = "127.0.0.1"):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.server, self.thread = start_http_server(port, addr=host, registry=self.registry)
        self.port = self.server.server_port
        log.info("metrics on http://%s:%d/metrics", host, self.port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
