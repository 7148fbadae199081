"""Fuzzing the Sparkplug B decoder: whatever topic and bytes arrive, `handle` returns a landable
record (accepted `sparkplug` or `quarantine` with a reason other than internal_error) and never
raises; accepted records carry strict JSON in the shape silver reads.

Inputs: random bytes on random topics; valid births and data (every datatype of the 3.0
specification, DataSet, Template, properties) mutated by bit flips, truncations, insertions and
splices; every datatype at and beyond its range, encoded both as pysparkplug writes negative
integers (N-bit two's complement) and as Eclipse Tahu's Java encoder does (sign-extended to the
protobuf field, `setIntValue(((Byte) v).intValue())`); packed arrays as spec 6.4.17 describes.
"""

from __future__ import annotations

import json
import math
import struct
from datetime import UTC, datetime

import pytest
from hypothesis import currently_in_test_context, event, given
from hypothesis import strategies as st
from pysparkplug import DataType
from pysparkplug._protobuf import Payload

from ingestion.landing import to_table
from ingestion.mqtt.sparkplug import MESSAGE_TYPES, Decoded, SparkplugDecoder, SparkplugTopic
from ingestion.quarantine import Reason

pytestmark = pytest.mark.fuzz

NOW = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
MS = 1772344800000
NODE = "spBv1.0/berlin/{}/line1"
DEV = "spBv1.0/berlin/{}/line1/cnc01"
METRIC_KEYS = {"name", "alias", "timestamp", "datatype", "value", "is_null"}
DATATYPE_NAMES = {d.name for d in DataType}
ALLOWED_REASONS = {r.value for r in Reason} - {Reason.INTERNAL_ERROR.value}
BIGINT = range(0, 2**63)


def _strict(token: str):
    raise AssertionError(f"decoded_json holds the non-JSON token {token}")


def check(result: Decoded, topic: str) -> None:
    """The invariant: a Decoded with a landable record; accepted ones hold strict JSON that
    silver's schema can read (bigint aliases and timestamps, a known datatype name)."""
    assert isinstance(result, Decoded)
    record = result.record
    assert record.kind in ("sparkplug", "quarantine")
    if currently_in_test_context():  # the outcomes, in --hypothesis-show-statistics
        event(record.attributes.get("reason_code", "accepted"))
    if record.kind == "quarantine":
        assert record.attributes["reason_code"] in ALLOWED_REASONS
    else:
        assert record.attributes["message_type"] in MESSAGE_TYPES
        doc = json.loads(record.attributes["decoded_json"], parse_constant=_strict)
        assert doc["seq"] is None or 0 <= doc["seq"] <= 255
        for m in doc["metrics"]:
            assert set(m) >= METRIC_KEYS
            assert m["alias"] is None or m["alias"] in BIGINT
            assert m["timestamp"] is None or m["timestamp"] in BIGINT
            assert m["datatype"] in DATATYPE_NAMES
    if result.rebirth is not None:  # asked only of a node whose topic is valid
        assert result.rebirth == SparkplugTopic.parse(topic).node
    to_table([record], "fuzz")  # pyarrow takes it: the landing zone will


# -- a corpus of valid messages ----------------------------------------------------------------
def _metric(name=None, datatype=None, alias=None, **value) -> Payload.Metric:
    m = Payload.Metric(timestamp=MS, **value)
    if name is not None:
        m.name = name
    if datatype is not None:
        m.datatype = datatype
    if alias is not None:
        m.alias = alias
    return m


def _payload(*metrics, seq=None, timestamp=MS) -> bytes:
    p = Payload(timestamp=timestamp)
    if seq is not None:
        p.seq = seq
    p.metrics.extend(metrics)
    return p.SerializeToString()


