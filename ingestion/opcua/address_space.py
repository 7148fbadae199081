"""The part of an OPC UA server's address space a source reads: its root and nodes resolved
(namespaces by index or URI), the variables below the root browsed and filtered. What the
config names but the server lacks is an `AddressSpaceError` naming the key and the fix.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from asyncua import Client, Node, ua

from ingestion.opcua.paths import (
    NameRef,
    PathFilter,
    UnknownNamespace,
    escape_name,
    parse_name,
    parse_node_id,
    qualified_name,
    uri_node_id,
)

READ_CHUNK = 500  # nodes per Read request: below every server's MaxNodesPerRead we met


class AddressSpaceError(LookupError):
    """A root or node of the config is not in the server's address space; names the key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class MonitoredVariable:
    node: Node
    node_id: str  # as the server numbers it: ns=3;s=Line1.Press01.Temperature
    browse_path: str  # below the root, names escaped (Part 4 Annex A): Halle 2&/Nord/Zustand
    namespace_uri: str = ""


async def browse_variables(
    root: Node,
    include: list[str],
    exclude: list[str],
    *,
    namespaces: list[str] | None = None,
    concurrency: int = 32,
) -> list[MonitoredVariable]:
    """Every Variable below `root` whose escaped browse path (`a/b&/c/d`) or node id by URI matches.

    One Browse call per node (its references carry browse name, node class and type definition),
    issued level by level with up to `concurrency` requests in flight: an address space of a few
    thousand nodes is browsed in about a second rather than one round trip per attribute.
    """
    session = root.session
    namespaces = namespaces or []
    wanted = PathFilter(include, exclude)
    found: list[MonitoredVariable] = []
    seen: set[str] = {root.nodeid.to_string()}
    gate = asyncio.Semaphore(concurrency)
    property_type = ua.NodeId(ua.ObjectIds.PropertyType)

    async def children(node: Node) -> list[ua.ReferenceDescription]:
        async with gate:
            return await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences)

    level: list[tuple[Node, str]] = [(root, "")]
    while level:
        results = await asyncio.gather(*(children(node) for node, _ in level))
        following: list[tuple[Node, str]] = []
        for (_, path), refs in zip(level, results, strict=True):
            for ref in refs:
                plain = ua.NodeId(
                    ref.NodeId.Identifier, ref.NodeId.NamespaceIndex, ref.NodeId.NodeIdType
                )
                node_id = plain.to_string()
                if node_id in seen:
                    continue
                seen.add(node_id)
                child = Node(session, plain)
                name = escape_name(ref.BrowseName.Name or "")
                child_path = f"{path}/{name}" if path else name
                if ref.NodeClass == ua.NodeClass.Variable:
                    # Properties (EngineeringUnits, EURange, …) describe a variable; they are not data.
                    if ref.TypeDefinition == property_type:
                        continue
                    if wanted.matches(child_path, uri_node_id(plain, namespaces)):
                        index = plain.NamespaceIndex
                        uri = namespaces[index] if index < len(namespaces) else ""
                        found.append(MonitoredVariable(child, node_id, child_path, uri))
                if ref.NodeClass in (ua.NodeClass.Object, ua.NodeClass.Variable):
                    following.append((child, child_path))
        level = following
    found.sort(key=lambda v: v.browse_path)
    return found


def _example_namespace(namespaces: list[str]) -> tuple[int, str]:
    """The server's last namespace (usually its own, after the standard ones), for a hint."""
    return (len(namespaces) - 1, namespaces[-1]) if len(namespaces) > 1 else (2, "urn:…")


