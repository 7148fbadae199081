"""Data-quality suites of the lake's tables, run with Great Expectations through our own wrapper.

Layout:
- `suite.py`: what a suite is (`Suite`: specific expectations, severity, derived columns, context)
  and the checks every table gets from its catalog declaration: columns present, key unique,
  required (and key) columns filled.
- `bronze.py`, `silver.py`, `gold.py`: one `SUITES` dict per layer, table full name → `Suite`.
  A rule across columns or tables (good + scrap + rework = produced, a reading within its tag's
  range) becomes a derived column that a plain GX expectation checks.
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
