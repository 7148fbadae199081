"""MLflow tracking and registry: runs with their data, the champion gate, and loading champions.

Models are saved in XGBoost's own UBJSON format through the `mlflow.xgboost` flavour; loading a
champion reads that file with XGBoost after checking the MLmodel file as data (no pickle, no
code folder, no class outside XGBoost). Requirements are pinned explicitly
(MLflow would otherwise load the model and predict on the input example to find them).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import xgboost as xgb
import yaml
from mlflow import MlflowClient
from mlflow.models import infer_signature

from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

CHAMPION = "champion"
_artifact_root: Path | None = None  # set by configure()


def configure(lake_root: Path | str | None = None, settings: Settings | None = None) -> str:
    """Point MLflow at the lake's tracking store and registry; returns the URI.

    The URI is the setting `mlflow_tracking_uri` when given (a server works the same), else
    SQLite at `<lake>/_mlflow/mlflow.db`; artifacts go to `<lake>/_mlflow/artifacts/`.
    """
    global _artifact_root
    settings = settings or get_settings()
    root = Path(lake_root or settings.lake_root).resolve()
    uri = settings.mlflow_tracking_uri or f"sqlite:///{root / '_mlflow' / 'mlflow.db'}"
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    _artifact_root = root / "_mlflow" / "artifacts"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def experiment(name: str) -> str:
    """The experiment's id, created with its artifacts under <lake>/_mlflow/artifacts/<name>."""
    root = _artifact_root or configure_default()  # the lake's store, before any lookup
    client = MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    artifacts = root / name
    artifacts.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(name, artifact_location=artifacts.as_uri())


def configure_default() -> Path:
    configure()
    assert _artifact_root is not None
    return _artifact_root


def pip_requirements() -> list[str]:
    return [f"xgboost=={xgb.__version__}", f"pandas=={pd.__version__}", f"numpy=={np.__version__}"]


def log_model(model: xgb.XGBModel, name: str, example: pd.DataFrame, registered: str | None):
    """Log the model (UBJSON) with signature and input example in the table's own column names
    (`ml.encoding`); registered as a new version of `registered` unless that is None."""
    from ml.encoding import inputs_of

    names = [i.name for i in inputs_of(model)]
    shown = example.set_axis(names, axis=1) if len(names) == example.shape[1] else example
    x = example.to_numpy() if not model.get_booster().feature_names else example
    output = (
        model.predict_proba(x)[:, 1] if isinstance(model, xgb.XGBClassifier) else model.predict(x)
    )
    return mlflow.xgboost.log_model(
        model,
        name=name,
        model_format="ubj",
        signature=infer_signature(shown, output),
        input_example=shown,
        pip_requirements=pip_requirements(),
        registered_model_name=registered,
    )


def publish(
    trained,
    artifact: str,
    name: str | None,
    *,
    metric: str,
    higher_is_better: bool = True,
    tags: dict | None = None,
    card=None,
    summary: str = "",
) -> tuple[str | None, Decision | None]:
    """Log `trained.model` in the active run; with a `name`, register it as a new version,
    tag it (None values left out), gate it on `metric` against the champion and write its
    card (`card(decision)`) and the model's `summary`. Returns (version, decision), both None
    without a name (an experiment)."""
    from ml.encoding import inputs_for

    example = inputs_for(trained.model, trained.holdout.head(5))
    info = log_model(trained.model, artifact, example, name)
    side = f"{artifact}_training_side.json"
    mlflow.log_dict(training_side(trained.split), side)
    if not name:
        return None, None
    version = str(info.registered_model_version)
    tag(name, version, training_side=side, **(tags or {}))
    decision = gate_on_holdout(
        name, version, trained, metric=metric, higher_is_better=higher_is_better
    )
    describe(name, version, card(decision), summary)
    return version, decision


def training_side(split) -> dict:
    """What a model saw in training, for a later gate to leave those rows out of its holdout."""
    return {
        "kind": split.kind,
        "time_column": split.axis.column,
        "time_unit": split.axis.unit,
        "seen_end": split.seen_end,
        "trained_units": list(split.trained_units),
    }


