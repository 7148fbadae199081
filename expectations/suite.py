"""What a suite is: the checks every table gets from its catalog declaration (columns present,
required columns filled, key unique) and the rules of `expectations.rules`, each a GX expectation
built only when the suite runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame

from expectations.derived import Context
from lakehouse.catalog import TableSpec

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

ERROR = "error"  # blocks what is built from the table
WARN = "warn"  # reported, nothing blocked
SEVERITIES = (ERROR, WARN)

# GX calls its levels critical / warning; ours are the words of a Dagster asset check.
_GX_LEVEL = {ERROR: "critical", WARN: "warning"}

Derive = Callable[[DataFrame, Context], DataFrame]


class SuiteError(ValueError):
    """A suite is declared wrongly, or is given context it does not use."""


@dataclass(frozen=True)
class Rule:
    """One expectation beyond the catalog's, as data: a GX expectation class and its arguments.

    `severity` None takes the suite's. `derive` adds the column the rule reads (a sum, a gap);
    `needs` names the context table that column comes from: without it the rule is left out.
    `show` lists the columns the summary quotes from a failing row (default: the rule's own).
    """

    expectation: str  # a class of great_expectations.expectations, e.g. ExpectColumnValuesToBeInSet
    kwargs: Mapping[str, Any]
    description: str
    severity: str | None = None
    show: tuple[str, ...] = ()
    derive: Derive | None = None
    needs: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in (None, *SEVERITIES):
            raise SuiteError(f"severity {self.severity!r} is not one of {SEVERITIES}")
        if "mostly" in self.kwargs:
            # the runner reads a pass as "no row fails"; a tolerance would hide rows
            raise SuiteError(f"{self.description}: a rule does not use `mostly`")

    @property
    def columns(self) -> tuple[str, ...]:
        k = self.kwargs
        return tuple(k[n] for n in ("column", "column_A", "column_B") if n in k) + tuple(
            k.get("column_list", ())
        )

    def expectation_at(self, severity: str) -> Expectation:
        """The GX expectation, at the rule's severity or else `severity`."""
        import great_expectations.expectations as gxe

        extra = {"meta": {"show": list(self.show)}} if self.show else {}
        expectation = getattr(gxe, self.expectation)(
            **self.kwargs, description=self.description, **extra
        )
        set_severity(expectation, self.severity or severity)
        return expectation


@dataclass(frozen=True)
class Suite:
    """The checks of one table: the catalog's, then `rules`, at `severity` unless a rule says.

    `severity` None takes the layer's (`expectations.rules.LAYER_SEVERITY`) when the runner
    looks the suite up.
    """

    rules: tuple[Rule, ...] = ()
    severity: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in (None, *SEVERITIES):
            raise SuiteError(f"severity {self.severity!r} is not one of {SEVERITIES}")

    @property
    def context(self) -> tuple[str, ...]:
        """The other tables the suite can use, by short name (`tags` for silver.tags)."""
        return tuple(dict.fromkeys(r.needs for r in self.rules if r.needs))

    def applied(self, context: Context) -> list[Rule]:
        """The rules that run with `context`: those needing a table not given are left out."""
        return [r for r in self.rules if r.needs is None or r.needs in context]

    def prepare(self, df: DataFrame, context: Context) -> DataFrame:
        """The frame the expectations run on: `df` with the columns its rules derive, if any."""
        derives = dict.fromkeys(r.derive for r in self.applied(context) if r.derive)
        for derive in derives:
            df = derive(df, context)
        return df

    def build(self, spec: TableSpec, context: Context) -> list[Expectation]:
        """Catalog checks, then the rules, each with its severity set."""
        severity = self.severity
        if severity is None:
            raise SuiteError(f"the suite of {spec.full_name} has no severity")
        specific = [r.expectation_at(severity) for r in self.applied(context)]
        return [*catalog_expectations(spec, severity), *specific]


def contract(*rules: Rule, severity: str | None = None) -> Suite:
    """A table's rules beyond its catalog declaration, as one entry of the rule table."""
    return Suite(rules=rules, severity=severity)


# The kinds of rule --------------------------------------------------------------------------


def between(
    column: str,
    low: float | None = None,
    high: float | None = None,
    why: str | None = None,
    *,
    above: bool = False,
    **kw: Any,
) -> Rule:
    """`low` <= column <= `high` (either may be None); `above`: strictly above `low`.

    Without `why` the description says it plainly: `x is not negative`, `x lies between 0 and 1`.
    """
    if why is None:
        if high is None and low == 0:
            why = f"{column} is {'above 0' if above else 'not negative'}"
        elif low is not None and high is not None and not above:
            why = f"{column} lies between {low:g} and {high:g}"
        else:
            raise SuiteError(f"{column}: say why this range ({low}, {high}) holds")
    kwargs: dict[str, Any] = {"column": column}
    if low is not None:
        kwargs["min_value"] = low
    if high is not None:
        kwargs["max_value"] = high
    if above:
        kwargs["strict_min"] = True
    return Rule("ExpectColumnValuesToBeBetween", kwargs, why, **kw)


def not_negative(*columns: str) -> tuple[Rule, ...]:
    return tuple(between(c, 0) for c in columns)


def ratios(*columns: str) -> tuple[Rule, ...]:
    return tuple(between(c, 0, 1) for c in columns)


def one_of(column: str, values: tuple, why: str | None = None, **kw: Any) -> Rule:
    """The column holds one of `values`: `state is running, idle or changeover`."""
    if why is None:
        names = [str(v) for v in values]
        why = f"{column} is {' or '.join(filter(None, [', '.join(names[:-1]), names[-1]]))}"
    kwargs = {"column": column, "value_set": list(values)}
    return Rule("ExpectColumnValuesToBeInSet", kwargs, why, **kw)


def is_true(column: str, why: str, **kw: Any) -> Rule:
    """A derived yes/no column is true wherever it is not null."""
    return one_of(column, (True,), why, **kw)


def at_least(
    column: str, other: str, why: str, *, strict: bool = False, skip_missing: bool = True
) -> Rule:
    """`column` >= `other` on each row (> when `strict`); `skip_missing`: a row where either is
    null is not checked (otherwise only where both are)."""
    kwargs: dict[str, Any] = {"column_A": column, "column_B": other, "or_equal": not strict}
    if skip_missing:
        kwargs["ignore_row_if"] = "either_value_is_missing"
    return Rule("ExpectColumnPairValuesAToBeGreaterThanB", kwargs, why)


# Severity -----------------------------------------------------------------------------------


def set_severity(expectation: Expectation, severity: str) -> None:
    from great_expectations.expectations.metadata_types import FailureSeverity

    expectation.severity = FailureSeverity(_GX_LEVEL[severity])


def severity_of(expectation: Expectation) -> str:
    """`error` for a GX critical expectation, `warn` for warning and info."""
    level = getattr(expectation.severity, "value", expectation.severity)
    return ERROR if level == _GX_LEVEL[ERROR] else WARN


# The catalog's checks, for every table ------------------------------------------------------


def catalog_expectations(spec: TableSpec, severity: str) -> list[Expectation]:
    """Columns present, key columns and required columns filled, key unique.

    A key column the catalog declares nullable (a minute counted before any product was known)
    is checked too, as a warning only.
    """
    import great_expectations.expectations as gxe

    out: list[Expectation] = []

    def add(expectation: Expectation, level: str = severity) -> None:
        set_severity(expectation, level)
        out.append(expectation)

    key = list(spec.primary_key)
    required = [c.name for c in spec.columns if not c.nullable]
    add(
        gxe.ExpectTableColumnsToMatchSet(
            column_set=spec.column_names,
            exact_match=False,
            description=f"all {len(spec.columns)} columns of the catalog are present",
        )
    )
    for name in required:
        add(gxe.ExpectColumnValuesToNotBeNull(column=name, description=f"{name} is never empty"))
    for name in (k for k in key if k not in required):
        description = f"{name} is never empty (part of the key, though the catalog allows it)"
        add(gxe.ExpectColumnValuesToNotBeNull(column=name, description=description), WARN)
    if len(key) == 1:
        description = f"each {key[0]} appears once (the table's key)"
        add(gxe.ExpectColumnValuesToBeUnique(column=key[0], description=description))
    elif key:
        description = f"each ({', '.join(key)}) appears once (the table's key)"
        add(gxe.ExpectCompoundColumnsToBeUnique(column_list=key, description=description))
    return out