def _every_datatype() -> list[Payload.Metric]:
    """One metric of each datatype (aliases 10…), as the spec's examples and Tahu encode them."""
    d = DataType
    metrics = [
        _metric("i8", d.INT8, int_value=0xFFFFFFFF),
        _metric("i16", d.INT16, int_value=0x8000),
        _metric("i32", d.INT32, int_value=7),
        _metric("i64", d.INT64, long_value=2**64 - 1),
        _metric("u8", d.UINT8, int_value=255),
        _metric("u16", d.UINT16, int_value=65535),
        _metric("u32", d.UINT32, long_value=2**32 - 1),
        _metric("u64", d.UINT64, long_value=2**64 - 1),
        _metric("f", d.FLOAT, float_value=12.1),
        _metric("d", d.DOUBLE, double_value=float("nan")),
        _metric("b", d.BOOLEAN, boolean_value=True),
        _metric("s", d.STRING, string_value="running"),
        _metric("dt", d.DATETIME, long_value=MS),
        _metric("t", d.TEXT, string_value="Ölstand"),
        _metric("id", d.UUID, string_value="3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
        _metric("by", d.BYTES, bytes_value=b"\x00\xff"),
        _metric("fi", d.FILE, bytes_value=b"PK\x03\x04"),
        _metric("a8", d.INT8_ARRAY, bytes_value=bytes.fromhex("E97B")),
        _metric("a16", d.INT16_ARRAY, bytes_value=bytes.fromhex("D08A3075")),
        _metric("a32", d.INT32_ARRAY, bytes_value=bytes.fromhex("FFFFFFFFFAAFCB12")),
        _metric("a64", d.INT64_ARRAY, bytes_value=bytes(8)),
        _metric("au8", d.UINT8_ARRAY, bytes_value=b"\x17\xfa"),
        _metric("au16", d.UINT16_ARRAY, bytes_value=bytes.fromhex("1E0088CC")),
        _metric("au32", d.UINT32_ARRAY, bytes_value=bytes(4)),
        _metric("au64", d.UINT64_ARRAY, bytes_value=bytes(8)),
        _metric("af", d.FLOAT_ARRAY, bytes_value=struct.pack("<2f", 1.23, math.inf)),
        _metric("ad", d.DOUBLE_ARRAY, bytes_value=struct.pack("<2d", 12.354213, math.nan)),
        _metric("ab", d.BOOLEAN_ARRAY, bytes_value=bytes.fromhex("0C00000034D0")),
        _metric("as", d.STRING_ARRAY, bytes_value=b"ABC\0hello\0"),
        _metric("adt", d.DATETIME_ARRAY, bytes_value=struct.pack("<2q", MS, -1)),
    ]
    ds = Payload.DataSet(num_of_columns=3, columns=["at", "temp_c", "n"], types=[13, 9, 4])
    ds.rows.add().elements.extend(
        [
            Payload.DataSet.DataSetValue(long_value=MS),
            Payload.DataSet.DataSetValue(float_value=21.5),
            Payload.DataSet.DataSetValue(long_value=2**64 - 1),
        ]
    )
    metrics.append(_metric("ds", d.DATASET, dataset_value=ds))
    template = _metric("motor", d.TEMPLATE)
    t = template.template_value
    t.template_ref, t.version, t.is_definition = "Motor", "1", False
    t.parameters.add(name="rated_kw", type=d.FLOAT, float_value=7.5)
    t.metrics.append(_metric("speed", d.UINT16, int_value=1450))
    nested = t.metrics.add(name="gear", datatype=d.TEMPLATE)
    nested.template_value.template_ref = "Gear"
    nested.template_value.metrics.append(_metric("oil_c", d.INT8, int_value=0xFB))
    metrics.append(template)
    props = Payload.PropertySet(keys=["Quality", "engUnit"])
    props.values.add(type=d.INT32, int_value=192)
    props.values.add(type=d.STRING, string_value="mm/s")
    metrics.append(_metric("vib", d.DOUBLE, double_value=2.5, properties=props))
    for alias, m in enumerate(metrics, start=10):
        m.alias = alias
    return metrics


BIRTH_METRICS = _every_datatype()
NBIRTH = _payload(_metric("bdSeq", DataType.INT64, long_value=3), *BIRTH_METRICS, seq=0)
DBIRTH = _payload(*BIRTH_METRICS, seq=1)


def _data(seq: int) -> bytes:
    """Every metric again by alias only, without datatype, as DATA carries them."""
    metrics = []
    for m in BIRTH_METRICS:
        data = Payload.Metric()
        data.CopyFrom(m)
        data.ClearField("name")
        data.ClearField("datatype")
        metrics.append(data)
    return _payload(*metrics, seq=seq)


CORPUS = {
    "NBIRTH": NBIRTH,
    "DBIRTH": DBIRTH,
    "NDATA": _data(2),
    "DDATA": _data(2),
    "DDEATH": _payload(seq=2),
    "NDEATH": _payload(_metric("bdSeq", DataType.INT64, long_value=3), timestamp=None),
    "NCMD": _payload(_metric("Node Control/Rebirth", DataType.BOOLEAN, boolean_value=True)),
    "DCMD": _payload(_metric(alias=10, int_value=1)),
}


def born() -> SparkplugDecoder:
    dec = SparkplugDecoder("fuzz")
    for kind in ("NBIRTH", "DBIRTH"):
        topic = (NODE if kind == "NBIRTH" else DEV).format(kind)
        assert dec.handle(topic, CORPUS[kind], NOW).record.kind == "sparkplug"
    return dec


def topic_of(kind: str) -> str:
    return (DEV if kind.startswith("D") else NODE).format(kind)


def test_the_corpus_is_accepted():
    """The seeds the mutations start from are valid: the fuzz below starts from deep inside."""
    for kind in ("NDATA", "DDATA", "NCMD", "DCMD", "DDEATH", "NDEATH"):
        result = born().handle(topic_of(kind), CORPUS[kind], NOW)
        check(result, topic_of(kind))
        assert result.record.kind == "sparkplug", result.record.attributes


# -- random topics and bytes -------------------------------------------------------------------
LEVELS = st.one_of(
    st.sampled_from(
        ["spBv1.0", "STATE", "berlin", "line1", "cnc01", "", ".", "..", "+", "#", *MESSAGE_TYPES]
    ),
    st.text(max_size=8),
)
TOPICS = st.one_of(
    st.lists(LEVELS, min_size=1, max_size=6).map("/".join),
    st.text(max_size=40),
    st.sampled_from([topic_of(kind) for kind in CORPUS] + ["spBv1.0/STATE/scada", "STATE/scada"]),
)


@given(topic=TOPICS, payload=st.binary(max_size=400))
def test_random_bytes_on_random_topics(topic, payload):
    check(born().handle(topic, payload, NOW, qos=1), topic)


@given(
    topic=st.one_of(st.sampled_from(["spBv1.0/STATE/scada", "STATE/scada"]), TOPICS),
    payload=st.one_of(
        st.text(max_size=80).map(str.encode),
        st.fixed_dictionaries(
            {},
            optional={
                "online": st.one_of(st.booleans(), st.integers(), st.text(max_size=5), st.none()),
                "timestamp": st.one_of(
                    st.integers(), st.floats(), st.booleans(), st.text(max_size=5)
                ),
            },
        ).map(lambda doc: json.dumps(doc).encode()),
    ),
)
def test_state_like_payloads_on_random_topics(topic, payload):
    check(SparkplugDecoder("fuzz").handle(topic, payload, NOW), topic)


# -- mutated valid payloads --------------------------------------------------------------------
@st.composite
def mutated(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(CORPUS)))
    data = bytearray(CORPUS[kind])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "byte"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            other = CORPUS[draw(st.sampled_from(sorted(CORPUS)))]
            start = draw(st.integers(0, len(other)))
            data[at:] = other[start:]
    return topic_of(kind), bytes(data)


