"""Read an OPC UA server's address space for onboarding: every variable below a root with its
node id by namespace URI, browse path, data type, current value, engineering unit and range.

Browsing reuses the connector's `browse_variables` (one Browse per node, level by level); the
attributes and properties are then read in batches, so a few thousand variables take seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from asyncua import Client, Node, ua

from ingestion.opcua.address_space import READ_CHUNK, browse_variables, resolve_root
from ingestion.opcua.connector import OpcUaConnector, OpcUaSourceConfig
from ingestion.opcua.paths import parse_name, split_path, unescape_name

_PROPERTIES = ("EngineeringUnits", "EURange", "EnumStrings", "EnumValues")


@dataclass
class OpcUaVariable:
    """One variable as discovery saw it."""

    node_id: str  # as the server numbers it: ns=3;s=Line1.Press01.Temperature
    namespace_uri: str
    browse_path: str  # below the root, names escaped (Part 4 Annex A): Halle 2&/Nord/Temperature
    data_type: str  # the built-in type of the value (Double, Int32, String, …)
    data_type_name: str = ""  # the declared DataType when it is not built in (an enumeration, …)
    value: Any = None
    unit: str | None = None  # EngineeringUnits DisplayName
    eu_range: tuple[float, float] | None = None
    enum_strings: list[str] | None = None  # names of the codes 0, 1, … of an enumeration
    description: str = ""

    @property
    def identifier(self) -> str:
        """The node id without its namespace index: `s=Line1.Press01.Temperature`, `i=1001`."""
        return re.sub(r"^ns=\d+;", "", self.node_id)

    @property
    def node(self) -> str:
        """The node id by namespace URI, as plant model rules and silver name it."""
        return f"nsu={self.namespace_uri};{self.identifier}" if self.namespace_uri else self.node_id

    @property
    def browse_name(self) -> str:
        """The variable's own browse name, unescaped: `Temp/Ist` for the path `…/Temp&/Ist`."""
        return unescape_name(split_path(self.browse_path)[-1])


@dataclass
class OpcUaScan:
    """What one discovery of an OPC UA server found."""

    endpoint: str
    root: list[str]
    namespaces: list[str] = field(default_factory=list)
    variables: list[OpcUaVariable] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def root_names(self) -> list[str]:
        """The root's browse names below Objects, without namespace (`2:acme` -> acme)."""
        names = [parse_name(part).name for part in self.root]
        return [n for n in names if n not in ("Root", "Objects")]


