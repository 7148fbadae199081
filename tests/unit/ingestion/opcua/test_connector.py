"""The connector's records, counts, states and log lines, without a server."""

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from asyncua import ua

from ingestion.health import SourceState
from ingestion.landing import LandingZone
from ingestion.opcua import connector as module
from ingestion.opcua.connector import (
    GAP_STATUS,
    MonitoredVariable,
    OpcUaConnector,
    OpcUaSourceConfig,
)

T = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
PRESS = MonitoredVariable(None, "ns=3;s=P7.Temp", "Presse 7; Halle 2&/Nord/Temperatur", "urn:p")


def connector(tmp_path, **kw) -> OpcUaConnector:
    config = OpcUaSourceConfig(name="werk-sued", endpoint="opc.tcp://10.0.0.5:4840", **kw)
    c = OpcUaConnector(config, LandingZone(tmp_path))
    c._variables = {PRESS.node_id: PRESS}
    return c


def change(value, status=0, source_ts=T) -> ua.DataValue:
    variant = value if isinstance(value, ua.Variant) else ua.Variant(value)
    return ua.DataValue(variant, ua.StatusCode(status), SourceTimestamp=source_ts)


def notify(c: OpcUaConnector, dv: ua.DataValue) -> None:
    data = SimpleNamespace(monitored_item=SimpleNamespace(Value=dv))
    c.datachange_notification(SimpleNamespace(nodeid=ua.NodeId("P7.Temp", 3)), None, data)


def test_a_value_lands_as_json_with_its_address_and_an_id_independent_of_receipt(tmp_path):
    c = connector(tmp_path)
    first = c.value_record(PRESS, change(float("nan")), T + timedelta(seconds=1))
    again = c.value_record(PRESS, change(float("nan")), T + timedelta(seconds=9))
    assert (first.kind, first.address, first.payload) == ("opcua", "ns=3;s=P7.Temp", b'"NaN"')
    assert dict(first.attributes) == {
        "endpoint": "opc.tcp://10.0.0.5:4840",
        "browse_path": "Presse 7; Halle 2&/Nord/Temperatur",
        "namespace_uri": "urn:p",
        "variant_type": "Double",
        "status_code": "0",
        "status_name": "Good",
    }
    assert first.record_id == again.record_id  # a redelivery lands once


def test_a_value_without_a_json_form_is_quarantined_with_its_repr(tmp_path):
    c = connector(tmp_path)
    notify(c, change(ua.Variant({1, 2}, ua.VariantType.ExtensionObject)))
    notify(c, change(21.5))
    (bad, good) = c._buffer
    assert (bad.kind, bad.address) == ("quarantine", "ns=3;s=P7.Temp")
    assert bad.attributes["reason_code"] == "bad_datatype"
    assert bad.attributes["detail"].startswith(
        "Presse 7; Halle 2&/Nord/Temperatur: ExtensionObject value has no JSON form: "
        "no JSON form for a builtins.set; value Variant(Value={1, 2}"
    )
    assert bad.payload.startswith(b"Variant(Value={1, 2}")
    assert json.loads(good.payload) == 21.5
    s = c.stats
    # 2 received = 1 accepted + 1 quarantined
    assert (s.received, s.accepted, s.quarantined, s.reasons) == (2, 1, 1, {"bad_datatype": 1})


def test_a_defect_in_conversion_is_an_internal_error_not_an_exception(tmp_path):
    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr either")

    c = connector(tmp_path)
    dv = change(1.0)
    dv.StatusCode = "not a status"  # a defect: `.value` of a str
    notify(c, dv)
    notify(c, ua.DataValue(ua.Variant(Broken(), ua.VariantType.ExtensionObject)))
    assert [r.attributes["reason_code"] for r in c._buffer] == ["internal_error", "bad_datatype"]
    assert c._buffer[1].payload.startswith(b"<unprintable Variant")
    assert c.stats.received == c.stats.accepted + c.stats.quarantined == 2


def test_a_lost_connection_lands_a_gap_per_node_and_data_flowing_again_means_connected(tmp_path):
    c = connector(tmp_path)
    c.stats.set_state(SourceState.CONNECTED)
    asyncio.run(c._on_connection_lost(ConnectionError("socket closed")))
    (gap,) = c._buffer
    assert (gap.payload, gap.attributes["status_code"]) == (b"null", str(GAP_STATUS))
    assert gap.attributes["status_name"] == "BadNoCommunication"
    s = c.stats
    assert (s.state, s.gaps, s.reconnects, s.errors) == (SourceState.RECONNECTING, 1, 1, 1)
    assert s.last_error == (
        "connection to opc.tcp://10.0.0.5:4840 lost (ConnectionError('socket closed')); reconnecting"
    )
    notify(c, change(21.5))
    # a gap is data about the outage: accepted like a value
    assert (s.state, s.received, s.accepted) == (SourceState.CONNECTED, 2, 2)


def test_one_summary_line_per_interval(tmp_path, caplog):
    c = connector(tmp_path)
    s = c.stats
    s.set_state(SourceState.CONNECTED)
    s.subscribed, s.received, s.quarantined, s.gaps = 49, 3000, 2, 49
    c._summary = (time.monotonic() - 60, 10, 0, 0)
    with caplog.at_level(logging.INFO, logger=module.__name__):
        c._log_summary()
        c._log_summary()  # within the interval: nothing
    # 3000 received - 49 gaps - 10 before = 2,941 values
    assert caplog.messages == [
        "werk-sued: 60 s: 2,941 values, 2 quarantined, 49 gaps, connected, 49 nodes"
    ]


def test_asyncua_logs_warnings_unless_a_source_asks_for_more(tmp_path, monkeypatch):
    monkeypatch.setattr(module, "_client_levels", {})
    client_logger = logging.getLogger("asyncua")
    monkeypatch.setattr(client_logger, "level", client_logger.level)
    connector(tmp_path)
    assert client_logger.level == logging.WARNING
    OpcUaConnector(
        OpcUaSourceConfig(name="debug-me", endpoint="opc.tcp://h:1", client_log_level="INFO"),
        LandingZone(tmp_path),
    )
    assert client_logger.level == logging.INFO


def test_a_quarantined_value_has_an_id_independent_of_receipt(tmp_path):
    c = connector(tmp_path)
    unconvertible = change(ua.Variant({1}, ua.VariantType.ExtensionObject))
    first = c.value_record(PRESS, unconvertible, T)
    again = c.value_record(PRESS, unconvertible, T + timedelta(hours=1))
    assert first.kind == again.kind == "quarantine" and first.record_id == again.record_id
