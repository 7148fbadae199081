"""Sparkplug B decoding: births first, consecutive seq, aliases from births, every datatype of the
3.0 specification; the rest quarantined with a precise reason.

Inputs come from outside our code where we can: payloads encoded by mqtt-spb-wrapper (another
library's encoder, N-bit two's complement for negative Int8/16/32), raw protobufs built with the
generated classes as Eclipse Tahu writes them, and the worked examples of the specification.

Sources read for these tests:
- Sparkplug 3.0.0, chapter 6 "Payloads" (eclipse-sparkplug/sparkplug,
  specification/src/main/asciidoc/chapters/Sparkplug_6_Payloads.adoc): "Datatype Details" gives
  Int8/16/32 and UInt8/16/32 the protobuf type uint32, Int64/UInt64/DateTime uint64, DateTime as
  milliseconds since 1970; array types as "packed little endian" bytes_value. Its array examples
  (6.4.17): Int16Array [-30000, 30000] → D0 8A 30 75, Int32Array [-1, 315338746] → FF FF FF FF FA
  AF CB 12, UInt64Array [52, 16444743074749521625] → 34 00 … D9 9E 02 D1 B2 76 37 E4, BooleanArray
  [F,F,T,T,F,T,F,F,T,T,F,T] → 0C 00 00 00 34 D0, StringArray [ABC, hello] → 41 42 43 00 68 65 6C
  6C 6F 00. Errata in the same list, not used as written: Int8Array [-23, 123] → "EF 7B" (-23 is
  E9), FloatArray and DoubleArray shown big-endian, DateTimeArray with 6 instead of 8 bytes per
  value. STATE (5.x, tck-id-operational-behavior-host-application-connect-birth-payload): JSON
  with a boolean `online` and a numeric `timestamp`, on spBv1.0/STATE/<sparkplug_host_id>. Ids
  (4.1.2, tck-id-topic-structure-namespace-valid-group-id): UTF-8 without + / #.
- Eclipse Tahu, Java SparkplugBPayloadEncoder: Int8 `setIntValue(((Byte) v).intValue())`, so -1
  travels sign-extended as 0xFFFFFFFF; UInt32 and Int64 in long_value; BooleanArray bits
  `nextByte |= (128 >> bit)` after a 4-byte little-endian count; a null DataSet DateTime as
  -9223372036854775808. SparkplugBPayloadDecoder reads Int8 as `(byte) getIntValue()`.
- Eclipse Tahu, JS sparkplug-payload (lib/sparkplugbpayload.js): UInt32 (7) in longValue,
  DataSet {numOfColumns, columns, types, rows}, Template {version, templateRef, isDefinition,
  metrics, parameters}.
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime

import pytest
from mqtt_spb_wrapper.spb_protobuf import sparkplug_b as spb
from mqtt_spb_wrapper.spb_protobuf.sparkplug_b import MetricDataType as T
from pysparkplug import DataType, DBirth, DData, DDeath, Metric, NBirth, NCmd, NData, NDeath
from pysparkplug._protobuf import Payload

from ingestion.mqtt.sparkplug import (
    REBIRTH_METRIC,
    SparkplugDecoder,
    host_state,
    is_sparkplug_topic,
    rebirth_request,
)

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


def raw(*metrics, seq: int | None = 0, timestamp: int | None = MS) -> bytes:
    """A payload built with the generated protobuf classes, field by field as Tahu sets them."""
    payload = Payload()
    if timestamp is not None:
        payload.timestamp = timestamp
    if seq is not None:
        payload.seq = seq
    payload.metrics.extend(metrics)
    return payload.SerializeToString()


def metric(name=None, datatype=None, alias=None, **value) -> Payload.Metric:
    m = Payload.Metric(timestamp=MS, **value)
    if name is not None:
        m.name = name
    if datatype is not None:
        m.datatype = datatype
    if alias is not None:
        m.alias = alias
    return m


BD_SEQ_METRIC = metric("bdSeq", DataType.INT64, long_value=3)


def feed(decoder, *messages):
    return [decoder.handle(topic, payload, NOW, qos=1) for topic, payload in messages]


def reasons(results):
    return [r.record.attributes.get("reason_code", r.record.kind) for r in results]


def born(decoder):
    feed(decoder, (NODE.format("NBIRTH"), nbirth(0)), (DEV.format("DBIRTH"), dbirth(1)))


def decoded(result) -> dict:
    """The record's decoded_json, read as strict JSON (no NaN or Infinity tokens)."""
    assert result.record.kind == "sparkplug", result.record.attributes
    return json.loads(result.record.attributes["decoded_json"], parse_constant=pytest.fail)


