"""The ingestion metrics as Prometheus reads them, from a real HTTP scrape on a loopback port."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from ingestion.health import SourceState, SourceStats
from ingestion.metrics import IngestionCollector, LoaderView, MetricsServer, SourceView


def test_a_scrape_shows_counts_reasons_and_the_state_of_every_source():
    ok = SourceStats(source="uns", received=5, accepted=4, quarantined=1, restarts=2)
    ok.count({"duplicate_key": 1})
    ok.set_state(SourceState.CONNECTED)
    bad = SourceStats(source="opcua")
    bad.error("root[1] 'acme': no such child of 0:Objects")
    sources = [SourceView("uns", "mqtt", ok), SourceView("opcua", "opcua", bad)]
    server = MetricsServer(IngestionCollector(lambda: sources, lambda: LoaderView(3, 1)), 0)
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
    finally:
        server.stop()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    def value(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("plantlake_ingest_received_total", source="uns", type="mqtt") == 5
    assert (
        value(
            "plantlake_ingest_quarantined_total", source="uns", type="mqtt", reason="duplicate_key"
        )
        == 1
    )
    assert value("plantlake_ingest_restarts_total", source="uns", type="mqtt") == 2
    assert value("plantlake_ingest_source_up", source="uns", type="mqtt") == 1
    assert value("plantlake_ingest_source_up", source="opcua", type="opcua") == 0
    assert (
        value("plantlake_ingest_source_state", source="opcua", type="opcua", state="failing") == 1
    )
    assert value("plantlake_ingest_last_error_timestamp_seconds", source="opcua", type="opcua") > 0
    assert value("plantlake_ingest_loader_errors_total") == 1
