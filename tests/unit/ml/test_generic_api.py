"""The generic ML API takes a fleet's data as it comes (issue 16): one test per defect found by
an outside data scientist, each on a small table whose answer is known."""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from mlflow import MlflowClient

from ml import encoding, evaluate, labels, registry
from ml.maintenance import fit_maintenance
from ml.quality import fit_quality
from ml.timeaxis import TimeAxis


@pytest.fixture
def store(tmp_path):
    """An MLflow tracking store and registry of the test's own."""
    registry.configure(lake_root=tmp_path)
    yield MlflowClient()
    mlflow.set_tracking_uri(None)


def fleet(units: int = 40, seed: int = 0, *, datetime: bool = False) -> pd.DataFrame:
    """A run-to-failure fleet: integer cycles from 1, each unit fails as its last cycle ends;
    `s[1]` rises with wear, `s<2` is noise, `mode` (text) shifts `s[1]`."""
    rng = np.random.default_rng(seed)
    parts = []
    for u in range(units):
        life = int(rng.integers(80, 160))
        c = np.arange(1, life + 1)
        mode = rng.choice(["a", "b"], life)
        parts.append(
            pd.DataFrame(
                {
                    "unit": f"u{u}",
                    "cycle": c,
                    "s[1]": (c / life) ** 2 * 4 + (mode == "b") * 2 + rng.normal(0, 0.2, life),
                    "s<2": rng.normal(0, 1, life),
                    "mode": mode,
                    "RUL": (life - c).astype(float),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["fails_soon"] = (out["RUL"] <= 15).astype(int)
    if datetime:
        out["cycle"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(out["cycle"], unit="h")
    return out


def end_failures(frame: pd.DataFrame) -> pd.DataFrame:
    """Each unit fails as its last cycle ends (cycle + 1), named as another system names it."""
    last = frame.groupby("unit")["cycle"].max()
    return pd.DataFrame({"machine": last.index, "failed_at": last.to_numpy() + 1})


# 1 -------------------------------------------------------------------------------------------
def test_integer_cycles_are_a_time_axis_in_their_own_unit_never_nanoseconds(store):
    f = fleet(20)
    with pytest.raises(ValueError, match="time_unit"):
        labels.label_failures(f, end_failures(f), id_col="unit", time_col="cycle")
    out = labels.label_failures(
        f,
        end_failures(f),
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        failure_id_col="machine",
        failure_time_col="failed_at",
        failure_end_col=None,
        horizon=15,
        rul_cap=1000,
    )
    assert (out[labels.FAILS] == f["fails_soon"]).all()  # 15 cycles, not 15 ns
    report = fit_maintenance(
        f,
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        feature_cols=["s[1]"],
        label_col="fails_soon",
        split="group",
        register=False,
    )
    assert report.classifier.metrics["roc_auc"] > 0.8
    assert report.classifier.split.as_params()["test_end"].endswith("cycles")


# 2 -------------------------------------------------------------------------------------------
def test_a_rul_model_trains_alone_and_a_missing_rul_column_is_an_error(store):
    f = fleet(20).drop(columns="fails_soon")
    report = fit_maintenance(
        f,
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        feature_cols=["s[1]"],
        rul_col="RUL",
        split="group",
        register=False,
    )
    assert report.classifier is None and report.rul is not None
    assert report.rul.metrics["rmse"] < report.rul.baseline_metrics["train_mean"]["rmse"]
    with pytest.raises(ValueError, match="'remaining'"):
        fit_maintenance(
            f,
            id_col="unit",
            time_col="cycle",
            time_unit="cycles",
            feature_cols=["s[1]"],
            rul_col="remaining",
            register=False,
        )


# 3 and 4 -------------------------------------------------------------------------------------
def test_failures_with_their_own_column_names_label_each_unit_to_its_last_cycle(store):
    f = fleet(100, seed=3)
    out = labels.label_failures(
        f,
        end_failures(f),
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        failure_id_col="machine",
        failure_time_col="failed_at",
        failure_end_col=None,
        horizon=15,
        rul_cap=125,
    )
    last = out.groupby("unit").tail(1)
    assert (last[labels.RUL] == 0).all() and (last[labels.FAILS] == 1).all()  # all 100 units
    assert np.allclose(out[labels.RUL], np.minimum(f["RUL"], 125))  # never the cap instead of 0
    assert (out[labels.FAILS] == f["fails_soon"]).all()
    assert out["label_known"].all() and not out["in_failure"].any()
    report = fit_maintenance(  # the same names pass through the entry point
        f,
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        feature_cols=["s[1]"],
        failures=end_failures(f),
        failure_id_col="machine",
        failure_time_col="failed_at",
        failure_end_col=None,
        horizon=15,
        rul_cap=125,
        split="group",
        register=False,
    )
    assert report.classifier.holdout[labels.FAILS].sum() > 0
    assert report.rul.holdout[labels.RUL].min() == 0


def test_a_unit_whose_data_ends_early_is_censored_by_its_own_end_not_the_fleets():
    t0 = pd.Timestamp("2026-03-01")
    frame = pd.DataFrame(
        {
            "m": ["a"] * 10 + ["b"] * 100,
            "t": [t0 + pd.Timedelta(hours=h) for h in [*range(10), *range(100)]],
        }
    )
    out = labels.label_failures(
        frame, frame.iloc[:0].rename(columns={"t": "start_time"}), id_col="m", time_col="t",
        failure_end_col=None, horizon=24, rul_cap=48,
    )  # fmt: skip
    a = out[out["m"] == "a"]
    assert a[labels.RUL].isna().all() and not a["label_known"].any()  # 10 h of data < cap
    assert out[out["m"] == "b"][labels.RUL].iloc[0] == 48


# 5 -------------------------------------------------------------------------------------------
def test_any_column_name_trains_and_comes_back_in_importances_and_the_signature(store, caplog):
    f = fleet(30)
    with caplog.at_level(logging.WARNING, logger="ml.train"):
        report = fit_maintenance(
            f,
            id_col="unit",
            time_col="cycle",
            time_unit="cycles",
            feature_cols=["s[1]", "s<2"],  # `mode` only declared categorical: added
            categorical_cols=["mode"],
            label_col="fails_soon",
            split="group",
            name="fleet",
        )
    assert "added as features" in caplog.text
    clf = report.classifier
    assert list(clf.problem.feature_cols) == ["s[1]", "s<2", "mode"]
    assert set(clf.importance.index) == {"s[1]", "s<2", "mode"} and clf.importance["s[1]"] > 0
    model = mlflow.models.get_model_info(f"models:/fleet/{report.version}")
    assert model.signature.inputs.input_names() == ["s[1]", "s<2", "mode=a", "mode=b"]
    champ = registry.champion("fleet")  # the file alone scores the table's own columns
    from ml.encoding import probability

    assert np.allclose(probability(champ.model, clf.holdout), clf.holdout["score"], atol=1e-6)


def test_a_text_column_not_declared_categorical_is_encoded_not_turned_into_nan(store, caplog):
    f = fleet(30)
    f["s[1]"] = f["s[1]"] - (f["mode"] == "b") * 2  # the signal alone; `mode` shifts nothing
    f["grade"] = np.where(f["RUL"] <= 15, "worn", "ok")  # a text column that is the answer
    with caplog.at_level(logging.WARNING, logger="ml.train"):
        report = fit_maintenance(
            f,
            id_col="unit",
            time_col="cycle",
            time_unit="cycles",
            feature_cols=["s<2", "grade"],
            label_col="fails_soon",
            split="group",
            register=False,
        )
    assert "one-hot encoded" in caplog.text
    assert "grade" in report.classifier.problem.categorical_cols
    assert report.classifier.metrics["pr_auc"] > 0.99  # it learned from the text
    with pytest.raises(ValueError, match="'s<2' is numeric for the model"):
        from ml.encoding import inputs_for

        inputs_for(report.classifier.model, f.assign(**{"s<2": "n/a"}))


# 6 -------------------------------------------------------------------------------------------
def test_a_group_split_holds_whole_units_out_and_scores_each_at_its_last_observed_cycle(store):
    f = fleet(40)
    report = fit_maintenance(
        f,
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        feature_cols=["s[1]", "s<2"],
        failures=end_failures(f),
        failure_id_col="machine",
        failure_time_col="failed_at",
        failure_end_col=None,
        horizon=15,
        rul_cap=125,
        split="group",
        test_fraction=0.25,
        register=False,
    )
    clf, rul = report.classifier, report.rul
    held = set(clf.holdout["unit"])
    assert len(held) == 10 and rul.split.held_out == clf.split.held_out  # the same units
    assert not held & set(f["unit"]) - set(clf.split.held_out)
    assert rul.last["model"]["rows"] == 10  # one row per held-out unit
    assert rul.last["model"]["rmse"] < rul.last["train_mean"]["rmse"]
    runs = mlflow.search_runs(experiment_names=["plantlake-experiments"])
    assert {"metrics.rul_last_model_rmse", "metrics.rul_last_model_score"} <= set(runs.columns)


def test_an_explicit_test_table_is_the_holdout(store):
    f, test = fleet(30, seed=1), fleet(10, seed=2)
    test["unit"] = "t" + test["unit"]
    test = test.groupby("unit").head(60)  # cut units, as a public test set gives them
    report = fit_maintenance(
        f,
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        feature_cols=["s[1]"],
        rul_col="RUL",
        test=test,
        register=False,
    )
    assert len(report.rul.holdout) == len(test) and report.rul.split.kind == "given"
    last = test.groupby("unit").tail(1)
    assert report.rul.last["model"]["rows"] == 10
    assert report.rul.last["train_mean"]["rmse"] == pytest.approx(
        np.sqrt(np.mean((last["RUL"] - f["RUL"].mean()) ** 2))
    )


def test_the_prognostic_score_is_asymmetric_as_published():
    # Saxena et al. (PHM08): d = predicted − true; early: exp(−d/13) − 1, late: exp(d/10) − 1
    assert evaluate.prognostic_score(np.array([-13.0, 10.0])) == pytest.approx(2 * (np.e - 1))
    assert evaluate.prognostic_score(np.array([5.0])) > evaluate.prognostic_score(np.array([-5.0]))


# 7 -------------------------------------------------------------------------------------------
def test_the_registered_model_is_refit_on_the_whole_training_side(store):
    report = fit_maintenance(
        fleet(40),
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        feature_cols=["s[1]"],
        label_col="fails_soon",
        split="group",
        register=False,
    )
    clf = report.classifier
    assert clf.train_rows == clf.fit_rows + clf.validation_rows  # whole units: no purge
    assert clf.train_rows + len(clf.holdout) == len(fleet(40))
    trees = clf.model.get_booster().num_boosted_rounds()
    assert trees == clf.params["n_estimators"] < 400  # the count early stopping chose
    run = mlflow.get_run(report.run_id).data.params
    assert int(run["train_rows"]) == clf.train_rows and int(run["fit_rows"]) == clf.fit_rows


# 8 -------------------------------------------------------------------------------------------
def test_no_default_name_and_register_false_registers_nothing(store):
    kw = dict(id_col="unit", time_col="cycle", time_unit="cycles", feature_cols=["s[1]"])
    with pytest.raises(ValueError, match="name="):
        fit_maintenance(fleet(20), label_col="fails_soon", **kw)
    with pytest.raises(ValueError, match="name="):
        fit_quality(fleet(20), label_col="fails_soon", **kw)
    fit_maintenance(fleet(20), label_col="fails_soon", split="group", register=False, **kw)
    assert store.search_registered_models() == []


def test_a_champion_that_cannot_score_keeps_the_alias_until_a_person_promotes(store):
    kw = dict(id_col="unit", time_col="cycle", time_unit="cycles", split="group", name="m")
    first = fit_maintenance(fleet(30), feature_cols=["s[1]"], label_col="fails_soon", **kw)
    assert first.decision.promoted
    other = fleet(30).rename(columns={"s[1]": "vibration"})  # another table, the same name
    second = fit_maintenance(other, feature_cols=["vibration"], label_col="fails_soon", **kw)
    assert not second.decision.promoted and "cannot score" in second.decision.reason
    assert "plantlake ml promote m 2" in second.decision.reason
    assert str(store.get_model_version_by_alias("m", "champion").version) == "1"
    assert registry.promote("m", "2", "new sensor names") == "1"
    assert str(store.get_model_version_by_alias("m", "champion").version) == "2"
    assert store.get_model_version("m", "1").tags["role"] == "challenger"


def test_the_rul_champion_is_judged_on_rul_not_on_the_classifiers_pr_auc(store):
    f = fleet(40)
    kw = dict(
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        label_col="fails_soon",
        rul_col="RUL",
        split="group",
        name="m",
    )
    first = fit_maintenance(f, feature_cols=["s[1]", "mode"], **kw)
    assert first.rul_decision.promoted and first.rul_decision.metric == "rmse"
    # a second version that sees only noise: a worse RUL (higher RMSE) keeps the RUL champion
    second = fit_maintenance(f, feature_cols=["s<2", "s[1]", "mode"], params={"max_depth": 1, "learning_rate": 0.01}, **kw)  # fmt: skip
    d = second.rul_decision
    assert d.metric == "rmse" and (d.challenger < d.champion) == d.promoted
    assert store.get_model_version("m-rul", second.rul_version).tags["gate"].startswith("rmse")


# 9 -------------------------------------------------------------------------------------------
def test_model_cards_describe_the_data_they_were_given(store):
    report = fit_maintenance(
        fleet(30),
        id_col="unit",
        time_col="cycle",
        time_unit="cycles",
        feature_cols=["s[1]", "mode"],
        label_col="fails_soon",
        rul_col="RUL",
        split="group",
        name="turbofan",
        source="a turbofan fleet (units run to failure)",
    )
    card = store.get_model_version("turbofan", report.version).description
    rul_card = store.get_model_version("turbofan-rul", report.rul_version).description
    for text in (card, rul_card):
        assert "a turbofan fleet" in text and "`unit`" in text and "cycles" in text
        assert "gold.asset_health_features" not in text and "simulated" not in text
    assert "whole units" in card and "`mode` (categorical)" in card
    assert "last observed time" in rul_card and "conformal" in rul_card


def test_plantlake_ml_promote_moves_the_alias_and_names_an_unknown_version(store, monkeypatch):
    from typer.testing import CliRunner

    from lakehouse.settings import load_settings
    from ml.cli import app

    kw = dict(id_col="unit", time_col="cycle", time_unit="cycles", split="group", name="m")
    for _ in range(2):
        fit_maintenance(fleet(20), feature_cols=["s[1]"], label_col="fails_soon", **kw)
    root = registry._artifact_root.parent.parent  # the lake of the store fixture
    monkeypatch.setattr("lakehouse.settings.get_settings", lambda: load_settings(lake_root=root))
    result = CliRunner().invoke(app, ["promote", "m", "2", "--reason", "checked by hand"])
    assert result.exit_code == 0, result.output
    assert "m v2 is champion (was v1): checked by hand" in result.output
    assert str(store.get_model_version_by_alias("m", "champion").version) == "2"
    assert "promoted by hand" in store.get_model_version("m", "2").tags["gate"]
    result = CliRunner().invoke(app, ["promote", "m", "9", "--reason", "x"])
    assert result.exit_code == 1 and "m v9" in result.output


def test_a_date_column_as_a_feature_is_refused_not_one_hot_encoded(store):
    f = fleet(10).assign(seen=pd.Timestamp("2026-01-01"))
    with pytest.raises(ValueError, match=r"\['seen'\] hold dates"):
        fit_maintenance(
            f, id_col="unit", time_col="cycle", time_unit="cycles", feature_cols=["seen"],
            label_col="fails_soon", split="group", register=False,
        )  # fmt: skip


# honest holdouts (a review's findings) ---------------------------------------------------
KW = dict(id_col="unit", time_col="cycle", time_unit="cycles")


def cut_at_random(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Each unit's first rows up to a random cycle, as a public test set gives its units."""
    rng = np.random.default_rng(seed)
    life = frame.groupby("unit")["cycle"].transform("max")
    stop = frame["unit"].map({u: rng.uniform(0.2, 0.95) for u in frame["unit"].unique()})
    return frame[frame["cycle"] <= life * stop]


def test_a_given_test_of_other_units_is_validated_on_whole_units(store):
    test = cut_at_random(fleet(20, seed=2).assign(unit=lambda d: "t" + d["unit"]), seed=3)
    common = dict(**KW, feature_cols=["s[1]", "mode"], rul_col="RUL", test=test, register=False)
    report = fit_maintenance(fleet(40, seed=1), **common)
    rul = report.rul
    # by unit, nothing is purged: every training row is in the first fit or the validation
    assert rul.fit_rows + rul.validation_rows == rul.train_rows
    assert abs(rul.metrics["interval_coverage"] - 0.9) <= 0.07
    by_time = fit_maintenance(fleet(40, seed=1), validation="time", **common).rul
    assert by_time.fit_rows + by_time.validation_rows < by_time.train_rows  # purged
    # calibrated on the long-lived units' last rows only, it covers far less than stated
    assert by_time.metrics["interval_coverage"] < 0.6


def test_a_callers_remaining_life_is_purged_where_it_looks_into_the_test_time(store):
    f = fleet(30, seed=4, datetime=True)
    report = fit_maintenance(
        f, id_col="unit", time_col="cycle", feature_cols=["s[1]"], rul_col="RUL", register=False
    )
    sp = report.rul.split
    # every training row's failure lies before the test time: none reveals a test row's outcome
    assert sp.kind == "time" and sp.seen_end < sp.test_start
    t = sp.axis.values(f["cycle"])
    assert report.rul.train_rows == int(((t + f["RUL"].to_numpy()) < sp.test_start).sum())


def test_the_gate_leaves_out_rows_the_champion_trained_on(store):
    f = fleet(30, seed=5)
    kw = dict(**KW, feature_cols=["s[1]"], label_col="fails_soon", name="m")
    fit_maintenance(f, split="group", seed=0, **kw)
    other = fit_maintenance(f, split="group", seed=7, **kw)  # other units held out
    held_before = set(fit_maintenance(f, split="group", seed=0, register=False, **{k: v for k, v in kw.items() if k != "name"}).classifier.split.held_out)  # fmt: skip
    shared = set(other.classifier.split.held_out) & held_before
    assert 0 < len(shared) < len(other.classifier.split.held_out)
    rows = int(other.classifier.holdout["unit"].isin(shared).sum())
    assert f"the {rows} holdout rows the champion did not train on" in other.decision.reason
    # a champion that trained on every unit cannot be judged on any of them
    others = fleet(6, seed=9).assign(unit=lambda d: "x" + d["unit"])
    everything = fit_maintenance(f, test=others, **{**kw, "name": "n"})
    assert everything.decision.promoted
    third = fit_maintenance(f, split="group", **{**kw, "name": "n"})
    assert not third.decision.promoted
    assert "trained on every row of this holdout" in third.decision.reason


def test_the_registered_classifier_is_the_refit_on_every_training_row(store):
    f = fleet(40)
    clf = fit_maintenance(
        f, **KW, feature_cols=["s[1]", "mode"], label_col="fails_soon", split="group",
        register=False,
    ).classifier  # fmt: skip
    train = f[~f["unit"].isin(clf.split.held_out)]
    inputs = encoding.inputs_of(clf.model)
    refit = xgb.XGBClassifier(**clf.params).fit(encoding.encode(train, inputs).to_numpy(), train["fails_soon"])  # fmt: skip
    first = xgb.XGBClassifier(**clf.params).fit(
        encoding.encode(train.head(clf.fit_rows), inputs).to_numpy(),
        train["fails_soon"].head(clf.fit_rows),
    )
    x = encoding.encode(clf.holdout, inputs).to_numpy()
    np.testing.assert_allclose(clf.holdout["score"], refit.predict_proba(x)[:, 1], rtol=1e-6)
    assert not np.allclose(clf.holdout["score"], first.predict_proba(x)[:, 1])


def test_each_model_keeps_or_loses_its_alias_on_its_own_metric(store):
    f = fleet(40)
    kw = dict(**KW, label_col="fails_soon", rul_col="RUL", split="group", name="m")
    first = fit_maintenance(f, feature_cols=["s[1]", "mode"], **kw)
    assert first.decision.promoted and first.rul_decision.promoted
    # the second sees only noise, and its remaining life is shuffled within each unit: its
    # classifier is worse than the champion; the champion's sharp RUL misses the shuffled
    # targets by more than the noise model's near-constant guess does
    rng = np.random.default_rng(0)
    g = f.assign(RUL=f.groupby("unit")["RUL"].transform(lambda r: rng.permutation(r.to_numpy())))
    second = fit_maintenance(g, feature_cols=["s<2"], **kw)
    assert not second.decision.promoted and second.decision.metric == "pr_auc"
    assert second.rul_decision.promoted and second.rul_decision.metric == "rmse"
    assert second.rul_decision.challenger < second.rul_decision.champion


def test_a_large_number_on_the_time_axis_is_shown_whole():
    assert TimeAxis("t", "s", False).show(1_700_000_000.0) == "1700000000 s"
    assert TimeAxis("t", "cycles", False).duration(12.5) == "12.5 cycles"
