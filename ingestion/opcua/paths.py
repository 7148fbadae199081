"""Browse paths and namespaces as the ingestion config writes them.

A browse path is the browse names below the root joined by `/`, each name escaped as OPC UA
Part 4 Annex A (A.2) escapes a RelativePath: `&` before each reserved character `/ . < > : # ! &`,
so `Presse 7; Halle 2/Nord` reads `Presse 7; Halle 2&/Nord` and every unescaped `/` separates
two names. Root elements name their namespace by index (`2:acme`) or URI (`nsu=urn:…;acme`);
node ids likewise (`ns=2;s=…`, `nsu=urn:…;s=…`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from asyncua import ua

RESERVED = "/.<>:#!&"
_NODE_ID = re.compile(r"(?:ns=(\d+);|nsu=([^;]+);)?([isgb]=.*)", re.DOTALL)


def escape_name(name: str) -> str:
    """One browse name as a path element: `Halle 2/Nord` -> `Halle 2&/Nord`."""
    return "".join(f"&{c}" if c in RESERVED else c for c in name)


def unescape_name(text: str) -> str:
    """The browse name of one escaped path element; ValueError on a lone or unknown escape."""
    out, chars = [], iter(text)
    for c in chars:
        if c == "&":
            nxt = next(chars, "")
            if nxt not in RESERVED or not nxt:
                raise ValueError(
                    f"{text!r}: '&' escapes one of {RESERVED} (write && for a literal &)"
                )
            out.append(nxt)
        else:
            out.append(c)
    return "".join(out)


def join_path(names: Sequence[str]) -> str:
    """Browse names -> the path text bronze and the plant model's `browse_path` templates read."""
    return "/".join(escape_name(n) for n in names)


def split_path(path: str) -> list[str]:
    """Path text -> its escaped elements, split at every `/` that is not escaped."""
    parts, current, escaped = [], [], False
    for c in path:
        if escaped:
            current.append(c)
            escaped = False
        elif c == "&":
            current.append(c)
            escaped = True
        elif c == "/":
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class NameRef:
    """One element of `root`: a browse name with its namespace as written."""

    text: str  # as in the config
    name: str
    index: int | None = None  # `2:acme`
    uri: str | None = None  # `nsu=urn:…;acme`

    @property
    def has_namespace(self) -> bool:
        return self.index is not None or self.uri is not None


def parse_name(text: str) -> NameRef:
    """`2:acme`, `nsu=urn:x;acme`, or a bare name (namespace 0, as in Annex A)."""
    if text.startswith("nsu="):
        uri, sep, name = text[4:].partition(";")
        if not sep or not uri or not name:
            raise ValueError(f"{text!r}: write nsu=<namespace URI>;<browse name>")
        return NameRef(text, name, uri=uri)
    m = re.fullmatch(r"(\d+):(.+)", text, re.DOTALL)
    if m:
        return NameRef(text, m.group(2), index=int(m.group(1)))
    if not text:
        raise ValueError("a browse name cannot be empty")
    return NameRef(text, text)


def check_node_id(text: str) -> str:
    """Validate a configured node id (`ns=2;s=…`, `nsu=urn:…;i=…`, `i=85`) without a server."""
    m = _NODE_ID.fullmatch(text)
    if not m:
        raise ValueError(
            f"{text!r}: write a node id as ns=<index>;s=<name> or nsu=<namespace URI>;s=<name> "
            "(or i=, g=, b=)"
        )
    try:
        ua.NodeId.from_string(m.group(3))
    except Exception as exc:  # asyncua's parser: a bad number, GUID or base64
        raise ValueError(f"{text!r}: {exc}") from None
    return text


class UnknownNamespace(LookupError):
    """A namespace URI the server's namespace array does not hold."""


def namespace_index(uri: str, namespaces: Sequence[str]) -> int:
    try:
        return list(namespaces).index(uri)
    except ValueError:
        raise UnknownNamespace(
            f"the server has no namespace {uri} (it has: {', '.join(namespaces)})"
        ) from None


def parse_node_id(text: str, namespaces: Sequence[str]) -> ua.NodeId:
    """A configured node id resolved through the server's namespace array."""
    m = _NODE_ID.fullmatch(check_node_id(text))
    assert m is not None
    index = int(m.group(1)) if m.group(1) else 0
    if m.group(2):
        index = namespace_index(m.group(2), namespaces)
    node_id = ua.NodeId.from_string(m.group(3))
    return ua.NodeId(node_id.Identifier, index, node_id.NodeIdType)


def qualified_name(ref: NameRef, namespaces: Sequence[str]) -> ua.QualifiedName:
    index = ref.index if ref.index is not None else 0
    if ref.uri is not None:
        index = namespace_index(ref.uri, namespaces)
    return ua.QualifiedName(ref.name, index)


def uri_node_id(node_id: ua.NodeId, namespaces: Sequence[str]) -> str:
    """`nsu=<uri>;s=…` for any namespace the server names (patterns starting `nsu=` read it)."""
    index = node_id.NamespaceIndex
    ident = ua.NodeId(node_id.Identifier, 0, node_id.NodeIdType).to_string()
    uri = namespaces[index] if index < len(namespaces) else None
    return f"nsu={uri};{ident}" if uri else node_id.to_string()


def check_pattern(pattern: str) -> str:
    """Validate an include/exclude regular expression; say so when it looks like a glob."""
    try:
        re.compile(pattern)
    except re.error as exc:
        hint = ""
        if "*" in pattern or "?" in pattern:
            hint = (
                "; patterns are regular expressions, not globs "
                f"(for the glob {pattern!r} write {_glob_as_regex(pattern)!r})"
            )
        raise ValueError(f"not a regular expression: {exc}{hint}") from None
    return pattern


def _glob_as_regex(glob: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)


class PathFilter:
    """include/exclude: regular expressions that must match a whole browse path (escaped), or,
    when they start with `nsu=`, the whole node id by namespace URI."""

    def __init__(self, include: Sequence[str], exclude: Sequence[str]):
        self.include = [(p.startswith("nsu="), re.compile(p)) for p in include]
        self.exclude = [(p.startswith("nsu="), re.compile(p)) for p in exclude]

    @staticmethod
    def _any(patterns: list[tuple[bool, re.Pattern[str]]], path: str, node: str) -> bool:
        return any(rx.fullmatch(node if by_node else path) for by_node, rx in patterns)

    def matches(self, path: str, node: str) -> bool:
        return self._any(self.include, path, node) and not self._any(self.exclude, path, node)