def values(result) -> dict:
    return {m["name"]: m["value"] for m in decoded(result)["metrics"]}


def birth_of(*metrics, decoder=None):
    """The NBIRTH of `metrics` (with bdSeq) handled by a fresh decoder."""
    return (decoder or SparkplugDecoder("spb")).handle(
        NODE.format("NBIRTH"), raw(BD_SEQ_METRIC, *metrics), NOW
    )


# -- births, sequence, aliases ---------------------------------------------------------------
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
    assert decoded(results[2])["metrics"] == [
        {
            "name": "vibration_mm_s",
            "alias": 10,
            "timestamp": MS + 2,
            "datatype": "DOUBLE",  # DDATA carries no datatype: the DBIRTH's
            "value": 2.4,
            "is_null": False,
        }
    ]
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
    assert results[1].rebirth == ("berlin", "line1") and results[2].rebirth is None
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
    assert reasons(feed(dec, (DEV.format("DDATA"), ddata(1)))) == ["data_before_birth"]
    dec = SparkplugDecoder("spb")
    born(dec)
    unknown = feed(dec, (DEV.format("DDATA"), ddata(2, alias=99)))
    assert reasons(unknown) == ["unknown_alias"] and unknown[0].rebirth == ("berlin", "line1")
    dec = SparkplugDecoder("spb")
    born(dec)
    assert reasons(feed(dec, (DEV.format("DDATA"), b'{"value": 1}'))) == ["not_protobuf"]


def test_missing_seq_is_missing_sequence_not_a_gap():
    """tck-id-payloads-sequence-num-always-included: every message but NDEATH carries seq."""
    for kind, topic in (("DDEATH", DEV), ("NDATA", NODE), ("NBIRTH", NODE)):
        dec = SparkplugDecoder("spb")
        born(dec)
        result = dec.handle(topic.format(kind), raw(BD_SEQ_METRIC, seq=None), NOW)
        assert reasons([result]) == ["missing_sequence"], kind
        assert result.rebirth == ("berlin", "line1")


def test_a_payload_timestamp_is_required_and_a_bad_one_still_counts_its_seq():
    dec = SparkplugDecoder("spb")
    born(dec)
    no_time = raw(metric(alias=10, double_value=1.0), seq=2, timestamp=None)
    results = feed(dec, (DEV.format("DDATA"), no_time), (DEV.format("DDATA"), ddata(3)))
    assert reasons(results) == ["missing_timestamp", "sparkplug"]
    assert results[0].rebirth is None


# -- redelivery --------------------------------------------------------------------------------
def test_redelivery_returns_the_accepted_record_without_a_sequence_check():
    dec = SparkplugDecoder("spb")
    born(dec)
    results = feed(
        dec,
        (DEV.format("DDATA"), ddata(2)),
        (DEV.format("DDATA"), ddata(2)),  # QoS 1 redelivery
        (DEV.format("DDATA"), ddata(3)),
        (DEV.format("DDATA"), ddata(2)),  # again, after seq moved on
        (DEV.format("DDATA"), ddata(4)),
    )
    assert reasons(results) == ["sparkplug"] * 5
    assert results[1].record is results[0].record and results[3].record is results[0].record
    assert all(r.rebirth is None for r in results)