@given(message=mutated())
def test_mutated_births_and_data(message):
    topic, payload = message
    check(born().handle(topic, payload, NOW, qos=1), topic)


_FD = Payload.DESCRIPTOR.fields[0]  # FieldDescriptor constants
_EDGES = [0, 1, 127, 128, 255, 256, 2**15, 2**16 - 1, 2**16, 2**31, 2**32 - 1]
_FIELD_VALUES = {
    _FD.TYPE_UINT32: st.one_of(st.sampled_from(_EDGES), st.integers(0, 2**32 - 1)),
    _FD.TYPE_UINT64: st.one_of(
        st.sampled_from([*_EDGES, MS, 253402300800000, 2**32, 2**63 - 1, 2**63, 2**64 - 1]),
        st.integers(0, 2**64 - 1),
    ),
    _FD.TYPE_FLOAT: st.floats(width=32),
    _FD.TYPE_DOUBLE: st.floats(),
    _FD.TYPE_BOOL: st.booleans(),
    _FD.TYPE_STRING: st.text(max_size=12),
    _FD.TYPE_BYTES: st.binary(max_size=24),
}


def _messages(message, out: list) -> list:
    """Every protobuf message with fields in the tree of `message`, itself first (extension
    placeholders have none)."""
    if message.DESCRIPTOR.fields:
        out.append(message)
    for fd, value in message.ListFields():
        if fd.type == fd.TYPE_MESSAGE:
            for item in value if fd.label == fd.LABEL_REPEATED else [value]:
                _messages(item, out)
    return out


