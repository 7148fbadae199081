"""docs/tables.md matches the catalog; every gold table has example queries that analyze."""

from __future__ import annotations

import re

import pytest

from lakehouse.catalog import Column, all_tables
from lakehouse.docs import TABLES_DOC, column_unit, render_tables_doc

GOLD = all_tables("gold")
TABLE_NAME = re.compile(r"\b((?:bronze|silver|gold|ops)\.\w+)")


def _statement(sql: str) -> str:
    """The SQL without its leading `--` comment lines."""
    lines = sql.strip().splitlines()
    while lines and lines[0].lstrip().startswith("--"):
        lines.pop(0)
    return "\n".join(lines).strip()


def test_tables_doc_is_up_to_date():
    current = TABLES_DOC.read_text().splitlines() if TABLES_DOC.exists() else []
    wanted = render_tables_doc().splitlines()
    if current != wanted:
        line = next(
            (i for i, (a, b) in enumerate(zip(current, wanted, strict=False)) if a != b),
            min(len(current), len(wanted)),
        )
        pytest.fail(
            f"docs/tables.md does not match the catalog (from line {line + 1}: "
            f"{wanted[line] if line < len(wanted) else '<end>'!r}): run `plantlake docs`"
        )


def test_doc_lists_every_table_with_its_columns():
    text = render_tables_doc()
    for spec in all_tables():
        section = text.split(f"### `{spec.full_name}`\n", 1)[1].split("\n### ", 1)[0]
        for column in spec.columns:
            assert f"| `{column.name}` |" in section, (spec.full_name, column.name)


def test_every_gold_table_has_three_examples_of_its_own():
    too_few = [s.full_name for s in GOLD if len(s.examples) < 3]
    assert not too_few, f"gold tables with fewer than 3 example queries: {too_few}"
    for spec in GOLD:
        for sql in spec.examples:
            assert spec.full_name in sql, f"an example of {spec.full_name} does not query it"
            assert sql.lstrip().startswith("-- "), f"{spec.full_name}: start with a -- title"
            first_word = _statement(sql).split(None, 1)[0].upper()
            assert first_word in ("SELECT", "WITH"), f"{spec.full_name}: examples only read"


@pytest.mark.parametrize(
    ("column", "unit"),
    [
        (Column("run_s", "double", "APT, actual production time (s)"), "s"),
        (Column("vibration_mm_s", "double", "latest vibration (mm/s)"), "mm/s"),
        (Column("downtime_min", "double", "their total duration in minutes"), "min"),
        (Column("kwh_per_good_unit", "double", "energy_kwh / good_units"), "kWh/unit"),
        (Column("event_date", "date", "UTC day (the partition)"), ""),
        (Column("line", "string", "ISA-95 line"), ""),
    ],
)
def test_column_unit_from_comment_or_name(column, unit):
    assert column_unit(column) == unit


def test_gold_examples_analyze_against_the_catalog(spark, lake):
    """Each example resolves every table, column and function on an empty lake (no job runs)."""
    examples = [(s.full_name, sql) for s in GOLD for sql in s.examples]
    for name in sorted({n for _, sql in examples for n in TABLE_NAME.findall(sql)}):
        lake.create(name)
    failures = []
    for table, sql in examples:
        try:
            spark.sql(sql).schema  # noqa: B018 - analysis only: the plan resolves or raises
        except Exception as exc:
            failures.append(f"{table}: {str(exc).splitlines()[0]}\n{sql}")
    assert not failures, "\n\n".join(failures)
