"""Fuzzing the OPC UA value path: whatever a server sends, a data change becomes a strict-JSON
value record or a quarantine record, never an exception out of the subscription callback.

Values come three ways: Python values of every VariantType (scalars, arrays, matrices, NaN and
infinities, structures, ExtensionObjects, Variants in Variants), the same after a round trip
through asyncua's binary encoding (the shapes the client really decodes), and random bytes
decoded as a Variant (what a broken or hostile server may send).
"""

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua import ua_binary
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from ingestion.landing import LandingZone
from ingestion.opcua.connector import MonitoredVariable, OpcUaConnector, OpcUaSourceConfig

pytestmark = pytest.mark.fuzz

V = ua.VariantType
T = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
VARIABLE = MonitoredVariable(None, "ns=2;s=fuzz", "Fuzz&/Halle/Wert", "urn:fuzz")
INT_RANGES = {
    V.SByte: (-(2**7), 2**7 - 1),
    V.Byte: (0, 2**8 - 1),
    V.Int16: (-(2**15), 2**15 - 1),
    V.UInt16: (0, 2**16 - 1),
    V.Int32: (-(2**31), 2**31 - 1),
    V.UInt32: (0, 2**32 - 1),
    V.Int64: (-(2**63), 2**63 - 1),
    V.UInt64: (0, 2**64 - 1),
}
STRUCTURES = sorted(ua.extension_objects_by_typeid.values(), key=lambda c: c.__name__)

texts = st.text() | st.sampled_from(["\udcff", "a\ud800b", "Süd/Nord&", ""])  # lone surrogates
node_ids = st.one_of(
    st.builds(ua.NodeId, st.integers(0, 2**32 - 1), st.integers(0, 2**16 - 1)),
    st.builds(ua.NodeId, st.text(min_size=1), st.integers(0, 2**16 - 1)),
    st.builds(ua.NodeId, st.uuids(), st.integers(0, 2**16 - 1)),
    st.builds(
        ua.NodeId,
        st.binary(min_size=1),
        st.integers(0, 2**16 - 1),
        st.just(ua.NodeIdType.ByteString),
    ),
)
expanded_node_ids = st.builds(
    ua.ExpandedNodeId,
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**16 - 1),
    NamespaceUri=st.none() | st.text(),
    ServerIndex=st.integers(0, 2**32 - 1),
)
datetimes = st.datetimes(
    min_value=datetime(1601, 1, 1),
    timezones=st.none()
    | st.just(UTC)
    | st.builds(timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23))),
)


def structure_instances() -> st.SearchStrategy:
    def make(cls):
        try:
            return cls()
        except Exception:  # a class that needs arguments: not this time
            return None

    return st.sampled_from(STRUCTURES).map(make).filter(lambda v: v is not None)


SCALARS: dict[ua.VariantType, st.SearchStrategy] = {
    V.Boolean: st.booleans(),
    **{t: st.integers(lo, hi) for t, (lo, hi) in INT_RANGES.items()},
    V.Float: st.floats(width=32),  # NaN, ±Infinity, -0.0 included
    V.Double: st.floats(),
    V.String: texts,
    V.DateTime: datetimes,
    V.Guid: st.uuids(),
    V.ByteString: st.binary(),
    V.XmlElement: st.builds(ua.XmlElement, texts),
    V.NodeId: node_ids,
    V.ExpandedNodeId: expanded_node_ids,
    V.StatusCode: st.builds(ua.StatusCode, st.integers(0, 2**32 - 1)),
    V.QualifiedName: st.builds(ua.QualifiedName, texts, st.integers(0, 2**16 - 1)),
    V.LocalizedText: st.builds(ua.LocalizedText, st.none() | texts, st.none() | texts),
    V.ExtensionObject: st.one_of(
        st.builds(ua.ExtensionObject, node_ids, st.none() | st.binary()),
        structure_instances(),
    ),
    V.DiagnosticInfo: st.builds(
        ua.DiagnosticInfo,
        SymbolicId=st.none() | st.integers(-(2**31), 2**31 - 1),
        AdditionalInfo=st.none() | texts,
        InnerStatusCode=st.none() | st.builds(ua.StatusCode, st.integers(0, 2**32 - 1)),
    ),
}
SCALARS[V.Variant] = st.sampled_from(sorted(SCALARS, key=int)).flatmap(
    lambda t: SCALARS[t].map(lambda v: ua.Variant(v, t))
)
SCALARS[V.DataValue] = st.builds(
    ua.DataValue,
    SCALARS[V.Variant],
    st.builds(ua.StatusCode, st.integers(0, 2**32 - 1)),
    SourceTimestamp=st.none() | datetimes,
)