@st.composite
def rewritten(draw) -> tuple[str, bytes]:
    """A valid message with a few of its protobuf fields, anywhere in the tree, set to a random
    value of the field's type, cleared, or (an empty sub-message) created: structure-aware
    mutations that reach the datatype rules instead of the protobuf parser."""
    kind = draw(st.sampled_from(sorted(CORPUS)))
    payload = Payload.FromString(CORPUS[kind])
    for _ in range(draw(st.integers(1, 3))):
        message = draw(st.sampled_from(_messages(payload, [])))
        fd = draw(st.sampled_from(list(message.DESCRIPTOR.fields)))
        if draw(st.integers(0, 4)) == 0:
            message.ClearField(fd.name)
        elif fd.type == fd.TYPE_MESSAGE:
            if fd.label == fd.LABEL_REPEATED:
                getattr(message, fd.name).add()
            else:
                getattr(message, fd.name).SetInParent()
        elif fd.label == fd.LABEL_REPEATED:
            getattr(message, fd.name).append(draw(_FIELD_VALUES[fd.type]))
        else:
            setattr(message, fd.name, draw(_FIELD_VALUES[fd.type]))
    return topic_of(kind), payload.SerializeToString()


@given(message=rewritten())
def test_births_and_data_with_rewritten_fields(message):
    topic, payload = message
    check(born().handle(topic, payload, NOW, qos=1), topic)


VALID = st.sampled_from(sorted(CORPUS)).map(lambda kind: (topic_of(kind), CORPUS[kind]))


@given(messages=st.lists(st.one_of(VALID, mutated(), rewritten()), max_size=6))
def test_sequences_of_valid_and_mutated_messages(messages):
    """One node's stream: births, deaths, gaps, redeliveries and broken messages in any order."""
    dec = born()
    for topic, payload in messages:
        check(dec.handle(topic, payload, NOW, qos=1), topic)