def test_redelivery_of_a_message_rejected_after_its_seq_returns_the_same_quarantine():
    dec = SparkplugDecoder("spb")
    born(dec)
    bad = raw(metric(alias=10, string_value="2.4"), seq=2)  # vibration is a DOUBLE
    results = feed(
        dec, (DEV.format("DDATA"), bad), (DEV.format("DDATA"), bad), (DEV.format("DDATA"), ddata(3))
    )
    assert reasons(results) == ["bad_datatype", "bad_datatype", "sparkplug"]
    assert results[1].record is results[0].record
    assert all(r.rebirth is None for r in results)


# -- deaths, commands, topics ------------------------------------------------------------------
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
        ("spBv1.0/berlin/STATE/line1", b"ONLINE"),  # STATE has no group
        ("spBv1.0/berlin", b""),
        ("spBv1.0/berlin/NBIRTH/line1/cnc01", nbirth(0)),  # node messages name no device
        ("spBv1.0/berlin/DDATA/line1", ddata(0)),  # device messages name one
        (NODE.format("NDEATH"), raw(seq=None)),  # no bdSeq
    )
    assert reasons(results) == [
        "sparkplug",
        "stale_death",
        "sparkplug",
        "data_before_birth",
        "unknown_message_type",
        "unknown_message_type",
        "unknown_topic_layout",
        "unknown_topic_layout",
        "unknown_topic_layout",
        "missing_value",
    ]
    assert decoded(results[2])["metrics"][0]["value"] == 3


def test_commands_need_no_birth_and_ask_for_no_rebirth():
    dec = SparkplugDecoder("spb")
    own = dec.handle(*rebirth_request("berlin", "line1", MS), NOW)  # the connector hears itself
    assert values(own) == {REBIRTH_METRIC: True}
    by_alias = raw(metric(alias=10, datatype=DataType.DOUBLE, double_value=1.0), seq=None)
    assert reasons(feed(dec, (DEV.format("DCMD"), by_alias))) == ["unknown_alias"]
    born(dec)
    result = dec.handle(DEV.format("DCMD"), by_alias, NOW)
    assert values(result) == {"vibration_mm_s": 1.0} and result.rebirth is None


def test_rebirth_request_is_an_ncmd_with_the_rebirth_metric():
    topic, payload = rebirth_request("berlin", "line1", MS)
    assert topic == "spBv1.0/berlin/NCMD/line1"
    metric = NCmd.decode(payload).metrics[0]
    assert (metric.name, metric.value) == (REBIRTH_METRIC, True)
    with pytest.raises(ValueError, match="edge node id 'a/b'"):
        rebirth_request("berlin", "a/b", MS)


@pytest.mark.parametrize(
    ("group_id", "problem"),
    [
        ("", "is empty"),
        ("line+1", "contains '+'"),
        ("#", "contains '#'"),
        (".", "is '.' or '..'"),
        ("..", "is '.' or '..'"),
        ("a\x00b", "contains '\\x00'"),
        ("a\x1fb", "contains '\\x1f'"),
        ("a\x7fb", "contains '\\x7f'"),
        ("a\udc80b", "is not valid UTF-8"),  # a lone surrogate, as a str can hold one
    ],
)
def test_invalid_ids_quarantine_without_rebirth(group_id, problem):
    dec = SparkplugDecoder("spb")
    result = dec.handle(f"spBv1.0/{group_id}/DDATA/line1/cnc01", ddata(0), NOW)
    assert reasons([result]) == ["unknown_topic_layout"] and result.rebirth is None
    assert f"group id {group_id!r} {problem}" in result.record.attributes["detail"]
    assert dec.nodes == {}
    with pytest.raises(ValueError, match="group id"):
        rebirth_request(group_id, "line1", MS)


