"""Address templates with named placeholders: `umh/v1/{enterprise}/{site}/{line}/{tag}`.

A placeholder `{name}` captures one segment (no `/`) of a topic or browse path, or any text in
a node id or Sparkplug name; `{name:regex}` captures what the regex says. A template compiles to
one regular expression with numbered groups that Python's `re` and Java's (Spark `rlike`,
`regexp_extract`) read alike, so the rule that matches in `plantlake model check` is the rule
that matches in silver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::((?:[^{}]|\{[^{}]*\})+))?\}")
SEGMENT = r"[^/]+"  # one level of a topic
# one browse name of an OPC UA browse path, where `&` escapes a reserved character such as `/`
# (OPC UA Part 4, Annex A): `Halle 2&/Nord` is one name
BROWSE_NAME = r"(?:[^/&]|&.)+"
ANY = r".+"  # a node id identifier, a Sparkplug name


class TemplateError(ValueError):
    """A template cannot be compiled; the message says where."""


@dataclass(frozen=True)
class Template:
    """Literal text with `{name}` / `{name:regex}` placeholders."""

    text: str

    def __post_init__(self) -> None:
        names = self.names
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise TemplateError(f"template {self.text!r} uses {dup} twice")
        for m in _PLACEHOLDER.finditer(self.text):
            if m.group(2):
                try:
                    re.compile(m.group(2), flags=re.ASCII)
                except re.error as exc:
                    raise TemplateError(
                        f"template {self.text!r}: bad regex {m.group(2)!r}: {exc}"
                    ) from None
                if "(" in m.group(2).replace("(?:", ""):
                    raise TemplateError(
                        f"template {self.text!r}: use (?:…) groups inside a placeholder regex"
                    )
        rest = _PLACEHOLDER.sub("", self.text)
        if "{" in rest or "}" in rest:
            raise TemplateError(f"template {self.text!r}: unbalanced {{ or }}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.group(1) for m in _PLACEHOLDER.finditer(self.text))

    @property
    def is_literal(self) -> bool:
        return not self.names

    def regex(self, default: str = SEGMENT) -> str:
        """An anchored regex; group i+1 captures placeholder `names[i]`."""
        out, pos = ["^"], 0
        for m in _PLACEHOLDER.finditer(self.text):
            out.append(re.escape(self.text[pos : m.start()]))
            out.append(f"({m.group(2) or default})")
            pos = m.end()
        out.append(re.escape(self.text[pos:]))
        out.append("$")
        return "".join(out)

    def pieces(self) -> list[tuple[str, str]]:
        """The template as ('text', literal) and ('name', placeholder) pieces, in order."""
        out, pos = [], 0
        for m in _PLACEHOLDER.finditer(self.text):
            if m.start() > pos:
                out.append(("text", self.text[pos : m.start()]))
            out.append(("name", m.group(1)))
            pos = m.end()
        if pos < len(self.text):
            out.append(("text", self.text[pos:]))
        return out

    def render(self, values: dict[str, str]) -> str:
        return "".join(v if k == "text" else values[v] for k, v in self.pieces())

    def match(self, address: str, default: str = SEGMENT) -> dict[str, str] | None:
        # ASCII classes (\w, \d, \s) as Java's regex reads them in Spark
        m = re.match(self.regex(default), address, flags=re.ASCII)
        return dict(zip(self.names, m.groups(), strict=True)) if m else None

    def __str__(self) -> str:
        return self.text

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler):
        def build(value: Any) -> Template:
            if isinstance(value, Template):
                return value
            if not isinstance(value, str) or not value:
                raise ValueError("expected a non-empty template text such as a/{name}/b")
            try:
                return cls(value)
            except TemplateError as exc:
                raise ValueError(str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            build, serialization=core_schema.to_string_ser_schema()
        )


def glob_regex(pattern: str) -> str:
    """An anchored regex for a tag glob (`*` any text, `?` one character)."""
    out = ["^"]
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    out.append("$")
    return "".join(out)