def _chunks(items: list, size: int = READ_CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _read(client: Client, nodes: list[Node], attr: ua.AttributeIds) -> list[ua.DataValue]:
    out: list[ua.DataValue] = []
    for chunk in _chunks(nodes):
        out.extend(await client.read_attributes(chunk, attr))
    return out


def _plain(value: Any) -> Any:
    """A value as discovery reports it: LocalizedText as its text, the rest unchanged."""
    if hasattr(value, "Text") and hasattr(value, "Locale"):
        return value.Text
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def _properties(
    client: Client, nodes: list[Node], gate: asyncio.Semaphore
) -> list[dict[str, Any]]:
    """Per node the values of its EngineeringUnits, EURange, EnumStrings and EnumValues."""

    async def refs(node: Node) -> list[ua.ReferenceDescription]:
        async with gate:
            return await node.get_children_descriptions(refs=ua.ObjectIds.HasProperty)

    found = await asyncio.gather(*(refs(n) for n in nodes))
    wanted: list[tuple[int, str, Node]] = []
    for i, descriptions in enumerate(found):
        for d in descriptions:
            if d.BrowseName.Name in _PROPERTIES:
                plain = ua.NodeId(d.NodeId.Identifier, d.NodeId.NamespaceIndex, d.NodeId.NodeIdType)
                wanted.append((i, d.BrowseName.Name, client.get_node(plain)))
    values = await _read(client, [n for _, _, n in wanted], ua.AttributeIds.Value)
    out: list[dict[str, Any]] = [{} for _ in nodes]
    for (i, name, _), dv in zip(wanted, values, strict=True):
        if dv.StatusCode is None or dv.StatusCode.is_good():
            out[i][name] = dv.Value.Value if dv.Value is not None else None
    return out


def _enum_names(props: dict[str, Any]) -> list[str] | None:
    if props.get("EnumStrings"):
        return [str(_plain(s)) for s in props["EnumStrings"]]
    values = props.get("EnumValues")
    if values:
        by_code = {int(v.Value): str(_plain(v.DisplayName)) for v in values}
        if set(by_code) == set(range(len(by_code))):
            return [by_code[i] for i in range(len(by_code))]
    return None


async def _connect(config: OpcUaSourceConfig, certificate_base: Path | None) -> Client:
    client = Client(config.endpoint, timeout=10)
    # The connector's own login and certificate handling; it reads only `config` and, for a
    # certificate, `zone.root` (no landing zone is written during discovery).
    holder = SimpleNamespace(
        config=config, zone=SimpleNamespace(root=certificate_base or Path("."))
    )
    await OpcUaConnector._secure(holder, client)  # type: ignore[arg-type]
    await client.connect()
    return client


async def scan_opcua_async(
    config: OpcUaSourceConfig, *, certificate_base: Path | None = None, concurrency: int = 32
) -> OpcUaScan:
    """Browse `config.root` and read every variable's type, value, unit, range and enum names.

    Standard nodes (namespace 0, such as the Server object) are left out.
    """
    started = time.monotonic()
    client = await _connect(config, certificate_base)
    try:
        namespaces = list(await client.get_namespace_array())
        root = await resolve_root(client, config.root, namespaces)
        found = await browse_variables(
            root, config.include, config.exclude, namespaces=namespaces, concurrency=concurrency
        )
        found = [v for v in found if v.node.nodeid.NamespaceIndex != 0]
        nodes = [v.node for v in found]
        values = await _read(client, nodes, ua.AttributeIds.Value)
        types = await _read(client, nodes, ua.AttributeIds.DataType)
        descriptions = await _read(client, nodes, ua.AttributeIds.Description)
        gate = asyncio.Semaphore(concurrency)
        props = await _properties(client, nodes, gate)
        # Declared data types that are not built in (enumerations, structures): their names and,
        # for enumerations, the names of the codes.
        custom = sorted(
            {
                dv.Value.Value.to_string()
                for dv in types
                if dv.Value is not None
                and isinstance(dv.Value.Value, ua.NodeId)
                and dv.Value.Value.NamespaceIndex != 0
            }
        )
        custom_nodes = [client.get_node(t) for t in custom]
        type_names = await _read(client, custom_nodes, ua.AttributeIds.BrowseName)
        type_props = await _properties(client, custom_nodes, gate)
        declared = {
            t: (
                dv.Value.Value.Name if dv.Value is not None and dv.Value.Value else t,
                _enum_names(p),
            )
            for t, dv, p in zip(custom, type_names, type_props, strict=True)
        }
        variables = []
        for v, value, dtype, desc, prop in zip(
            found, values, types, descriptions, props, strict=True
        ):
            variant = value.Value.VariantType.name if value.Value is not None else "Null"
            type_id = dtype.Value.Value if dtype.Value is not None else None
            type_name, enum_strings = "", _enum_names(prop)
            if isinstance(type_id, ua.NodeId):
                if type_id.NamespaceIndex == 0:
                    type_name = ua.ObjectIdNames.get(type_id.Identifier, "")
                else:
                    type_name, type_enums = declared[type_id.to_string()]
                    enum_strings = enum_strings or type_enums
            built_in = variant if variant != "Null" else type_name or "Null"
            eu = prop.get("EngineeringUnits")
            rng = prop.get("EURange")
            variables.append(
                OpcUaVariable(
                    node_id=v.node_id,
                    namespace_uri=v.namespace_uri,
                    browse_path=v.browse_path,
                    data_type=built_in,
                    data_type_name=type_name if type_name != built_in else "",
                    value=_plain(value.Value.Value) if value.Value is not None else None,
                    unit=(str(_plain(eu.DisplayName)) or None) if eu is not None else None,
                    eu_range=(float(rng.Low), float(rng.High)) if rng is not None else None,
                    enum_strings=enum_strings,
                    description=str(_plain(desc.Value.Value) or "") if desc.Value else "",
                )
            )
    finally:
        with contextlib.suppress(Exception):  # the server may be gone already; what we read stands
            await client.disconnect()
    return OpcUaScan(
        endpoint=config.endpoint,
        root=list(config.root),
        namespaces=namespaces,
        variables=variables,
        seconds=time.monotonic() - started,
    )


def parse_root(root: str) -> list[str]:
    """A root as one text -> the browse names of the ingestion config, e.g.
    `0:Objects/2:Halle 2&/Nord` -> ['0:Objects', '2:Halle 2/Nord'].

    Names are escaped as in a browse path (`&/` for a `/` in a name); an element
    `nsu=<uri>;<name>` keeps its URI as written (a URI may hold `/`).
    """
    parts: list[str] = []
    rest = root.lstrip("/")
    while rest:
        prefix = ""
        if rest.startswith("nsu=") and ";" in rest:
            uri, _, rest = rest.partition(";")
            prefix = uri + ";"
        element, *more = split_path(rest)
        rest = "/".join(more).lstrip("/")  # the rest is still escaped: split_path keeps escapes
        m = re.fullmatch(r"(\d+:)(.*)", element, re.DOTALL)
        if m and not prefix:
            prefix, element = m.group(1), m.group(2)
        if element:
            parts.append(prefix + unescape_name(element))
    return parts or ["0:Objects"]


def scan_opcua(
    endpoint: str,
    root: str | list[str] = "0:Objects",
    *,
    username: str | None = None,
    password_env: str | None = None,
    security_policy: str = "None",
    certificate_dir: Path | None = None,
) -> OpcUaScan:
    """`scan_opcua_async` from synchronous code (the CLI, tests)."""
    config = OpcUaSourceConfig(
        name="discover",
        endpoint=endpoint,
        root=parse_root(root) if isinstance(root, str) else root,
        username=username,
        password_env=password_env,
        security_policy=security_policy,  # type: ignore[arg-type]
        certificate_dir=certificate_dir,
    )
    return asyncio.run(scan_opcua_async(config, certificate_base=Path.home() / ".plantlake"))