def _seen_rows(champ: Champion, trained) -> np.ndarray:
    """Rows of `trained`'s holdout the champion trained on (its units, up to what its rows and
    labels saw); none when the champion recorded no training side (older versions)."""
    from ml import splits

    path = champ.tags.get("training_side")
    if not path:
        return np.zeros(len(trained.holdout), bool)
    try:
        side = mlflow.artifacts.load_dict(f"runs:/{champ.run_id}/{path}")
    except mlflow.exceptions.MlflowException as e:
        log.warning(
            "champion %s v%s: its training side is unreadable (%s)", champ.name, champ.version, e
        )
        return np.zeros(len(trained.holdout), bool)
    axis = trained.axis
    if side["time_unit"] != axis.unit:
        raise CannotScore(f"it was trained on time in {side['time_unit']}, not {axis.unit}")
    h = trained.holdout
    return splits.overlap(
        side["trained_units"],
        float(side["seen_end"]),
        axis.values(h[axis.column]),
        h[trained.problem.id_col].to_numpy(),
    )


def tag(name: str, version: str, **tags) -> None:
    """Tags on a registered version; None values are left out."""
    client = MlflowClient()
    for key, value in tags.items():
        if value is not None:
            client.set_model_version_tag(name, version, key, str(value))


def log_figure(fig, path: str) -> None:
    mlflow.log_figure(fig, path)


