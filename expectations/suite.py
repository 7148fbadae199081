"""What a suite is (its specific expectations, severity, derived columns, context), and the
checks every table gets from its catalog declaration: columns present, key unique, required filled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.catalog import TableSpec

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

ERROR = "error"  # blocks what is built from the table
WARN = "warn"  # reported, nothing blocked
SEVERITIES = (ERROR, WARN)

# GX calls its levels critical / warning; ours are the words of a Dagster asset check.
_GX_LEVEL = {ERROR: "critical", WARN: "warning"}

Context = Mapping[str, DataFrame]


class SuiteError(ValueError):
    """A suite is declared wrongly, or is given context it does not use."""


@dataclass(frozen=True)
class Suite:
    """The checks of one table beyond its catalog declaration.

    `expectations(context)` returns GX expectations; one built without an explicit `severity`
    takes the suite's. `derive(df, context)` adds the columns those expectations read (a sum, a
    joined range) and never drops a row. `context` names the extra DataFrames the suite can use.
    """

    expectations: Callable[[Context], list[Expectation]]
    severity: str = ERROR
    derive: Callable[[DataFrame, Context], DataFrame] | None = None
    context: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise SuiteError(f"severity {self.severity!r} is not one of {SEVERITIES}")

    def prepare(self, df: DataFrame, context: Context) -> DataFrame:
        """The frame the expectations run on: `df` with the derived columns, if any."""
        return self.derive(df, context) if self.derive is not None else df

    def build(self, spec: TableSpec, context: Context) -> list[Expectation]:
        """Catalog checks, then the specific ones, each with its severity set."""
        specific = self.expectations(context)
        for expectation in specific:
            if getattr(expectation, "mostly", 1) < 1:
                # the runner reads a pass as "no row fails"; a tolerance would hide rows
                raise SuiteError(f"{expectation.expectation_type}: a suite does not use `mostly`")
            # pydantic (v1) records the fields given to the constructor: an explicit one wins
            if "severity" not in expectation.__fields_set__:
                set_severity(expectation, self.severity)
        return [*catalog_expectations(spec, self.severity), *specific]


def unaccounted_parts(df: DataFrame, context: Context | None = None) -> DataFrame:
    """`df` with `unaccounted_parts` = produced − (good + scrap + rework): 0 when they add up."""
    counted = F.col("good") + F.col("scrap") + F.col("rework")
    return df.withColumn("unaccounted_parts", F.col("produced") - counted)


def counts_add_up() -> Expectation:
    """good + scrap + rework = produced, as a warning: a counter's first reading (the start of
    its history, or after a gap longer than the transform's lookback) has no baseline, so its
    increase is unknown and counted as 0; the counts of that minute then differ by a part."""
    import great_expectations.expectations as gxe

    expectation = gxe.ExpectColumnValuesToBeBetween(
        column="unaccounted_parts",
        min_value=0,
        max_value=0,
        description="good + scrap + rework = produced (unaccounted_parts = produced − good − "
        "scrap − rework); a counter baseline at the start of the data leaves one part unaccounted",
        meta={"show": ["produced", "good", "scrap", "rework"]},
    )
    set_severity(expectation, WARN)
    return expectation


def set_severity(expectation: Expectation, severity: str) -> None:
    from great_expectations.expectations.metadata_types import FailureSeverity

    expectation.severity = FailureSeverity(_GX_LEVEL[severity])


def severity_of(expectation: Expectation) -> str:
    """`error` for a GX critical expectation, `warn` for warning and info."""
    level = getattr(expectation.severity, "value", expectation.severity)
    return ERROR if level == _GX_LEVEL[ERROR] else WARN


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
