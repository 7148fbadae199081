"""Data-quality suites of the lake's tables, run with Great Expectations through our own wrapper.

Layout:
- `rules.py`: the rule table, one entry per table with what it must hold beyond its catalog
  declaration (value sets, ranges, one column against another), and the severity by layer.
  Every bronze, silver and gold table of the catalog has a suite: a table without an entry is
  checked on its declaration alone (columns present, required columns filled, key unique).
- `suite.py`: what a suite and a rule are, the kinds of rule (`between`, `one_of`, `at_least`),
  and the checks every table gets from the catalog.
- `derived.py`: the columns a rule across columns or tables reads (good + scrap + rework =
  produced, a reading within its tag's range), so that a plain GX expectation checks it.
- `runner.py`: `validate_table(table, df, context)` runs a suite on a Spark DataFrame (ephemeral
  GX context, Spark datasource, dataframe asset, whole-dataframe batch) and returns a
  `CheckResult`: per expectation the failing count and up to five failing rows, and a summary a
  plant engineer can read. Dagster asset checks call it (the dagster-ge integration predates
  GX 1.x). Severity `error` blocks what is built downstream (silver, OEE), `warn` reports.

GX is imported only when a suite runs: it takes seconds, and listing the suites should not.
"""

from expectations.runner import (
    CheckResult,
    ExpectationOutcome,
    NoSuiteError,
    get_suite,
    tables_with_suites,
    validate_table,
)

__all__ = [
    "CheckResult",
    "ExpectationOutcome",
    "NoSuiteError",
    "get_suite",
    "tables_with_suites",
    "validate_table",
]
