"""Browse paths escaped as OPC UA Part 4 Annex A escapes them, namespaces by index or URI, and
include/exclude as regular expressions."""

import pytest
from asyncua import ua

from ingestion.discover.opcua import OpcUaVariable, parse_root
from ingestion.opcua.connector import OpcUaSourceConfig
from ingestion.opcua.paths import (
    PathFilter,
    UnknownNamespace,
    escape_name,
    join_path,
    parse_name,
    parse_node_id,
    split_path,
    unescape_name,
)

NAMESPACES = ["http://opcfoundation.org/UA/", "urn:server", "urn:werk-sued:presses"]


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("Temperatur", "Temperatur"),
        ("Presse 7; Halle 2/Nord", "Presse 7; Halle 2&/Nord"),
        ("Werk&Co", "Werk&&Co"),
        ("Mill.3", "Mill&.3"),
        ("a<b>:#!", "a&<b&>&:&#&!"),  # every reserved character of Annex A
        ("Axis[6]", "Axis[6]"),  # brackets are not reserved
    ],
)
def test_browse_names_are_escaped_as_annex_a_relative_paths(name, escaped):
    assert escape_name(name) == escaped
    assert unescape_name(escaped) == name


def test_a_path_splits_only_at_unescaped_slashes():
    names = ["Werk Süd", "Presse 7; Halle 2/Nord", "a&/", "Zustand"]
    path = join_path(names)
    assert path == "Werk Süd/Presse 7; Halle 2&/Nord/a&&&//Zustand"
    assert [unescape_name(p) for p in split_path(path)] == names


@pytest.mark.parametrize("text", ["a&", "a&b"])
def test_a_lone_or_unknown_escape_is_an_error(text):
    with pytest.raises(ValueError, match="'&' escapes one of"):
        unescape_name(text)


def test_root_elements_name_their_namespace_by_index_or_uri():
    assert parse_name("2:acme") == parse_name("2:acme")
    assert (parse_name("2:acme").index, parse_name("2:acme").name) == (2, "acme")
    by_uri = parse_name("nsu=urn:werk-sued:presses;Presse 7: Halle")
    assert (by_uri.uri, by_uri.name, by_uri.has_namespace) == (
        "urn:werk-sued:presses",
        "Presse 7: Halle",
        True,
    )
    bare = parse_name("acme")  # namespace 0, as Annex A reads a name without prefix
    assert (bare.index, bare.uri, bare.has_namespace) == (None, None, False)
    with pytest.raises(ValueError, match="write nsu=<namespace URI>;<browse name>"):
        parse_name("nsu=urn:x")


def test_node_ids_are_resolved_through_the_namespace_array():
    by_uri = parse_node_id("nsu=urn:werk-sued:presses;s=E3.Gut", NAMESPACES)
    assert by_uri.to_string() == "ns=2;s=E3.Gut"
    assert parse_node_id("ns=5;i=7", NAMESPACES) == ua.NodeId(7, 5)
    assert parse_node_id("i=85", NAMESPACES) == ua.NodeId(85, 0)
    with pytest.raises(UnknownNamespace, match="the server has no namespace urn:nobody"):
        parse_node_id("nsu=urn:nobody;i=1", NAMESPACES)


def test_a_text_root_is_split_into_the_config_s_browse_names():
    assert parse_root("0:Objects/2:Presse 7; Halle 2&/Nord/Werk&&Co") == [
        "0:Objects",
        "2:Presse 7; Halle 2/Nord",
        "Werk&Co",
    ]
    # a URI may hold '/': it runs to the ';'
    assert parse_root("/0:Objects/nsu=http://acme.example/UA/;Halle&/2") == [
        "0:Objects",
        "nsu=http://acme.example/UA/;Halle/2",
    ]


def test_discovery_names_a_variable_by_its_unescaped_browse_name():
    v = OpcUaVariable("ns=2;i=1", "urn:x", "Halle 2&/Nord/Temp&/Ist", "Double")
    assert v.browse_name == "Temp/Ist"


def test_include_and_exclude_are_regular_expressions_on_the_whole_path_or_node_id():
    keep = PathFilter(
        include=[r".*/Axis\[6\]/.*", r".*/Axis[67]/.*", "nsu=urn:werk-sued:presses;s=E3\\..*"],
        exclude=[r".*/Axis[6]/.*"],
    )
    node = "nsu=urn:other;i=1"
    assert keep.matches("Halle/Axis[6]/pos", node)  # the literal name Axis[6]
    assert not keep.matches("Halle/Axis6/pos", node)  # included by [67], excluded by [6]
    assert keep.matches("Halle/Axis7/pos", node)
    assert not PathFilter(["Halle/Axis7"], []).matches("Halle/Axis7/pos", node)  # the whole path
    assert keep.matches("anything", "nsu=urn:werk-sued:presses;s=E3.Gut")  # by node id


def test_a_pattern_that_is_not_a_regular_expression_is_a_config_error_naming_the_key():
    with pytest.raises(ValueError) as raised:
        OpcUaSourceConfig(name="x", endpoint="opc.tcp://h:4840", include=[".*", "*/press01/*"])
    error = raised.value.errors()[0]
    assert error["loc"] == ("include", 1)
    assert error["msg"] == (
        "Value error, not a regular expression: nothing to repeat at position 0; patterns are "
        "regular expressions, not globs (for the glob '*/press01/*' write '.*/press01/.*')"
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("nodes", ["ns=2;x=1"], "write a node id as ns=<index>;s=<name>"),
        ("nodes", ["nsu=urn:x;g=not-a-guid"], "nsu=urn:x;g=not-a-guid"),
        ("root", ["0:Objects", "nsu=urn:x"], "write nsu=<namespace URI>;<browse name>"),
        ("root", ["0:Objects", ""], "a browse name cannot be empty"),
    ],
)
def test_nodes_and_root_elements_are_checked_with_the_config(key, value, message):
    with pytest.raises(ValueError, match=message):
        OpcUaSourceConfig(name="x", endpoint="opc.tcp://h:4840", **{key: value})


def test_defaults_include_everything():
    config = OpcUaSourceConfig(name="x", endpoint="opc.tcp://h:4840")
    assert (config.include, config.exclude, config.client_log_level) == ([".*"], [], "WARNING")