def test_oversized_payloads_are_refused_before_decoding():
    dec = SparkplugDecoder("spb", max_payload_bytes=64)
    results = feed(
        dec,
        (NODE.format("NBIRTH"), b"\xff" * 65),  # not even protobuf: never read
        (
            "spBv1.0/STATE/scada",
            b'{"online": true, "timestamp": 1668114759262, "pad": "xxxxxxxxxxxxxxxx"}',
        ),
    )
    assert reasons(results) == ["oversized_payload"] * 2
    assert results[0].record.attributes["detail"] == "payload is 65 bytes; the limit is 64"
    assert results[0].rebirth is None


# -- STATE -------------------------------------------------------------------------------------
def test_host_state_is_the_3_0_birth_and_will_and_is_accepted_back():
    topic, payload = host_state("plantlake-01", online=True, timestamp_ms=1668114759262)
    assert (topic, json.loads(payload)) == (
        "spBv1.0/STATE/plantlake-01",
        {"online": True, "timestamp": 1668114759262},
    )
    result = SparkplugDecoder("spb").handle(topic, payload, NOW, qos=1)
    record = result.record
    assert record.attributes["message_type"] == "STATE"
    assert (
        record.attributes["edge_node_id"] == "plantlake-01" and "group_id" not in record.attributes
    )
    assert decoded(result) == {
        "seq": None,
        "timestamp": 1668114759262,
        "metrics": [],
        "online": True,
    }
    assert record.source_timestamp == datetime(2022, 11, 10, 21, 12, 39, 262000, tzinfo=UTC)
    with pytest.raises(ValueError, match="host id 'a\\+b'"):
        host_state("a+b", online=False, timestamp_ms=0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"online" : true, "timestamp" : 1668114759262}', "sparkplug"),  # the spec's example
        (b'{"online": false, "timestamp": 1668114759262.0}', "sparkplug"),
        (b"", "empty_payload"),
        (b"\xff", "invalid_utf8"),
        (b"{", "invalid_json"),
        (b'{"online": true, "timestamp": NaN}', "non_finite_value"),
        (b"[true]", "not_an_object"),
        (b'{"timestamp": 1}', "missing_value"),
        (b'{"online": "yes", "timestamp": 1}', "wrong_value_type"),
        (b'{"online": true}', "missing_timestamp"),
        (b'{"online": true, "timestamp": -1}', "bad_timestamp"),
        (b'{"online": true, "timestamp": "2026-03-01"}', "bad_timestamp"),
        (b'{"online": true, "online": false, "timestamp": 1}', "duplicate_key"),
        (b"ONLINE", "invalid_json"),  # the 2.x payload on the 3.0 topic
    ],
)
def test_state_3_0_payloads(payload, reason):
    result = SparkplugDecoder("spb").handle("spBv1.0/STATE/scada", payload, NOW)
    assert reasons([result]) == [reason]


def test_state_2_x_topic_and_payloads():
    dec = SparkplugDecoder("spb")
    online, offline, other, bad_id = feed(
        dec,
        ("STATE/scada", b"ONLINE"),
        ("STATE/scada", b"OFFLINE"),
        ("STATE/scada", b"online"),
        ("STATE/+", b"ONLINE"),
    )
    assert (decoded(online)["online"], decoded(offline)["online"]) == (True, False)
    assert online.record.attributes["edge_node_id"] == "scada"
    assert reasons([other, bad_id]) == ["wrong_value_type", "unknown_topic_layout"]


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("spBv1.0/berlin/NDATA/line1", True),
        ("spBv1.0/STATE/scada", True),
        ("spBv1.0/anything/at/all/levels/deep", True),
        ("STATE/scada", True),
        ("STATE/", True),  # the decoder quarantines the empty host id
        ("STATE/a/b", False),
        ("STATE", False),
        ("spBv1.0", False),
        ("acme/berlin/line1/press/temperature", False),
    ],
)
def test_is_sparkplug_topic(topic, expected):
    assert is_sparkplug_topic(topic) is expected


