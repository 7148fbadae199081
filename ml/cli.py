"""`plantlake ml`: train the models, score a day, show the registry."""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console

app = typer.Typer(help="Train, score and inspect the ML models.", add_completion=False)
console = Console()


def _registry() -> None:
    """MLflow pointed at the lake's store, without starting Spark."""
    from lakehouse.settings import get_settings
    from ml import registry

    registry.configure(get_settings().lake_root)


def _lake():
    from lakehouse.lake import open_lake
    from ml import registry

    lake = open_lake()
    registry.configure(lake.root)
    return lake


@app.command()
def train(
    model: str = typer.Argument("all", help="maintenance, quality or all"),
    horizon: float = typer.Option(24.0, help="maintenance: failure within this many hours"),
) -> None:
    """Train on the lake's features; the champion alias moves only if the new version wins."""
    from ml import maintenance, quality

    if model not in ("maintenance", "quality", "all"):
        raise typer.BadParameter("model must be maintenance, quality or all", param_hint="MODEL")
    lake = _lake()
    reports = []
    if model in ("maintenance", "all"):
        reports.append(maintenance.train_maintenance(lake, horizon=horizon))
    if model in ("quality", "all"):
        reports.append(quality.train_quality(lake))
    for r in reports:
        console.print(
            f"[bold]{r.name} v{r.version}[/bold]: {'champion' if r.decision.promoted else 'challenger'}"
            f" ({r.decision.reason}); trained in {r.train_seconds:.1f} s"
        )
        rul = getattr(r, "rul_decision", None)
        if rul is not None:
            console.print(
                f"[bold]{r.rul.problem.label_col} model v{r.rul_version}[/bold]: "
                f"{'champion' if rul.promoted else 'challenger'} ({rul.reason})"
            )
        console.print(r.table().set_index("model").T.round(4).to_string())


@app.command()
def score(day: str = typer.Argument(..., help="UTC day, YYYY-MM-DD")) -> None:
    """Score one day's features with the champions into gold, and the drift of that day."""
    from ml import scoring

    lake, d = _lake(), date.fromisoformat(day)
    for scored in (scoring.score_maintenance(lake, [d]), scoring.score_quality(lake, [d])):
        console.print(
            f"{scored.table}: {scored.rows:,} rows by {scored.model} v{scored.version} "
            f"({scored.seconds_per_1000:.3f} s per 1,000 rows)"
        )
    drift = scoring.build_feature_drift(lake, [d])
    if len(drift):
        console.print(drift[["model_name", "feature", "psi", "drifted"]].round(3).to_string())


@app.command()
def promote(
    name: str = typer.Argument(..., help="registered model, e.g. plantlake-maintenance"),
    version: str = typer.Argument(..., help="the version to make champion"),
    reason: str = typer.Option(..., "--reason", help="why (kept on the version's tags)"),
) -> None:
    """Give a version the champion alias by hand: when the gate could not compare it (the
    champion cannot score the new holdout) or a person decides otherwise."""
    import mlflow

    from ml import registry

    _registry()
    try:
        before = registry.promote(name, version, reason)
    except mlflow.exceptions.MlflowException as e:
        console.print(f"[red]{name} v{version}: {e.message}[/red]")
        raise typer.Exit(1) from e
    console.print(
        f"{name} v{version} is champion" + (f" (was v{before})" if before else "") + f": {reason}"
    )


@app.command()
def models() -> None:
    """Every registered version with its role, gate decision and holdout PR-AUC."""
    from mlflow import MlflowClient

    _registry()
    client = MlflowClient()
    for rm in client.search_registered_models():
        champion = rm.aliases.get("champion")
        for mv in client.search_model_versions(f"name = '{rm.name}'"):
            metrics = client.get_run(mv.run_id).data.metrics
            pr_auc, rmse = metrics.get("pr_auc"), metrics.get("rul_rmse")
            shown = f"; PR-AUC {pr_auc:.3f}" if pr_auc is not None else ""
            if rm.name.endswith("-rul") and rmse is not None:
                shown = f"; RMSE {rmse:.2f}"
            console.print(
                f"{rm.name} v{mv.version}{' (champion)' if mv.version == champion else ''}: "
                f"{mv.tags.get('role', '')} {mv.tags.get('gate', '')}{shown}"
            )