@st.composite
def variants(draw) -> ua.Variant:
    """A Variant of any type: a scalar, an array, or a matrix (flat or nested as decoded)."""
    vtype = draw(st.sampled_from(sorted(SCALARS, key=int)))
    element = SCALARS[vtype]
    shape = draw(st.sampled_from(["scalar", "array", "matrix"]))
    if shape == "scalar":
        return ua.Variant(draw(element), vtype)
    if shape == "array":
        return ua.Variant(draw(st.lists(element, max_size=5)), vtype, is_array=True)
    rows, cols = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    flat = draw(st.lists(element, min_size=rows * cols, max_size=rows * cols))
    nested = [flat[r * cols : (r + 1) * cols] for r in range(rows)]
    return ua.Variant(draw(st.sampled_from([flat, nested])), vtype, Dimensions=[rows, cols])


wild = st.one_of(  # what no decoder returns, but a defect or a future asyncua might
    st.sets(st.integers(), max_size=3),
    st.complex_numbers(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.builds(object),
    st.recursive(st.floats() | st.none(), lambda inner: st.lists(inner, max_size=3), max_leaves=20),
)


def no_constants(token: str):
    raise AssertionError(f"{token} is not strict JSON")


def land(variant: object) -> tuple[str, str]:
    """Hand one data change to the connector: (kind, variant type or reason) of what lands."""
    connector = OpcUaConnector(
        OpcUaSourceConfig(name="fuzz", endpoint="opc.tcp://fuzz:4840"), LandingZone("/nonexistent")
    )
    connector._namespaces = ["http://opcfoundation.org/UA/", "urn:other", "urn:fuzz"]
    dv = ua.DataValue(Value=variant, SourceTimestamp=T)
    record = connector.value_record(VARIABLE, dv, T)
    connector._take(record)
    s = connector.stats
    assert s.received == s.accepted + s.quarantined == 1
    if record.kind == "quarantine":
        reason = record.attributes["reason_code"]
        assert reason in ("bad_datatype", "internal_error")
        assert record.payload and record.record_id
        event(f"quarantined: {reason}")
        return "quarantine", reason
    assert record.kind == "opcua"
    value = json.loads(record.payload.decode("utf-8"), parse_constant=no_constants)
    vtype = record.attributes["variant_type"]
    if vtype in ("Float", "Double") and isinstance(variant, ua.Variant) and not variant.is_array:
        x = variant.Value
        expected = (
            "NaN" if math.isnan(x) else x if math.isfinite(x) else ("-" * (x < 0)) + "Infinity"
        )
        assert value == expected
    event(f"landed: {vtype}")
    return "opcua", vtype


@given(variants())
def test_every_variant_lands_as_strict_json_or_is_quarantined(variant):
    _, what = land(variant)
    assert what != "internal_error", "a Variant of a known type is never a defect of ours"


def decoded(wire: bytes) -> ua.Variant:
    """The Variant asyncua's client decodes from these bytes; what it rejects never reaches us."""
    try:
        return ua_binary.variant_from_binary(Buffer(wire))
    except Exception:
        assume(False)


# An array of Null reads no bytes per element: asyncua would build a list as long as the random
# length says (up to 2**31 Nones, an out-of-memory kill, not a finding about us). The masks of a
# Null array (0x80, 0xC0) become Boolean arrays (0x81, 0xC1), which need a byte per element.
NO_NULL_ARRAYS = bytes.maketrans(b"\x80\xc0", b"\x81\xc1")


@st.composite
def wire_variants(draw) -> bytes:
    """A Variant's encoding mask (type, array and dimension bits), a small array length, then
    random bytes: random enough to break decoders, ordered enough to decode now and then."""
    mask = draw(st.integers(0, 25)) | draw(st.sampled_from([0, 0x80, 0xC0]))
    wire = bytes([mask])
    if mask & 0x80:
        wire += draw(st.integers(-1, 4)).to_bytes(4, "little", signed=True)
    return (wire + draw(st.binary(max_size=48))).translate(NO_NULL_ARRAYS)


@given(variants())
def test_what_the_client_decodes_from_the_wire_lands_or_is_quarantined(variant):
    try:
        wire = ua_binary.variant_to_binary(variant)
    except Exception:  # values asyncua cannot encode cannot come over the wire either
        assume(False)
    _, what = land(decoded(wire))
    assert what != "internal_error"


@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(wire_variants())  # most random bytes do not decode: that is the point
def test_random_bytes_decoded_as_a_variant_land_or_are_quarantined(wire):
    _, what = land(decoded(wire))
    assert what != "internal_error"


@given(wild)
def test_values_no_decoder_returns_are_quarantined_never_raised(value):
    land(ua.Variant(value, V.ExtensionObject))
