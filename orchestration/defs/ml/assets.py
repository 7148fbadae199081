"""ML assets: the two models (trained weekly), their predictions and the feature drift."""

import dagster as dg
import pandas as pd

from orchestration.defs import tables
from orchestration.defs.partitions import DAILY, partition_day
from orchestration.defs.resources import LakeResource, MLflowResource

MAINTENANCE_MODEL = dg.AssetKey(["ml", "maintenance_model"])
QUALITY_MODEL = dg.AssetKey(["ml", "quality_model"])
DRIFT_CHECK = "psi_below_threshold"


def _md(frame: pd.DataFrame) -> dg.MetadataValue:
    shown = frame.set_index("model").T.round(4).reset_index(names="metric")
    return dg.MetadataValue.md(shown.to_markdown(index=False))


def _model_result(report, lake) -> dg.MaterializeResult:
    from mlflow import get_tracking_uri

    c = report.classifier
    meta = {
        "registered_model": report.name,
        "version": report.version,
        "role": "champion" if report.decision.promoted else "challenger",
        "gate": report.decision.reason,
        "mlflow_run_id": report.run_id,
        "tracking_uri": get_tracking_uri(),
        "train_window": f"{c.axis.show(c.split.train_start)} – {c.axis.show(c.split.train_end)}",
        "holdout_window": f"{c.axis.show(c.split.test_start)} – {c.axis.show(c.split.test_end)}",
        "train_rows": c.train_rows,
        "train_seconds": round(report.train_seconds, 2),
        "holdout_metrics": _md(report.table()),
    }
    rul = getattr(report, "rul_decision", None)
    if rul is not None:
        meta |= {
            "rul_version": report.rul_version,
            "rul_role": "champion" if rul.promoted else "challenger",
            "rul_gate": rul.reason,
        }
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    key=MAINTENANCE_MODEL,
    group_name="ml",
    deps=[tables.key("gold.asset_health_features"), tables.key("silver.equipment_states")],
    description="P(failure within 24 h) and remaining useful life (XGBoost), trained on every "
    "hour of gold.asset_health_features with a time-based holdout, logged to MLflow and "
    "registered as plantlake-maintenance; `champion` moves only if the new version wins.",
)
def maintenance_model(
    context: dg.AssetExecutionContext, lake: LakeResource, mlflow: MLflowResource
):
    from ml import maintenance

    lk = lake.lake()
    report = maintenance.train_maintenance(lk)
    context.log.info("maintenance model v%s: %s", report.version, report.decision.reason)
    return _model_result(report, lk)


@dg.asset(
    key=QUALITY_MODEL,
    group_name="ml",
    deps=[tables.key("gold.quality_features")],
    description="P(a part is scrap or rework) (XGBoost) from gold.quality_features, with a "
    "time-based holdout, logged to MLflow and registered as plantlake-quality; `champion` "
    "moves only if the new version wins.",
)
def quality_model(context: dg.AssetExecutionContext, lake: LakeResource, mlflow: MLflowResource):
    from ml import quality

    lk = lake.lake()
    report = quality.train_quality(lk)
    context.log.info("quality model v%s: %s", report.version, report.decision.reason)
    return _model_result(report, lk)


def _scored_result(lk, scored, table: str) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        asset_key=tables.key(table),
        check_results=[tables.check_result(lk, table, scored.days)],
        metadata={
            "dagster/row_count": dg.MetadataValue.int(scored.rows),
            "model": f"{scored.model} v{scored.version}",
            "scoring_seconds_per_1000_rows": round(scored.seconds_per_1000, 4),
            "delta_version": lk.version(table),
            "preview": dg.MetadataValue.md(tables._markdown(tables.frame(lk, table, scored.days))),
        },
    )


def predictions_asset(table: str, features: str, model: dg.AssetKey, score: str, name: str):
    """A daily asset scoring the day's rows of `features` into `table` with the champion of
    `model` (`ml.scoring.<score>`); before any champion exists it writes nothing and says so."""

    @dg.multi_asset(
        specs=[tables.spec(table, deps=[features, model], partitions_def=DAILY)],
        check_specs=tables.check_spec(table),
        name=name,
        description=f"Score the day's rows of {features} with the champion of {model.to_user_string()}.",
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource, mlflow: MLflowResource):
        from ml import scoring

        lk = lake.lake()
        day = partition_day(context)
        try:
            scored = getattr(scoring, score)(lk, [day])
        except scoring.NoChampionError as e:
            context.log.warning(str(e))
            lk.create(table)
            yield dg.MaterializeResult(
                asset_key=tables.key(table),
                metadata={"dagster/row_count": 0, "note": str(e)},
                check_results=[tables.check_result(lk, table, [day])],
            )
            return
        yield _scored_result(lk, scored, table)

    return _asset


gold_maintenance_predictions = predictions_asset(
    "gold.maintenance_predictions",
    "gold.asset_health_features",
    MAINTENANCE_MODEL,
    "score_maintenance",
    "gold_maintenance_predictions",
)
gold_quality_predictions = predictions_asset(
    "gold.quality_predictions",
    "gold.quality_features",
    QUALITY_MODEL,
    "score_quality",
    "gold_quality_predictions",
)


@dg.multi_asset(
    specs=[
        tables.spec(
            "gold.feature_drift",
            deps=[
                "gold.asset_health_features",
                "gold.quality_features",
                MAINTENANCE_MODEL,
                QUALITY_MODEL,
            ],
            partitions_def=DAILY,
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            DRIFT_CHECK,
            asset=tables.key("gold.feature_drift"),
            description="warns when a champion's feature drifted (PSI > 0.2) between its "
            "training window and the day scored",
        )
    ],
    name="gold_feature_drift",
)
def gold_feature_drift(
    context: dg.AssetExecutionContext, lake: LakeResource, mlflow: MLflowResource
):
    """PSI per champion and feature: training window against the run's day."""
    from ml import scoring

    lk = lake.lake()
    drift = scoring.build_feature_drift(lk, [partition_day(context)])
    drifted = drift[drift["drifted"]] if len(drift) else drift
    yield dg.MaterializeResult(
        asset_key=tables.key("gold.feature_drift"),
        metadata={"dagster/row_count": len(drift)},
        check_results=[
            dg.AssetCheckResult(
                check_name=DRIFT_CHECK,
                asset_key=tables.key("gold.feature_drift"),
                passed=drifted.empty,
                severity=dg.AssetCheckSeverity.WARN,
                description=(
                    "no champion yet"
                    if drift.empty
                    else f"{len(drifted)} of {len(drift)} features drifted (PSI > 0.2)"
                ),
                metadata={
                    "drifted": dg.MetadataValue.md(
                        drifted[["model_name", "feature", "psi"]].round(3).to_markdown(index=False)
                        if len(drifted)
                        else "none"
                    )
                },
            )
        ],
    )


ASSETS = [
    maintenance_model,
    quality_model,
    gold_maintenance_predictions,
    gold_quality_predictions,
    gold_feature_drift,
]
SCORING = [gold_maintenance_predictions, gold_quality_predictions, gold_feature_drift]