def log_frame(df: pd.DataFrame, path: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / Path(path).name
        df.to_csv(file, index=False)
        mlflow.log_artifact(str(file), str(Path(path).parent) if "/" in path else None)


@dataclass(frozen=True)
class Champion:
    """A registered model version that holds the champion alias."""

    name: str
    version: str
    run_id: str
    model: xgb.XGBModel
    tags: dict[str, str]


class UnsafeModelError(ValueError):
    """A registered model version that would run code when loaded, or is not an XGBoost file."""


# The only classes a model file may ask for; XGBoost reads its own UBJSON into them.
XGBOOST_CLASSES = {
    "xgboost.sklearn.XGBClassifier": xgb.XGBClassifier,
    "xgboost.sklearn.XGBRegressor": xgb.XGBRegressor,
}
_SAFE_FLAVORS = {"xgboost", "python_function"}


def load_xgboost(name: str, version: str) -> xgb.XGBModel:
    """Load a registered version as XGBoost's UBJSON file, never through MLflow's loader.

    `mlflow.xgboost.load_model` puts a model's `code/` folder on `sys.path` and imports the
    `model_class` the MLmodel file names: anyone who may register a version could run code in
    every process that loads the champion. Here the MLmodel file is read as data first, and a
    version with code, another loader or another class is refused, naming the version.
    """
    where = f"model {name!r} version {version}"
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{version}"))
    spec = yaml.safe_load((local / "MLmodel").read_text()) or {}
    flavors = spec.get("flavors") or {}
    xgb_flavor = flavors.get("xgboost")
    if not isinstance(xgb_flavor, dict):
        raise UnsafeModelError(f"{where} is not an XGBoost model (flavors: {sorted(flavors)})")
    problems = []
    if set(flavors) - _SAFE_FLAVORS:
        problems.append(f"flavors {sorted(set(flavors) - _SAFE_FLAVORS)}")
    if xgb_flavor.get("code") or (flavors.get("python_function") or {}).get("code"):
        problems.append("a code folder")
    loader = (flavors.get("python_function") or {}).get("loader_module", "mlflow.xgboost")
    if loader != "mlflow.xgboost":
        problems.append(f"the loader {loader!r}")
    model_class = xgb_flavor.get("model_class")
    if model_class not in XGBOOST_CLASSES:
        problems.append(f"the class {model_class!r}")
    data = str(xgb_flavor.get("data", ""))
    if xgb_flavor.get("model_format") != "ubj" or Path(data).name != data or not data:
        problems.append(f"the model file {data!r} ({xgb_flavor.get('model_format')})")
    if problems:
        raise UnsafeModelError(
            f"{where} is refused: it carries {', '.join(problems)}; plantlake loads only "
            f"XGBoost UBJSON files of {sorted(XGBOOST_CLASSES)}"
        )
    model = XGBOOST_CLASSES[model_class]()
    model.load_model(str(local / data))
    return model


def champion(name: str) -> Champion | None:
    """The current champion of registered model `name` (None when there is none); loaded
    safely (`load_xgboost`): a version that would run code raises UnsafeModelError."""
    client = MlflowClient()
    try:
        mv = client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None
    model = load_xgboost(name, mv.version)
    return Champion(name, mv.version, mv.run_id, model, dict(mv.tags))


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str
    challenger: float
    champion: float | None
    champion_version: str | None
    metric: str = ""


class CannotScore(Exception):
    """The champion cannot score the new holdout (other columns, another kind of model)."""


def gate(
    name: str,
    version: str,
    challenger_score: float,
    champion_score: float | None,
    champion_version: str | None,
    *,
    metric: str,
    higher_is_better: bool = True,
    cannot_score: str = "",
    on: str = "the same holdout",
) -> Decision:
    """Move the champion alias to `version` only if it beats the champion on the same holdout.

    A champion that cannot score the new holdout keeps the alias: the two cannot be compared,
    and only a person moves it then (`plantlake ml promote`). Either way the version is tagged
    `role` (champion or challenger) and `gate` (the reason).
    """
    client = MlflowClient()
    if champion_version is None:
        better, why = True, "the first version: no champion yet"
    elif np.isnan(challenger_score):
        better, why = False, f"{metric} undefined on this holdout"
    elif champion_score is None or np.isnan(champion_score):
        better = False
        why = (
            f"champion v{champion_version} cannot score this holdout"
            + (f" ({cannot_score})" if cannot_score else "")
            + f": not compared, the alias stays; `plantlake ml promote {name} {version}` moves it"
        )
    elif np.isnan(challenger_score):
        better, why = False, f"{metric} undefined on this holdout"
    else:
        better = (
            challenger_score > champion_score
            if higher_is_better
            else challenger_score < champion_score
        )
        why = (
            f"{metric} {challenger_score:.4f} vs champion v{champion_version} "
            f"{champion_score:.4f} on {on}"
        )
    if better:
        client.set_registered_model_alias(name, CHAMPION, version)
    client.set_model_version_tag(name, version, "role", CHAMPION if better else "challenger")
    client.set_model_version_tag(name, version, "gate", why)
    return Decision(better, why, challenger_score, champion_score, champion_version, metric)


def promote(name: str, version: str, reason: str) -> str | None:
    """Give `version` the champion alias by a person's decision; returns the version that held
    it. Both versions are tagged with what happened."""
    client = MlflowClient()
    client.get_model_version(name, version)  # an unknown version raises here, naming it
    try:
        before = client.get_model_version_by_alias(name, CHAMPION).version
    except mlflow.exceptions.MlflowException:
        before = None
    client.set_registered_model_alias(name, CHAMPION, version)
    client.set_model_version_tag(name, version, "role", CHAMPION)
    client.set_model_version_tag(name, version, "gate", f"promoted by hand: {reason}")
    if before and str(before) != str(version):
        client.set_model_version_tag(name, before, "role", "challenger")
        client.set_model_version_tag(name, before, "gate", f"replaced by v{version} by hand")
    return str(before) if before else None


def describe(name: str, version: str, card: str, model_summary: str) -> None:
    """The model card on the version and, for the registered model, a summary of what it is."""
    client = MlflowClient()
    client.update_model_version(name, version, description=card)
    client.update_registered_model(name, description=model_summary)


def log_classifier_evaluation(trained, *, prefix: str = "") -> None:
    """Metrics of the model and its baselines on the holdout, and the four plots."""
    from ml import evaluate

    h = trained.holdout
    y = h[trained.problem.label_col].to_numpy(int)
    w = h[trained.problem.weight_col].to_numpy(float) if trained.problem.weight_col else None
    log_metrics(trained.metrics, prefix)
    for base, values in trained.baseline_metrics.items():
        log_metrics(values, f"{prefix}baseline_{base}_")
    scores = {"model": h["score"].to_numpy()}
    if "baseline_rule" in h and trained.problem.baseline_col:
        scores[f"rule: {trained.problem.baseline_col}"] = (
            h[trained.problem.baseline_col].fillna(-np.inf).to_numpy(float)
        )
    log_figure(evaluate.pr_curve_figure(y, scores, w), f"plots/{prefix}pr_curve.png")
    log_figure(
        evaluate.calibration_figure(y, h["score"].to_numpy(), w), f"plots/{prefix}calibration.png"
    )
    log_figure(
        evaluate.confusion_figure(y, h["score"].to_numpy(), trained.threshold, w),
        f"plots/{prefix}confusion_matrix.png",
    )
    log_importance(trained, prefix)


def log_importance(trained, prefix: str = "") -> None:
    from ml import evaluate

    log_figure(
        evaluate.importance_figure(trained.importance), f"plots/{prefix}feature_importance.png"
    )
    log_frame(
        trained.importance.rename("gain").rename_axis("feature").reset_index(),
        f"{prefix}feature_importance.csv",
    )


def log_metrics(values: dict, prefix: str = "") -> None:
    """The finite numbers of `values` as metrics named `<prefix><key>` (nested dicts flattened)."""
    flat = {}
    for k, v in values.items():
        if isinstance(v, dict):
            flat |= {f"{k}_{kk}": vv for kk, vv in v.items()}
        else:
            flat[k] = v
    mlflow.log_metrics(
        {
            f"{prefix}{k}": float(v)
            for k, v in flat.items()
            if isinstance(v, int | float | np.number) and np.isfinite(v)
        }
    )


def gate_on_holdout(
    name: str, version: str, trained, *, metric: str, higher_is_better: bool = True
) -> Decision:
    """Score the current champion on `trained`'s holdout (same rows, labels and weights), gate
    `version` against it on `metric`, and tag the active run with the outcome. A classifier is
    judged on a classification metric, a regressor (remaining life) on a regression one. Rows
    the champion trained on (its units, up to the time its labels saw) are left out and both
    are judged on the rest; with none left, the champion cannot score this holdout."""
    from ml import encoding, evaluate

    h, problem = trained.holdout, trained.problem
    lower = float(trained.params.get("target_lower", -np.inf))
    upper = float(trained.params.get("target_upper", np.inf))

    def score(model, h) -> float:
        if trained.threshold is not None:
            if not isinstance(model, xgb.XGBClassifier):
                raise CannotScore("it is not a classifier")
            p = encoding.probability(model, h)
            y = h[problem.label_col].to_numpy(int)
            wh = h[problem.weight_col].to_numpy(float) if problem.weight_col else None
            return evaluate.classification_metrics(y, p, 0.5, wh)[metric]
        if not isinstance(model, xgb.XGBRegressor):
            raise CannotScore("it is not a regressor")
        p = np.clip(encoding.prediction(model, h), lower, upper)
        return evaluate.regression_metrics(h[problem.label_col].to_numpy(float), p)[metric]

    why, champ_score, champ_version = "", None, None
    challenger, on = trained.metrics[metric], "the same holdout"
    try:
        champ = champion(name)
    except UnsafeModelError as e:
        champ, why = None, str(e)
        champ_version = _alias_version(name)
    if champ is not None:
        champ_version = champ.version
        try:
            seen = _seen_rows(champ, trained)
            rows = h[~seen]
            if rows.empty:
                raise CannotScore("it was trained on every row of this holdout")
            if seen.any():  # both judged on the rows neither trained on
                log.warning(
                    "champion %s v%s trained on %d of the %d holdout rows: both are judged on "
                    "the other %d",
                    name,
                    champ.version,
                    int(seen.sum()),
                    len(h),
                    len(rows),
                )
                challenger = float(score(trained.model, rows))
                on = f"the {len(rows)} holdout rows the champion did not train on"
            champ_score = float(score(champ.model, rows))
        except (KeyError, ValueError, CannotScore) as e:
            why = str(e)
            log.warning("champion %s v%s cannot score this holdout: %s", name, champ.version, e)
    decision = gate(
        name,
        version,
        challenger,
        champ_score,
        champ_version,
        metric=metric,
        higher_is_better=higher_is_better,
        cannot_score=why,
        on=on,
    )
    mlflow.set_tag(f"{name}.role", CHAMPION if decision.promoted else "challenger")
    mlflow.set_tag(f"{name}.gate", decision.reason)
    return decision


def _alias_version(name: str) -> str | None:
    try:
        return MlflowClient().get_model_version_by_alias(name, CHAMPION).version
    except mlflow.exceptions.MlflowException:
        return None