# -- datatypes ---------------------------------------------------------------------------------
def test_every_scalar_datatype_from_mqtt_spb_wrapper():
    """mqtt-spb-wrapper encodes negative Int8/16/32/64 as N-bit two's complement (Int8 -1 → 255)
    and UInt32 in int_value; its DataSet types Python ints Int64 and floats Float."""
    p = spb.getNodeBirthPayload()
    p.timestamp, p.seq = MS, 0
    for m in p.metrics:
        m.timestamp = MS
    scalars = [
        ("i8", T.Int8, -1, -1),
        ("i16", T.Int16, -32768, -32768),
        ("i32", T.Int32, -2, -2),
        ("i64", T.Int64, -(2**63), -(2**63)),
        ("u8", T.UInt8, 255, 255),
        ("u16", T.UInt16, 65535, 65535),
        ("u32", T.UInt32, 2**32 - 1, 2**32 - 1),
        ("u64", T.UInt64, 2**64 - 1, 2**64 - 1),
        ("f", T.Float, 12.1, 12.1),  # the shortest decimal of the float32, not 12.100000381…
        ("d", T.Double, -0.5, -0.5),
        ("b", T.Boolean, True, True),
        ("s", T.String, "running", "running"),
        ("dt", T.DateTime, MS + 123, "2026-03-01T06:00:00.123000+00:00"),
        ("t", T.Text, "Ölstand prüfen", "Ölstand prüfen"),
        (
            "id",
            T.UUID,
            "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        ),
        ("by", T.Bytes, b"\x00\xff", "00ff"),
        ("file", T.File, b"PK\x03\x04", "504b0304"),
    ]
    for alias, (name, dtype, value, _) in enumerate(scalars, start=10):
        spb.addMetric(p, name, alias, dtype, value, MS)
    spb.addMetricDataset_from_dict(p, "batch", 40, {"step": [1, 2], "temp_c": [180.5, 181.0]})
    result = SparkplugDecoder("spb").handle(NODE.format("NBIRTH"), p.SerializeToString(), NOW)
    # the library counts bdSeq across the whole test run (a module global)
    bd_seq = next(m.long_value for m in p.metrics if m.name == "bdSeq")
    assert values(result) == {
        "bdSeq": bd_seq,
        **{name: expected for name, _, _, expected in scalars},
        "batch": {
            "columns": ["step", "temp_c"],
            "types": ["INT64", "FLOAT"],
            "rows": [[1, 180.5], [2, 181.0]],
        },
    }
    assert {m["name"]: m["datatype"] for m in decoded(result)["metrics"]}["i8"] == "INT8"


@pytest.mark.parametrize(
    ("datatype", "field", "wire", "expected"),
    [
        (DataType.INT8, "int_value", 0xFFFFFFFF, -1),  # Tahu: (Byte) -1 .intValue()
        (DataType.INT8, "int_value", 0xFF, -1),  # pysparkplug, mqtt-spb-wrapper
        (DataType.INT8, "int_value", 0xFFFFFF80, -128),
        (DataType.INT8, "int_value", 0x7F, 127),
        (DataType.INT16, "int_value", 0xFFFF8000, -32768),
        (DataType.INT16, "int_value", 0x8000, -32768),
        (DataType.INT32, "int_value", 0x80000000, -(2**31)),
        (DataType.INT64, "long_value", 2**64 - 1, -1),
        (DataType.UINT32, "long_value", 4_000_000_000, 4_000_000_000),  # Tahu's UInt32 field
        (DataType.UINT8, "int_value", 255, 255),
        (DataType.DATETIME, "long_value", 2**64 - 1000, "1969-12-31T23:59:59+00:00"),  # Java long
    ],
)
def test_integers_as_tahu_and_pysparkplug_write_them(datatype, field, wire, expected):
    result = birth_of(metric("x", datatype, **{field: wire}))
    assert values(result)["x"] == expected


@pytest.mark.parametrize(
    ("datatype", "field", "wire"),
    [
        (DataType.UINT8, "int_value", 300),
        (DataType.UINT16, "int_value", 65536),
        (DataType.UINT32, "long_value", 2**32),
        (DataType.INT8, "int_value", 0x100),  # fits neither 8 bits nor a sign extension
        (DataType.INT8, "int_value", 0xFFFFFF7F),  # -129 sign-extended
        (DataType.INT16, "int_value", 0x10000),
        (DataType.INT32, "long_value", 2**32),
        (DataType.DATETIME, "long_value", 253402300800000),  # 10000-01-01
    ],
)
def test_values_out_of_their_datatype_range_are_quarantined(datatype, field, wire):
    result = birth_of(metric("x", datatype, **{field: wire}))
    assert reasons([result]) == ["value_out_of_range"] and result.rebirth == ("berlin", "line1")
    detail = result.record.attributes["detail"]
    assert "metric 'x'" in detail and datatype.name in detail and str(wire) in detail


@pytest.mark.parametrize(
    ("m", "words"),
    [
        (metric("x", DataType.INT32, string_value="7"), "INT32 but carries string_value"),
        (metric("x", DataType.DOUBLE, float_value=1.5), "DOUBLE but carries float_value"),
        (metric("x", 99, int_value=1), "datatype 99, not a Sparkplug B datatype"),
        (metric("x", DataType.PROPERTYSET, int_value=1), "cannot be of datatype PROPERTYSET"),
        (metric("x", None, int_value=1), "has no datatype"),  # a birth must declare it
        (metric("x", DataType.INT16_ARRAY, bytes_value=b"\x01\x02\x03"), "whole number of 2-byte"),
        (metric("x", DataType.BOOLEAN_ARRAY, bytes_value=b"\x09\0\0\0\xff"), "for 9 booleans"),
        (metric("x", DataType.STRING_ARRAY, bytes_value=b"ABC"), "NUL terminator"),
        (metric("x", DataType.DATASET, int_value=1), "DATASET but carries int_value"),
    ],
)
def test_values_that_do_not_fit_their_datatype_are_bad_datatype(m, words):
    result = birth_of(m)
    assert reasons([result]) == ["bad_datatype"]
    assert words in result.record.attributes["detail"]


@pytest.mark.parametrize(
    ("datatype", "wire", "expected"),
    [
        (DataType.INT16_ARRAY, "D0 8A 30 75", [-30000, 30000]),
        (DataType.INT32_ARRAY, "15 CD 5B 07 B1 68 DE 3A", [123456789, 987654321]),
        (DataType.INT32_ARRAY, "FF FF FF FF FA AF CB 12", [-1, 315338746]),
        (
            DataType.INT64_ARRAY,
            "CE 06 72 AC 18 9C BA C4 C4 BA 9C 18 AC 72 06 CE",
            [-4270929666821191986, -3601064768563266876],
        ),
        (DataType.INT8_ARRAY, "E9 7B", [-23, 123]),  # the spec prints EF for -23: E9 is right
        (DataType.UINT8_ARRAY, "17 FA", [23, 250]),
        (DataType.UINT16_ARRAY, "1E 00 88 CC", [30, 52360]),
        (DataType.UINT32_ARRAY, "34 00 00 00 49 FB 55 C4", [52, 3293969225]),
        (
            DataType.UINT64_ARRAY,
            "34 00 00 00 00 00 00 00 D9 9E 02 D1 B2 76 37 E4",
            [52, 16444743074749521625],
        ),
        # the spec's float example shows big-endian bytes; little-endian 1.23f is A4 70 9D 3F
        (DataType.FLOAT_ARRAY, "A4 70 9D 3F 98 AE B2 42", [1.23, 89.341]),
        (
            DataType.DOUBLE_ARRAY,
            "00 00 00 00 00 00 F8 7F 00 00 00 00 00 00 F0 FF",
            ["NaN", "-Infinity"],
        ),
        (
            DataType.BOOLEAN_ARRAY,
            "0C 00 00 00 34 D0",
            [False, False, True, True, False, True, False, False, True, True, False, True],
        ),
        (DataType.STRING_ARRAY, "41 42 43 00 68 65 6C 6C 6F 00", ["ABC", "hello"]),
        # 1256102875335 and 1656107875000 ms, 8 bytes each (the spec's example drops two zeros)
        (
            DataType.DATETIME_ARRAY,
            "C7 D0 90 75 24 01 00 00 B8 BA B8 97 81 01 00 00",
            ["2009-10-21T05:27:55.335000+00:00", "2022-06-24T21:57:55+00:00"],
        ),
        (DataType.UINT8_ARRAY, "", []),
    ],
)
def test_arrays_as_the_spec_packs_them(datatype, wire, expected):
    result = birth_of(metric("x", datatype, bytes_value=bytes.fromhex(wire)))
    assert values(result)["x"] == expected


def test_non_finite_floats_are_strings_in_strict_json():
    result = birth_of(
        metric("nan", DataType.DOUBLE, double_value=float("nan")),
        metric("inf", DataType.FLOAT, float_value=float("inf")),
        metric("ninf", DataType.DOUBLE, double_value=float("-inf")),
    )
    assert values(result) == {"bdSeq": 3, "nan": "NaN", "inf": "Infinity", "ninf": "-Infinity"}


def test_dataset_as_tahu_writes_it():
    """Tahu's DataSet: num_of_columns, column names and types, rows of typed cells; a null
    DateTime cell as Long.MIN_VALUE, a null number as an empty cell."""
    ds = Payload.DataSet(num_of_columns=3, columns=["at", "temp_c", "ok"], types=[13, 9, 11])
    ds.rows.add().elements.extend(
        [
            Payload.DataSet.DataSetValue(long_value=MS),
            Payload.DataSet.DataSetValue(float_value=21.5),
            Payload.DataSet.DataSetValue(boolean_value=True),
        ]
    )
    ds.rows.add().elements.extend(
        [
            Payload.DataSet.DataSetValue(long_value=2**63),
            Payload.DataSet.DataSetValue(),
            Payload.DataSet.DataSetValue(boolean_value=False),
        ]
    )
    result = birth_of(metric("log", DataType.DATASET, dataset_value=ds))
    assert values(result)["log"] == {
        "columns": ["at", "temp_c", "ok"],
        "types": ["DATETIME", "FLOAT", "BOOLEAN"],
        "rows": [["2026-03-01T06:00:00+00:00", 21.5, True], [None, None, False]],
    }
    ragged = Payload.DataSet(num_of_columns=1, columns=["a"], types=[3])
    ragged.rows.add().elements.extend([Payload.DataSet.DataSetValue(int_value=1)] * 2)
    assert reasons([birth_of(metric("log", DataType.DATASET, dataset_value=ragged))]) == [
        "bad_datatype"
    ]


def motor(is_definition=False, speed=1450, with_types=True) -> Payload.Metric:
    """A template metric as mqtt-spb-wrapper's initTemplateMetric builds one (a nested gearbox
    instance inside), with parameters as Tahu writes them."""
    p = Payload()
    t = spb.initTemplateMetric(p, "motor", 5, None if is_definition else "Motor")
    t.version = "1.2"
    t.parameters.add(name="rated_kw", type=DataType.FLOAT, float_value=7.5)
    spb.addMetric(t, "speed_rpm", None, T.UInt16, speed, MS)
    gear = spb.initTemplateMetric(t, "gearbox", None, "Gearbox")
    spb.addMetric(gear, "oil_temp_c", None, T.Int8, -5, MS)
    if not with_types:
        for m in (t.metrics[0], gear.metrics[0]):
            m.ClearField("datatype")
    return p.metrics[0]


def test_template_instances_add_their_members_as_metrics():
    dec = SparkplugDecoder("spb")
    definition = metric("_types_/Motor", DataType.TEMPLATE)
    definition.template_value.CopyFrom(motor(is_definition=True).template_value)
    birth = birth_of(definition, motor(), decoder=dec)
    entries = decoded(birth)["metrics"]
    assert [(m["name"], m["datatype"], m["value"]) for m in entries if "/" in m["name"]] == [
        ("_types_/Motor", "TEMPLATE", entries[1]["value"]),  # a definition: no members
        ("motor/speed_rpm", "UINT16", 1450),
        ("motor/gearbox/oil_temp_c", "INT8", -5),
    ]
    value = entries[2]["value"]
    assert (value["template_ref"], value["version"], value["is_definition"]) == (
        "Motor",
        "1.2",
        False,
    )
    assert value["parameters"] == {"rated_kw": 7.5}
    assert [m["name"] for m in value["metrics"]] == ["speed_rpm", "gearbox"]
    # NDATA by alias, its members without datatypes: those of the NBIRTH's instance
    data = Payload.Metric(alias=5, timestamp=MS + 1)
    data.template_value.CopyFrom(motor(speed=1500, with_types=False).template_value)
    result = dec.handle(NODE.format("NDATA"), raw(data, seq=1), NOW)
    data_values = values(result)
    assert data_values["motor"]["metrics"][0]["value"] == 1500
    assert {k: v for k, v in data_values.items() if k != "motor"} == {
        "motor/speed_rpm": 1500,
        "motor/gearbox/oil_temp_c": -5,
    }
    assert [m["timestamp"] for m in decoded(result)["metrics"]] == [MS + 1, MS, MS]


def test_properties_and_metadata_travel_with_the_metric():
    props = Payload.PropertySet(keys=["Quality", "engUnit", "limits"])
    props.values.add(type=DataType.INT32, int_value=192)  # spec 6.4.7.1: GOOD
    props.values.add(type=DataType.STRING, string_value="mm/s")
    limits = props.values.add(type=DataType.PROPERTYSET)
    limits.propertyset_value.keys.extend(["high"])
    limits.propertyset_value.values.add(type=DataType.DOUBLE, double_value=11.0)
    m = metric("vibration_mm_s", DataType.DOUBLE, double_value=2.5, properties=props)
    m.metadata.file_name = "trend.csv"
    entry = decoded(birth_of(m))["metrics"][1]
    assert entry["properties"] == {"Quality": 192, "engUnit": "mm/s", "limits": {"high": 11.0}}
    assert entry["metadata"] == {"file_name": "trend.csv"}
    uneven = Payload.PropertySet(keys=["a", "b"])
    uneven.values.add(type=DataType.INT32, int_value=1)
    m = metric("x", DataType.DOUBLE, double_value=2.5, properties=uneven)
    assert reasons([birth_of(m)]) == ["bad_datatype"]


def test_births_declare_each_name_and_alias_once_and_carry_a_bd_seq():
    twice = birth_of(
        metric("a", DataType.DOUBLE, alias=7, double_value=1.0),
        metric("b", DataType.DOUBLE, alias=7, double_value=2.0),
    )
    assert reasons([twice]) == ["duplicate_key"] and twice.rebirth == ("berlin", "line1")
    assert "alias 7 twice" in twice.record.attributes["detail"]
    no_bd_seq = SparkplugDecoder("spb").handle(
        NODE.format("NBIRTH"), raw(metric("a", DataType.DOUBLE, double_value=1.0)), NOW
    )
    assert reasons([no_bd_seq]) == ["bad_birth"]
    not_utf8 = raw(BD_SEQ_METRIC, metric("a", DataType.STRING, string_value="x")).replace(
        b"\x7a\x01x", b"\x7a\x01\xff"
    )
    assert reasons([SparkplugDecoder("spb").handle(NODE.format("NBIRTH"), not_utf8, NOW)]) == [
        "invalid_utf8"
    ]


def test_float32_values_read_as_their_shortest_decimal():
    wire = struct.unpack("<f", struct.pack("<f", 0.1))[0]
    assert values(birth_of(metric("x", DataType.FLOAT, float_value=wire)))["x"] == 0.1
