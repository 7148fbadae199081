"""Table assets generated from the catalog: each step of `orchestration.steps` is one asset
with its tables' keys, lineage (what their builds read), schemas, checks and metadata."""

import base64
import io
from collections.abc import Callable, Iterable
from datetime import date

import dagster as dg
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.catalog import get_table
from lakehouse.lake import Lake
from orchestration.defs.resources import LakeResource
from orchestration.steps import REBUILD_TAG, Built, Step, run_step, steps

PREVIEW_ROWS = 5


def key(table: str) -> dg.AssetKey:
    spec = get_table(table)
    return dg.AssetKey([spec.layer, spec.name])


def column_schema(table: str) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name,
                c.data_type.simpleString(),
                description=c.comment,
                constraints=dg.TableColumnConstraints(nullable=c.nullable),
            )
            for c in get_table(table).columns
        ]
    )


def spec(table: str, deps: Iterable[str | dg.AssetKey] = (), **kwargs) -> dg.AssetSpec:
    """The AssetSpec of a catalog table: key [layer, name], group = layer, description, schema."""
    t = get_table(table)
    return dg.AssetSpec(
        key=key(table),
        group_name=t.layer,
        description=f"{t.description}\n\nGrain: {t.grain}.",
        deps=[d if isinstance(d, dg.AssetKey) else key(d) for d in deps],
        metadata={
            "dagster/column_schema": column_schema(table),
            "primary_key": ", ".join(t.primary_key),
            "partitioned_by": ", ".join(t.partition_by) or "none",
        },
        kinds={"delta", "spark"},
        **kwargs,
    )


def check_spec(table: str) -> list[dg.AssetCheckSpec]:
    """The expectation-suite check of a table, blocking on silver (gold must not read bad rows)."""
    from expectations.runner import tables_with_suites

    if table not in tables_with_suites():
        return []
    return [
        dg.AssetCheckSpec(
            "expectations",
            asset=key(table),
            description=f"Great Expectations suite of {table}",
            blocking=get_table(table).layer == "silver",
        )
    ]


