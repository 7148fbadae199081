"""Run a table's suite with Great Expectations on a Spark DataFrame and say what failed.

>>> result = validate_table("silver.readings", readings, context={"tags": tags})
>>> result.success, result.severity
(False, 'error')
>>> print(result.summary())
ERROR silver.readings: quality is good, uncertain or bad — 1 of 4 rows fail, e.g. …
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from expectations.rules import LAYER_SEVERITY, RULES
from expectations.suite import ERROR, WARN, Suite, SuiteError, severity_of
from lakehouse.catalog import CATALOG, all_tables, get_table

if TYPE_CHECKING:
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.expectations import Expectation

SAMPLE_ROWS = 5  # failing rows kept per expectation
_SHOWN_ROWS = 2  # of which the summary line quotes
_INDEX = "plantlake_check"  # meta key: the expectation's position in the suite


class NoSuiteError(KeyError):
    """There is no suite for the table asked for."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


@dataclass(frozen=True)
class ExpectationOutcome:
    """How one expectation fared, with up to five failing rows (whole rows, as dicts)."""

    expectation: str  # GX type, e.g. expect_column_values_to_be_between
    columns: tuple[str, ...]
    success: bool
    severity: str
    description: str
    unexpected_count: int | None = None  # None for table-level checks (columns present)
    unexpected_percent: float | None = None  # of the rows where the columns have a value
    failing_rows: list[dict[str, Any]] = field(default_factory=list)
    detail: str | None = None  # what a table-level check saw, or why a check could not run
    shown_columns: tuple[str, ...] = ()  # columns the summary quotes from a failing row


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a table's suite on one DataFrame.

    `severity` is `error` when a blocking expectation failed and `warn` when only warnings
    did; for a table that passed it is the worst its suite can raise.
    """

    table: str
    success: bool
    severity: str
    expectations: list[ExpectationOutcome]
    rows_checked: int

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]

    @property
    def blocking(self) -> bool:
        """True when downstream tables must not be built from this data."""
        return not self.success and self.severity == ERROR

    def summary(self) -> str:
        """One line per failed expectation, blocking ones first; one line if all passed."""
        if self.success:
            return (
                f"OK {self.table}: all {len(self.expectations)} checks passed on "
                f"{self.rows_checked:,} rows"
            )
        key = get_table(self.table).primary_key
        failures = sorted(self.failures, key=lambda e: e.severity != ERROR)
        return "\n".join(_line(self.table, e, key, self.rows_checked) for e in failures)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON types (times as ISO text, bytes as their length): for
        the metadata of a Dagster asset check or a log line."""
        return _plain(asdict(self))


def tables_with_suites() -> list[str]:
    """Every table with a suite, bronze → silver → gold, by name within a layer: every catalog
    table of those layers, whether or not the rule table adds rules to its catalog checks."""
    return [t.full_name for t in all_tables() if t.layer in LAYER_SEVERITY]


def get_suite(table: str) -> Suite:
    """The suite of `layer.table`; NoSuiteError naming the tables that have one."""
    spec = CATALOG.get(table)
    if spec is None or spec.layer not in LAYER_SEVERITY:
        raise NoSuiteError(
            f"no expectation suite for table {table!r}; tables with a suite: "
            f"{', '.join(tables_with_suites())}"
        )
    suite = RULES.get(table, Suite())
    return suite if suite.severity else replace(suite, severity=LAYER_SEVERITY[spec.layer])


def validate_table(
    table: str, df: DataFrame, context: Mapping[str, DataFrame] | None = None
) -> CheckResult:
    """Run the suite of `table` (catalog checks + its own) on `df` with Great Expectations.

    `context` gives the other tables a suite can use, by short name: silver.readings checks
    each value against its tag's range when given `{"tags": silver_tags_df}`.

    >>> validate_table("gold.oee_shift", oee).summary()
    'ERROR gold.oee_shift: performance lies between 0 and 1: above 1 … — 1 of 3 rows fail, …'
    """
    suite = get_suite(table)
    context = dict(context or {})
    unknown = sorted(set(context) - set(suite.context))
    if unknown:
        raise SuiteError(
            f"the suite of {table} does not use context {unknown}; it uses "
            f"{list(suite.context) or 'none'}"
        )
    spec = get_table(table)
    frame = suite.prepare(df, context)
    expectations = suite.build(spec, context)
    present = set(frame.columns)
    runnable, skipped = [], []
    for e in expectations:
        (runnable if set(_columns(e)) <= present else skipped).append(e)

    cached = frame.is_cached
    if not cached:
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = frame.count()
        results = _run_gx(table, frame, runnable) if runnable else []
    finally:
        if not cached:
            frame.unpersist()

    outcomes = [_outcome(e, r) for e, r in zip(runnable, results, strict=True)]
    if skipped:
        outcomes = [_note_skipped(o, skipped) for o in outcomes]
    failed = [o for o in outcomes if not o.success]
    levels = {o.severity for o in (failed or outcomes)}
    severity = ERROR if ERROR in levels or not levels else WARN
    return CheckResult(
        table=table,
        success=not failed,
        severity=severity,
        expectations=outcomes,
        rows_checked=rows,
    )


