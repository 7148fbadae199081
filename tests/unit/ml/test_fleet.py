"""A fleet-shaped run-to-failure table, as public prognostics data sets are shaped (integer
cycles, many units, an operating setting that shifts every sensor), trained through the generic
API with whole units held out and scored by the run-to-failure protocol: the sequence feature
builder must beat both a constant and XGBoost on the raw sensors."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from ml import registry
from ml.maintenance import fit_maintenance
from transforms.sequences import sequence_features

OFFSETS = np.array([[0.0, 0.0], [15.0, -8.0], [30.0, 5.0]])  # per operating regime


def fleet(units: int = 60, seed: int = 0) -> pd.DataFrame:
    """Units run to failure at their last cycle; each cycle flies in one of three regimes
    (`altitude`), which shifts both sensors far more than the wear does, and noise hides it."""
    rng = np.random.default_rng(seed)
    parts = []
    for u in range(units):
        life = int(rng.integers(150, 300))
        c = np.arange(1, life + 1)
        regime = rng.integers(0, 3, life)
        wear = np.exp(3 * c / life) - 1
        parts.append(
            pd.DataFrame(
                {
                    "unit": u,
                    "cycle": c,
                    "altitude": regime * 10 + rng.normal(0, 0.5, life),
                    "s1": OFFSETS[regime, 0] + 0.8 * wear + rng.normal(0, 3, life),
                    "s2": OFFSETS[regime, 1] - 0.5 * wear + rng.normal(0, 3, life),
                    "RUL": np.minimum(life - c, 125).astype(float),  # the usual piecewise cap
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def store(tmp_path):
    registry.configure(lake_root=tmp_path)
    yield
    mlflow.set_tracking_uri(None)


def test_the_feature_builder_beats_a_constant_and_raw_sensors_on_held_out_units(store):
    f = fleet()
    common = dict(
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        rul_col="RUL",
        split="group",
        test_fraction=0.3,
        register=False,
    )
    raw = fit_maintenance(f, feature_cols=["altitude", "s1", "s2"], **common).rul
    built = sequence_features(
        f,
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        columns=["s1", "s2"],
        rows=(10, 30),
        stats=("mean", "slope"),
        regimes=["altitude"],  # settings are known operating conditions, not the answer
        n_regimes=3,
    )
    features = [c for c in built.columns if c not in f.columns and c != "regime"]
    seq = fit_maintenance(built, feature_cols=features, **common).rul

    assert raw.split.held_out == seq.split.held_out and seq.split.test_units == 18
    # each held-out unit scored once, where the protocol cuts it
    assert seq.last["model"]["rows"] == raw.last["model"]["rows"] == 18
    for trained in (raw, seq):  # both beat the constant
        assert trained.last["model"]["rmse"] < trained.last["train_mean"]["rmse"]
        assert trained.metrics["rmse"] < trained.baseline_metrics["train_mean"]["rmse"]
    # the builder beats raw sensors, per row and per unit at its last cycle, and on the
    # asymmetric score of prognostics
    assert seq.metrics["rmse"] < 0.75 * raw.metrics["rmse"]
    assert seq.last["model"]["rmse"] < raw.last["model"]["rmse"]
    assert seq.last["model"]["score"] < raw.last["model"]["score"]
    # its 90 % interval holds about 90 % of the held-out units' true RULs
    assert abs(seq.metrics["interval_coverage"] - 0.9) <= 0.05