# -- every datatype at and beyond its range ----------------------------------------------------
RANGES = {
    DataType.INT8: (-(2**7), 2**7 - 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT8: (0, 2**8 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}
BITS = {dtype: (hi - lo).bit_length() for dtype, (lo, hi) in RANGES.items()}


def _decode_one(m: Payload.Metric) -> Decoded:
    result = SparkplugDecoder("fuzz").handle(
        NODE.format("NBIRTH"),
        _payload(_metric("bdSeq", DataType.INT64, long_value=0), m, seq=0),
        NOW,
    )
    check(result, NODE.format("NBIRTH"))
    return result


def _value_of(result: Decoded):
    return json.loads(result.record.attributes["decoded_json"])["metrics"][1]["value"]


@st.composite
def in_range(draw) -> tuple[DataType, int]:
    dtype = draw(st.sampled_from(sorted(RANGES)))
    lo, hi = RANGES[dtype]
    edges = [lo, lo + 1, hi - 1, hi] + ([-1, 0, 1] if lo < 0 else [0, 1])
    return dtype, draw(st.one_of(st.sampled_from(edges), st.integers(lo, hi)))


@given(case=in_range(), tahu=st.booleans())
def test_integers_in_range_read_back_from_either_encoding(case, tahu):
    """pysparkplug writes a negative as N-bit two's complement (Int8 -1 → 0xFF), Tahu
    sign-extended to the protobuf field (Int8 -1 → 0xFFFFFFFF in int_value)."""
    dtype, value = case
    field = "long_value" if dtype in (DataType.INT64, DataType.UINT64) else "int_value"
    bits = BITS[dtype]
    width = 64 if field == "long_value" else 32
    wire = value % (1 << (width if tahu else bits))
    assert _value_of(_decode_one(_metric("x", dtype, **{field: wire}))) == value


@st.composite
def wires_at_the_edges(draw) -> tuple[DataType, str, int]:
    """An integer datatype, a field (int_value 32 bits, long_value 64) and a wire value next to
    a boundary: of the datatype, of its two's complement, of its sign extension, of the field."""
    dtype = draw(st.sampled_from(sorted(RANGES)))
    field = draw(st.sampled_from(["int_value", "long_value"]))
    width = 64 if field == "long_value" else 32
    bits = BITS[dtype]
    edges = [1 << (bits - 1), 1 << bits, (1 << width) - (1 << (bits - 1)), 1 << width]
    edge = draw(st.sampled_from(edges))
    wire = draw(st.integers(edge - 3, edge + 2))
    return dtype, field, min(max(wire, 0), (1 << width) - 1)


@given(case=wires_at_the_edges())
def test_integer_wires_at_and_beyond_their_range(case):
    dtype, field, wire = case
    lo, hi = RANGES[dtype]
    result = _decode_one(_metric("x", dtype, **{field: wire}))
    width = 64 if field == "long_value" else 32
    if lo == 0:  # unsigned: the value as sent
        expected = wire
    else:  # signed: as N-bit two's complement if it fits N bits, else as sign-extended
        bits = BITS[dtype]
        expected = wire if wire <= hi else wire - (1 << (bits if wire < 1 << bits else width))
    if lo <= expected <= hi:
        assert _value_of(result) == expected
    else:
        assert result.record.attributes["reason_code"] == "value_out_of_range"
        assert "metric 'x'" in result.record.attributes["detail"]


@given(
    datatype=st.integers(0, 40),
    value=st.one_of(
        st.integers(0, 2**32 - 1).map(lambda v: {"int_value": v}),
        st.integers(0, 2**64 - 1).map(lambda v: {"long_value": v}),
        st.floats(width=32).map(lambda v: {"float_value": v}),
        st.floats().map(lambda v: {"double_value": v}),
        st.booleans().map(lambda v: {"boolean_value": v}),
        st.text(max_size=10).map(lambda v: {"string_value": v}),
        st.binary(max_size=24).map(lambda v: {"bytes_value": v}),
        st.just({}),
    ),
    is_null=st.booleans(),
)
def test_any_datatype_with_any_value_field(datatype, value, is_null):
    _decode_one(_metric("x", datatype, is_null=is_null, **value))  # checks the invariant


@given(value=st.floats(width=32))
def test_floats_read_back_as_the_same_float32(value):
    result = _decode_one(_metric("x", DataType.FLOAT, float_value=value))
    decoded = _value_of(result)
    if math.isfinite(value):
        assert struct.pack("<f", decoded) == struct.pack("<f", value)
    else:
        assert decoded == ("NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity")


@given(ms=st.integers(-(2**63), 2**63 - 1))
def test_datetimes_in_and_beyond_the_years_1_to_9999(ms):
    result = _decode_one(_metric("x", DataType.DATETIME, long_value=ms % 2**64))
    if -62135596800000 <= ms <= 253402300799999:
        parsed = datetime.fromisoformat(_value_of(result))
        assert round((parsed - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000) == ms
    else:
        assert result.record.attributes["reason_code"] == "value_out_of_range"


ARRAYS = {
    DataType.INT8_ARRAY: ("b", st.integers(-(2**7), 2**7 - 1)),
    DataType.INT16_ARRAY: ("h", st.integers(-(2**15), 2**15 - 1)),
    DataType.INT32_ARRAY: ("i", st.integers(-(2**31), 2**31 - 1)),
    DataType.INT64_ARRAY: ("q", st.integers(-(2**63), 2**63 - 1)),
    DataType.UINT8_ARRAY: ("B", st.integers(0, 2**8 - 1)),
    DataType.UINT16_ARRAY: ("H", st.integers(0, 2**16 - 1)),
    DataType.UINT32_ARRAY: ("I", st.integers(0, 2**32 - 1)),
    DataType.UINT64_ARRAY: ("Q", st.integers(0, 2**64 - 1)),
    DataType.DOUBLE_ARRAY: ("d", st.floats(allow_nan=False, allow_infinity=False)),
}


@given(data=st.data(), dtype=st.sampled_from(sorted(ARRAYS)))
def test_numeric_arrays_read_back_element_by_element(data, dtype):
    fmt, elements = ARRAYS[dtype]
    items = data.draw(st.lists(elements, max_size=12))
    packed = struct.pack(f"<{len(items)}{fmt}", *items)
    assert _value_of(_decode_one(_metric("x", dtype, bytes_value=packed))) == items


@given(items=st.lists(st.booleans(), max_size=40), padding=st.integers(0, 255))
def test_boolean_arrays_read_back_with_any_padding_bits(items, padding):
    """Tahu packs the first boolean in the high bit; the unused low bits are "do not care"."""
    body = bytearray((len(items) + 7) // 8)
    for i, bit in enumerate(items):
        body[i // 8] |= bit << (7 - i % 8)
    if items and len(items) % 8:
        body[-1] |= padding & ((1 << (8 - len(items) % 8)) - 1)
    packed = len(items).to_bytes(4, "little") + bytes(body)
    assert _value_of(_decode_one(_metric("x", DataType.BOOLEAN_ARRAY, bytes_value=packed))) == items


@given(items=st.lists(st.text().filter(lambda s: "\0" not in s), max_size=6))
def test_string_arrays_read_back(items):
    packed = b"".join(s.encode() + b"\0" for s in items)
    assert _value_of(_decode_one(_metric("x", DataType.STRING_ARRAY, bytes_value=packed))) == items