# Great Expectations ---------------------------------------------------------------------------


def _run_gx(table: str, frame: DataFrame, expectations: list[Expectation]):
    """The validation results, in the order of `expectations`.

    Two passes: every expectation for its verdict only (the counts of all of them come from a
    few aggregations), then the failed ones again for counts and failing rows, which cost a
    Spark job each. A clean table pays for the first pass alone.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    # in memory, no usage statistics, no progress bars on a Dagster log
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    gx_context = gx.get_context(mode="ephemeral", project_config=config)
    # persist=False: GX would cache the frame and never release it; the caller caches it.
    datasource = gx_context.data_sources.add_spark(name="plantlake", persist=False)
    batch = (
        datasource.add_dataframe_asset(name=table)
        .add_batch_definition_whole_dataframe("whole dataframe")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    for i, expectation in enumerate(expectations):
        expectation.meta = {**(expectation.meta or {}), _INDEX: i}

    def run(subset: list[Expectation], result_format: dict) -> dict[int, Any]:
        suite = gx.ExpectationSuite(name=table, expectations=subset)
        validation = batch.validate(suite, result_format=result_format)
        return {r.expectation_config.meta[_INDEX]: r for r in validation.results}

    results = run(expectations, {"result_format": "BOOLEAN_ONLY"})
    failed = [
        e
        for i, e in enumerate(expectations)
        if not results[i].success and not (results[i].exception_info or {}).get("raised_exception")
    ]
    if failed:
        details = {
            "result_format": "BASIC",  # SUMMARY adds index lists we do not use
            "partial_unexpected_count": SAMPLE_ROWS,
            "include_unexpected_rows": True,
        }
        results |= run(failed, details)
    return [results[i] for i in range(len(expectations))]


def _columns(expectation: Expectation) -> tuple[str, ...]:
    kwargs = expectation.configuration.kwargs
    if "column" in kwargs:
        return (kwargs["column"],)
    if "column_list" in kwargs:
        return tuple(kwargs["column_list"])
    if "column_A" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    return ()  # table-level: columns present


def _outcome(expectation: Expectation, result: ExpectationValidationResult) -> ExpectationOutcome:
    columns = _columns(expectation)
    outcome = dict(
        expectation=expectation.expectation_type,
        columns=columns,
        success=bool(result.success),
        severity=severity_of(expectation),
        description=expectation.description or expectation.expectation_type,
        shown_columns=tuple((expectation.meta or {}).get("show", columns)),
    )
    info = result.exception_info or {}
    if info.get("raised_exception"):
        message = (info.get("exception_message") or "").strip().splitlines()
        return ExpectationOutcome(
            **(outcome | {"success": False}),
            detail=f"could not be evaluated: {message[0] if message else 'error in GX'}",
        )
    details = result.result or {}
    if not columns:
        missing = (details.get("details") or {}).get("mismatched", {}).get("missing") or []
        return ExpectationOutcome(
            **outcome, detail=f"missing columns: {', '.join(missing)}" if missing else None
        )
    if outcome["success"]:
        # no suite uses `mostly`: an expectation passes only when no row fails
        return ExpectationOutcome(**outcome, unexpected_count=0, unexpected_percent=0.0)
    return ExpectationOutcome(
        **outcome,
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=details.get("unexpected_percent"),
        failing_rows=list(details.get("unexpected_rows") or [])[:SAMPLE_ROWS],
    )


def _note_skipped(outcome: ExpectationOutcome, skipped: list[Expectation]) -> ExpectationOutcome:
    if outcome.columns:
        return outcome
    names = sorted({c for e in skipped for c in _columns(e)})
    checks = "1 check" if len(skipped) == 1 else f"{len(skipped)} checks"
    note = f"{checks} on {', '.join(names)} not run"
    detail = f"{outcome.detail}; {note}" if outcome.detail else note
    return replace(outcome, success=False, detail=detail)


# The summary ----------------------------------------------------------------------------------


def _line(table: str, e: ExpectationOutcome, key: tuple[str, ...], rows: int) -> str:
    head = f"{'ERROR' if e.severity == ERROR else 'WARN'} {table}: {e.description}"
    if e.unexpected_count is None:
        return f"{head} — {e.detail or 'failed'}"
    if e.detail:
        return f"{head} — {e.detail}"
    text = f"{head} — {e.unexpected_count:,} of {rows:,} rows fail"
    examples = [_example(row, key, e.shown_columns) for row in e.failing_rows[:_SHOWN_ROWS]]
    return f"{text}, e.g. {'; '.join(examples)}" if examples else text


def _example(row: dict[str, Any], key: tuple[str, ...], shown: tuple[str, ...]) -> str:
    where = ", ".join(f"{k}={_fmt(row.get(k))}" for k in key if k not in shown)
    what = ", ".join(f"{c}={_fmt(row.get(c))}" for c in shown)
    return f"{what} at {where}" if where else what


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "…")
    return str(value)