def _markdown(df: DataFrame) -> str:
    rows = df.limit(PREVIEW_ROWS).collect()
    cols = df.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join("" if r[c] is None else str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def frame(lake: Lake, table: str, days: Iterable[date] = ()) -> DataFrame:
    df = lake.read(table)
    days = sorted(set(days))
    if days and "event_date" in get_table(table).partition_by:
        df = df.where(F.col("event_date").isin(days))
    return df


def metadata(lake: Lake, built: Built) -> dict:
    """Rows written, days written, seconds, Delta version and a preview of what was written
    (a table whose inputs did not change is reported as such, at no Spark cost)."""
    days = ", ".join(map(str, built.days)) or "all"
    meta = {
        "rows_written": dg.MetadataValue.int(built.rows),
        "seconds": dg.MetadataValue.float(round(built.seconds, 2)),
        "delta_version": dg.MetadataValue.int(built.version if built.version is not None else -1),
        "days": dg.MetadataValue.text(days if built.wrote else "none"),
        "written": dg.MetadataValue.bool(built.wrote),
    }
    if built.wrote:
        meta["dagster/row_count"] = dg.MetadataValue.int(built.rows)
        meta["preview"] = dg.MetadataValue.md(_markdown(frame(lake, built.table, built.days)))
    if built.note:
        meta["note"] = dg.MetadataValue.text(built.note)
    return meta


def oee_plot(df: DataFrame, label: str) -> dg.MetadataValue:
    """A bar chart of availability, performance, quality and OEE per `label`, as markdown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = df.orderBy(label).collect()
    fig, ax = plt.subplots(figsize=(8, 3))
    names = [str(r[label]) for r in rows]
    width = 0.2
    for i, part in enumerate(("availability", "performance", "quality", "oee")):
        xs = [j + (i - 1.5) * width for j in range(len(rows))]
        ax.bar(xs, [r[part] or 0 for r in rows], width, label=part)
    ax.set_xticks(range(len(rows)), names, rotation=30, ha="right", fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, ncols=4)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return dg.MetadataValue.md(f"![OEE](data:image/png;base64,{data})")


def check_result(lake: Lake, table: str, days: Iterable[date] = ()) -> dg.AssetCheckResult:
    """Run the table's suite on what was just written; failing rows go into the metadata."""
    from expectations.runner import validate_table

    context = None
    if table == "silver.readings" and lake.exists("silver.tags"):
        context = {"tags": lake.read("silver.tags")}
    result = validate_table(table, frame(lake, table, days), context)
    severity = (
        dg.AssetCheckSeverity.ERROR if result.severity == "error" else dg.AssetCheckSeverity.WARN
    )
    return dg.AssetCheckResult(
        asset_key=key(table),
        check_name="expectations",
        passed=result.success,
        severity=severity,
        metadata={
            "rows_checked": dg.MetadataValue.int(result.rows_checked),
            "summary": dg.MetadataValue.text(result.summary() or "all expectations met"),
            "failures": dg.MetadataValue.json(result.to_dict()),
            "days_checked": dg.MetadataValue.text(", ".join(map(str, sorted(set(days)))) or "all"),
        },
    )


def last_evaluation(context: dg.AssetExecutionContext, table: str):
    """The latest evaluation of the table's suite in an earlier run (record, evaluation), or
    None when this instance has none."""
    check = dg.AssetCheckKey(key(table), "expectations")
    storage = context.instance.event_log_storage
    for record in storage.get_asset_check_execution_history(check, limit=10):
        if record.run_id == context.run_id or record.event is None:
            continue  # this run's own planned execution
        evaluation = record.event.dagster_event.event_specific_data
        if hasattr(evaluation, "passed"):
            return record, evaluation
    return None


def days_checked(evaluation) -> set[date] | None:
    """The days an evaluation checked (None: the whole table)."""
    text = evaluation.metadata.get("days_checked")
    text = text.value if text is not None else "all"
    return None if text == "all" else {date.fromisoformat(d) for d in text.split(", ")}


def step_check(context: dg.AssetExecutionContext, lake: Lake, built: Built) -> dg.AssetCheckResult:
    """The suite's result for what a step did to one table.

    Nothing written since the last evaluation: that result holds and is carried forward (a
    blocking failure keeps blocking). Otherwise the days written are checked, with the days
    of a last evaluation that failed with ERROR, so that a blocking failure holds until those
    rows are fixed; a table never checked in this instance is checked whole.
    """
    previous = last_evaluation(context, built.table)
    if previous is not None and not built.wrote:
        record, evaluation = previous
        return dg.AssetCheckResult(
            asset_key=key(built.table),
            check_name="expectations",
            passed=evaluation.passed,
            severity=evaluation.severity,
            metadata={
                **evaluation.metadata,
                "carried_from_run": dg.MetadataValue.text(record.run_id),
                "note": dg.MetadataValue.text("nothing written since that evaluation"),
            },
        )
    days: set[date] | None = set(built.days) if built.wrote and built.days else None
    if previous is not None and days is not None:
        evaluation = previous[1]
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            earlier = days_checked(evaluation)
            days = None if earlier is None else days | earlier
    return check_result(lake, built.table, sorted(days or ()))


# Extra metadata of some tables' materializations (plots): table -> f(lake, built) -> dict.
ExtraMetadata = Callable[[Lake, Built], dict]


def step_asset(
    step: Step,
    extra: dict[str, ExtraMetadata] | None = None,
    freshness: dg.FreshnessPolicy | None = None,
) -> dg.AssetsDefinition:
    """The asset of one build step: its tables, what they read, their checks."""
    extra = extra or {}
    build = get_table(step.tables[0]).build
    described = "\n".join(f"- {t}: {get_table(t).description}" for t in step.tables)

    @dg.multi_asset(
        specs=[
            spec(t, deps=[d for d in get_table(t).build.tables_read if d != t]) for t in step.tables
        ],
        check_specs=[c for t in step.tables for c in check_spec(t)],
        name=step.name,
        description=f"Built by `{build.function}`"
        + (", by day" if build.days else "")
        + f".\n\n{described}",
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource):
        lk = lake.lake()
        built = run_step(lk, step, rebuild=context.run.tags.get(REBUILD_TAG))
        for b in built:
            context.log.info("%s: %s rows, %s (%.1f s)", b.table, b.rows, b.note, b.seconds)
        for b in built:
            meta = metadata(lk, b)
            if b.table in extra and b.wrote:
                meta.update(extra[b.table](lk, b))
            checks = [step_check(context, lk, b)] if check_spec(b.table) else []
            yield dg.MaterializeResult(asset_key=key(b.table), metadata=meta, check_results=checks)

    if freshness is None:
        return _asset
    # (multi_asset drops a freshness policy given on its specs; set it on the definition)
    return _asset.map_asset_specs(lambda s: s.replace_attributes(freshness_policy=freshness))


def layer_assets(
    layer: str,
    extra: dict[str, ExtraMetadata] | None = None,
    freshness: dg.FreshnessPolicy | None = None,
) -> list:
    """Every step of a layer as an asset."""
    return [step_asset(s, extra, freshness) for s in steps(layer)]
