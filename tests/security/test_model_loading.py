"""Loading a champion runs no code (issue 14, item 5): a version registered through MLflow's own
API with a `code` folder, or as a pickled Python model, is refused with a message naming the
version, and nothing of it is imported."""

from __future__ import annotations

import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from mlflow import MlflowClient

from ml import registry


@pytest.fixture
def store(tmp_path):
    registry.configure(lake_root=tmp_path)
    mlflow.set_experiment(experiment_id=registry.experiment("security"))
    x = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7})
    y = (x["a"] > 20).astype(int)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    yield model, x
    mlflow.set_tracking_uri(None)


def crown(name: str) -> None:
    version = MlflowClient().get_latest_versions(name)[0].version
    MlflowClient().set_registered_model_alias(name, registry.CHAMPION, version)


def test_a_plain_xgboost_champion_loads_and_predicts_as_trained(store):
    model, x = store
    with mlflow.start_run():
        registry.log_model(model, "model", x.head(3), "plain")
    crown("plain")
    champ = registry.champion("plain")
    assert isinstance(champ.model, xgb.XGBClassifier)
    assert np.allclose(champ.model.predict_proba(x), model.predict_proba(x))


def test_a_version_with_a_code_folder_is_refused_and_its_code_never_runs(store, tmp_path):
    model, _ = store
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil_loader_mod.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    with mlflow.start_run():  # what anyone with registry access can do through MLflow's API
        mlflow.xgboost.log_model(
            model,
            name="m",
            model_format="ubj",
            code_paths=[str(evil)],
            registered_model_name="evil",
        )
    crown("evil")
    with pytest.raises(registry.UnsafeModelError, match=r"'evil' version 1 .*a code folder"):
        registry.champion("evil")
    assert not marker.exists() and "evil_loader_mod" not in sys.modules


class Shell(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def test_a_pickled_python_model_is_refused(store):
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="m", python_model=Shell(), registered_model_name="pickled")
    crown("pickled")
    with pytest.raises(registry.UnsafeModelError, match="'pickled' version 1 is not an XGBoost"):
        registry.champion("pickled")