def _missing_child(
    key: str,
    ref: NameRef,
    parent: str,
    refs: list[ua.ReferenceDescription],
    namespaces: list[str],
) -> str:
    """The message for a root element that is not a child of its parent, with the likely fix."""
    message = f"{key} {ref.text!r}: no such child of {parent} (BadNoMatch)"
    same_name = [r.BrowseName for r in refs if r.BrowseName.Name == ref.name]
    if same_name:  # the name is there, in another namespace than the one written
        index = same_name[0].NamespaceIndex
        uri = namespaces[index] if index < len(namespaces) else "…"
        lead = "a browse name needs its namespace" if not ref.has_namespace else "wrong namespace"
        return f"{message}; {lead}: write {index}:{ref.name} or nsu={uri};{ref.name}"
    if not ref.has_namespace:
        index, uri = _example_namespace(namespaces)
        return (
            f"{message}; a browse name needs its namespace, e.g. {index}:{ref.name} "
            f"or nsu={uri};{ref.name}"
        )
    names = ", ".join(f"{r.BrowseName.NamespaceIndex}:{r.BrowseName.Name}" for r in refs[:12])
    more = ", …" if len(refs) > 12 else ""
    return f"{message}; its children are: {names or '(none)'}{more}"


async def resolve_root(client: Client, root: list[str], namespaces: list[str]) -> Node:
    """The node of `root` (browse names from the Root node), one Browse per level.

    Raises AddressSpaceError naming `root[i]`, what is missing, and the likely fix.
    """
    node = client.nodes.root
    parent = "0:Root"
    for i, text in enumerate(root):
        ref = parse_name(text)
        if i == 0 and ref.name == "Root" and (ref.index or 0) == 0 and ref.uri is None:
            continue  # the path may start at Root itself
        key = f"root[{i}]"
        try:
            wanted = qualified_name(ref, namespaces)
        except UnknownNamespace as exc:
            raise AddressSpaceError([f"{key} {text!r}: {exc}"]) from None
        refs = await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences)
        match = next(
            (
                r
                for r in refs
                if r.BrowseName.Name == wanted.Name
                and r.BrowseName.NamespaceIndex == wanted.NamespaceIndex
            ),
            None,
        )
        if match is None:
            raise AddressSpaceError([_missing_child(key, ref, parent, refs, namespaces)])
        nid = match.NodeId
        node = client.get_node(ua.NodeId(nid.Identifier, nid.NamespaceIndex, nid.NodeIdType))
        parent = f"{wanted.NamespaceIndex}:{wanted.Name}"
    return node


async def resolve_nodes(
    client: Client, texts: list[str], namespaces: list[str]
) -> tuple[list[MonitoredVariable], list[str]]:
    """The configured `nodes` that exist and are Variables, and a problem per one that is not."""
    problems: list[tuple[int, str]] = []
    candidates: list[tuple[int, str, Node]] = []
    for j, text in enumerate(texts):
        try:
            node = client.get_node(parse_node_id(text, namespaces))
        except UnknownNamespace as exc:
            problems.append((j, f"nodes[{j}] {text!r}: {exc}"))
            continue
        candidates.append((j, text, node))
    classes: list[ua.DataValue] = []
    names: list[ua.DataValue] = []
    for start in range(0, len(candidates), READ_CHUNK):
        chunk = [n for _, _, n in candidates[start : start + READ_CHUNK]]
        classes += await client.read_attributes(chunk, ua.AttributeIds.NodeClass)
        names += await client.read_attributes(chunk, ua.AttributeIds.BrowseName)
    found: list[MonitoredVariable] = []
    for (j, text, node), cls, name in zip(candidates, classes, names, strict=True):
        if cls.StatusCode is not None and not cls.StatusCode.is_good():
            problems.append(
                (
                    j,
                    f"nodes[{j}] {text!r}: the server has no such node ({cls.StatusCode.name}); "
                    "check the identifier and the namespace (nsu=<URI>;… survives renumbering)",
                )
            )
            continue
        node_class = ua.NodeClass(cls.Value.Value).name
        if node_class != "Variable":
            article = "an" if node_class[0] in "AEIOU" else "a"
            problems.append((j, f"nodes[{j}] {text!r}: is {article} {node_class}, not a Variable"))
            continue
        index = node.nodeid.NamespaceIndex
        found.append(
            MonitoredVariable(
                node,
                node.nodeid.to_string(),
                escape_name(name.Value.Value.Name or ""),
                namespaces[index] if index < len(namespaces) else "",
            )
        )
    return found, [message for _, message in sorted(problems)]
