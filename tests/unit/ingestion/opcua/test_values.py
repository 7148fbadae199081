"""OPC UA values as the JSON text of `bronze.opcua_values.value`: one worked example per kind."""

import json
import math
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from asyncua import ua

from ingestion.opcua.values import UnconvertibleValue, value_text

NAMESPACES = ["http://opcfoundation.org/UA/", "urn:other", "urn:plant"]
V = ua.VariantType


@pytest.mark.parametrize(
    ("variant", "text"),
    [
        (ua.Variant(None), "null"),
        (ua.Variant(True), "true"),
        (ua.Variant(-7, V.SByte), "-7"),
        (ua.Variant(2**64 - 1, V.UInt64), "18446744073709551615"),
        (ua.Variant(1.5, V.Float), "1.5"),
        (ua.Variant(0.1, V.Double), "0.1"),  # repr: the double round-trips
        (ua.Variant(math.nan, V.Double), '"NaN"'),
        (ua.Variant(math.inf, V.Float), '"Infinity"'),
        (ua.Variant(-math.inf, V.Double), '"-Infinity"'),
        (ua.Variant('Süd "7"\n', V.String), '"Süd \\"7\\"\\n"'),  # Unicode kept, JSON escapes
        (ua.Variant(datetime(2026, 3, 3, 5, 0, tzinfo=UTC)), '"2026-03-03T05:00:00Z"'),
        # 06:00:00.000250 at UTC+1 is 05:00:00.000250 UTC
        (
            ua.Variant(datetime(2026, 3, 3, 6, 0, 0, 250, tzinfo=timezone(timedelta(hours=1)))),
            '"2026-03-03T05:00:00.000250Z"',
        ),
        (ua.Variant(datetime(1601, 1, 1, tzinfo=UTC)), '"1601-01-01T00:00:00Z"'),  # OPC UA's 0
        (ua.Variant(uuid.UUID(int=1)), '"00000000-0000-0000-0000-000000000001"'),
        (ua.Variant(b"\x00\xff", V.ByteString), '"AP8="'),  # base64
        (ua.Variant(ua.XmlElement("<a/>"), V.XmlElement), '"<a/>"'),
        (ua.Variant(ua.NodeId(85, 0)), '"i=85"'),  # namespace 0 needs no URI
        (ua.Variant(ua.NodeId("Press.7", 2)), '"nsu=urn:plant;s=Press.7"'),  # index -> URI
        (ua.Variant(ua.NodeId("x", 9)), '"ns=9;s=x"'),  # an index the array does not name
        (
            ua.Variant(ua.ExpandedNodeId(5, 0, NamespaceUri="urn:e", ServerIndex=1)),
            '"svr=1;nsu=urn:e;i=5"',
        ),
        (ua.Variant(ua.QualifiedName("Temp", 2)), '{"Name":"Temp","NamespaceIndex":2}'),
        (ua.Variant(ua.LocalizedText("Presse", "de-DE")), '{"Text":"Presse","Locale":"de-DE"}'),
        (ua.Variant(ua.LocalizedText("Press")), '{"Text":"Press","Locale":null}'),
        (
            ua.Variant(ua.StatusCode(ua.StatusCodes.BadSensorFailure)),
            '{"Code":2156658688,"Symbol":"BadSensorFailure"}',
        ),
        (ua.Variant(ua.Range(0.0, math.inf)), '{"Low":0.0,"High":"Infinity"}'),
        (
            ua.Variant(ua.ExtensionObject(ua.NodeId(4711, 2), b"\x01\x02\xff")),
            '{"TypeId":"nsu=urn:plant;i=4711","Encoding":1,"Body":"AQL/"}',
        ),
        (
            ua.Variant(ua.ExtensionObject(ua.NodeId(4711, 2))),
            '{"TypeId":"nsu=urn:plant;i=4711","Encoding":0,"Body":null}',
        ),
        (ua.Variant([[1, 2], [3, 4]], V.Int32), "[[1,2],[3,4]]"),  # a matrix, nested
        # a matrix as the wire may hold it: flat values and their dimensions
        (ua.Variant([1, 2, 3, 4, 5, 6], V.Int32, Dimensions=[3, 2]), "[[1,2],[3,4],[5,6]]"),
        (ua.Variant([], V.Double), "[]"),
        (
            ua.Variant([ua.Variant(1.5), ua.Variant("a"), ua.Variant(math.nan)], V.Variant),
            '[1.5,"a","NaN"]',  # Variants in a Variant: their values
        ),
        (
            ua.Variant(ua.DataValue(ua.Variant(2.0), ua.StatusCode(0)), V.DataValue),
            '{"Value":2.0,"StatusCode":{"Code":0,"Symbol":"Good"},"SourceTimestamp":null,'
            '"ServerTimestamp":null,"SourcePicoseconds":null,"ServerPicoseconds":null}',
        ),
    ],
    ids=lambda v: v.VariantType.name if isinstance(v, ua.Variant) else None,
)
def test_every_kind_of_value_is_strict_json(variant, text):
    assert value_text(variant, NAMESPACES) == text
    json.loads(text, parse_constant=lambda token: pytest.fail(f"{token} is not JSON"))


def test_a_structure_lands_as_its_fields_recursively():
    eu = ua.EUInformation(
        NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
        UnitId=4408652,
        DisplayName=ua.LocalizedText("°C"),
        Description=ua.LocalizedText("degree Celsius", "en"),
    )
    assert json.loads(value_text(ua.Variant([eu]))) == [
        {
            "NamespaceUri": "http://www.opcfoundation.org/UA/units/un/cefact",
            "UnitId": 4408652,
            "DisplayName": {"Text": "°C", "Locale": None},
            "Description": {"Text": "degree Celsius", "Locale": "en"},
        }
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1, 2}, "no JSON form for a builtins.set"),
        (complex(1, 2), "no JSON form for a builtins.complex"),
        ("\udcff", "text that is not valid UTF-8"),  # asyncua decodes bad bytes to surrogates
        (ua.Variant([1, 2, 3], V.Int32, Dimensions=[2, 2]), "a matrix of [2, 2] holds 3 values"),
        (datetime.min.replace(tzinfo=timezone(timedelta(hours=1))), "outside the representable"),
    ],
)
def test_a_value_without_a_json_form_says_why(value, message):
    with pytest.raises(UnconvertibleValue, match=message.replace("[", r"\[").replace("]", r"\]")):
        value_text(value)


def test_a_value_nested_without_end_is_refused_not_a_recursion_error():
    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(UnconvertibleValue, match="nested deeper than 64"):
        value_text(deep)
