"""Sparkplug B decoding: births first, consecutive seq, aliases from births; the rest quarantined."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pysparkplug import DataType, DBirth, DData, DDeath, Metric, NBirth, NCmd, NData, NDeath

from ingestion.mqtt.sparkplug import REBIRTH_METRIC, SparkplugDecoder, rebirth_request

NOW = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
MS = 1772344800000
NODE = "spBv1.0/berlin/{}/line1"
DEV = "spBv1.0/berlin/{}/line1/cnc01"


def nbirth(seq=0, bd_seq=3):
    metrics = (
        Metric(MS, "bdSeq", DataType.INT64, value=bd_seq),
        Metric(MS, "Node Control/Rebirth", DataType.BOOLEAN, value=False, alias=1),
        Metric(MS, "energy_kwh", DataType.DOUBLE, value=10.5, alias=2),
    )
    return NBirth(timestamp=MS, seq=seq, metrics=metrics).encode()


def dbirth(seq):
    metrics = (
        Metric(MS, "vibration_mm_s", DataType.DOUBLE, value=2.1, alias=10),
        Metric(MS, "state", DataType.STRING, value="running", alias=11),
    )
    return DBirth(timestamp=MS, seq=seq, metrics=metrics).encode()


def ddata(seq, alias=10, value=2.4):
    return DData(
        timestamp=MS + seq,
        seq=seq,
        metrics=(Metric(MS + seq, None, DataType.DOUBLE, value=value, alias=alias),),
    ).encode()


def ndata(seq):
    return NData(
        timestamp=MS + seq,
        seq=seq,
        metrics=(Metric(MS, None, DataType.DOUBLE, value=11.0, alias=2),),
    ).encode()


def feed(decoder, *messages):
    return [decoder.handle(topic, payload, NOW, qos=1) for topic, payload in messages]


def reasons(results):
    return [r.record.attributes.get("reason_code", r.record.kind) for r in results]


def born(decoder):
    feed(decoder, (NODE.format("NBIRTH"), nbirth(0)), (DEV.format("DBIRTH"), dbirth(1)))


def test_births_then_data_resolve_aliases_to_names():
    dec = SparkplugDecoder("spb")
    results = feed(
        dec,
        (NODE.format("NBIRTH"), nbirth(0)),
        (DEV.format("DBIRTH"), dbirth(1)),
        (DEV.format("DDATA"), ddata(2)),
        (NODE.format("NDATA"), ndata(3)),
    )
    assert reasons(results) == ["sparkplug"] * 4
    data = results[2].record
    assert data.attributes["message_type"] == "DDATA" and data.attributes["device_id"] == "cnc01"
    assert data.attributes["seq"] == "2"
    decoded = json.loads(data.attributes["decoded_json"])
    assert (
        decoded["metrics"][0]["name"] == "vibration_mm_s" and decoded["metrics"][0]["value"] == 2.4
    )
    assert data.source_timestamp == datetime.fromtimestamp((MS + 2) / 1000, tz=UTC)
    assert all(r.rebirth is None for r in results)


def test_sequence_wraps_after_255():
    dec = SparkplugDecoder("spb")
    feed(dec, (NODE.format("NBIRTH"), nbirth(254)), (DEV.format("DBIRTH"), dbirth(255)))
    assert (
        reasons(feed(dec, (DEV.format("DDATA"), ddata(0)), (DEV.format("DDATA"), ddata(1))))
        == ["sparkplug"] * 2
    )


def test_sequence_gap_quarantines_and_requests_rebirth_until_the_new_birth():
    dec = SparkplugDecoder("spb")
    born(dec)
    results = feed(
        dec,
        (DEV.format("DDATA"), ddata(2)),
        (DEV.format("DDATA"), ddata(4)),
        (DEV.format("DDATA"), ddata(5)),
    )
    assert reasons(results) == ["sparkplug", "sequence_gap", "awaiting_rebirth"]
    assert results[1].rebirth == ("berlin", "line1")
    results = feed(
        dec,
        (NODE.format("NBIRTH"), nbirth(0, bd_seq=4)),
        (DEV.format("DBIRTH"), dbirth(1)),
        (DEV.format("DDATA"), ddata(2)),
    )
    assert reasons(results) == ["sparkplug"] * 3


def test_out_of_order_delivery_is_a_gap():
    dec = SparkplugDecoder("spb")
    born(dec)
    assert reasons(feed(dec, (DEV.format("DDATA"), ddata(3)), (DEV.format("DDATA"), ddata(2)))) == [
        "sequence_gap",
        "awaiting_rebirth",
    ]


def test_data_before_birth_unknown_alias_and_not_protobuf():
    dec = SparkplugDecoder("spb")
    first = feed(dec, (DEV.format("DDATA"), ddata(0)))
    assert reasons(first) == ["data_before_birth"] and first[0].rebirth == ("berlin", "line1")
    dec = SparkplugDecoder("spb")
    feed(dec, (NODE.format("NBIRTH"), nbirth(0)))
    assert reasons(feed(dec, (DEV.format("DDATA"), ddata(1)))) == [
        "data_before_birth"
    ]  # no DBIRTH yet
    dec = SparkplugDecoder("spb")
    born(dec)
    assert reasons(feed(dec, (DEV.format("DDATA"), ddata(2, alias=99)))) == ["unknown_alias"]
    dec = SparkplugDecoder("spb")
    born(dec)
    assert reasons(feed(dec, (DEV.format("DDATA"), b'{"value": 1}'))) == ["not_protobuf"]


def test_duplicate_delivery_is_quarantined_without_rebirth():
    dec = SparkplugDecoder("spb")
    born(dec)
    results = feed(
        dec,
        (DEV.format("DDATA"), ddata(2)),
        (DEV.format("DDATA"), ddata(2)),
        (DEV.format("DDATA"), ddata(3)),
    )
    assert reasons(results) == ["sparkplug", "duplicate", "sparkplug"]
    assert results[1].rebirth is None


def test_deaths_and_topics():
    dec = SparkplugDecoder("spb")
    born(dec)
    ddeath = DDeath(timestamp=MS, seq=2).encode()
    stale = NDeath(
        timestamp=MS, bd_seq_metric=Metric(MS, "bdSeq", DataType.INT64, value=2)
    ).encode()
    death = NDeath(
        timestamp=MS, bd_seq_metric=Metric(MS, "bdSeq", DataType.INT64, value=3)
    ).encode()
    results = feed(
        dec,
        (DEV.format("DDEATH"), ddeath),
        (NODE.format("NDEATH"), stale),
        (NODE.format("NDEATH"), death),
        (NODE.format("NDATA"), ndata(3)),  # the node is dead: data needs a new birth
        ("spBv1.0/berlin/NFOO/line1", ndata(0)),
        ("spBv1.0/berlin", b""),
    )
    assert reasons(results) == [
        "sparkplug",
        "stale_death",
        "sparkplug",
        "data_before_birth",
        "unknown_message_type",
        "unknown_topic_layout",
    ]


def test_rebirth_request_is_an_ncmd_with_the_rebirth_metric():
    topic, payload = rebirth_request("berlin", "line1", MS)
    assert topic == "spBv1.0/berlin/NCMD/line1"
    metric = NCmd.decode(payload).metrics[0]
    assert (metric.name, metric.value) == (REBIRTH_METRIC, True)
