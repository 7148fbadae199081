"""A table's columns as the learner takes them, and back.

Numeric columns go in as they are; each categorical column becomes one 0/1 input per value
seen in training (an unseen value is 0 in all of them). The learner sees positions only, so
any column name works (XGBoost refuses `[`, `]` and `<` in its own feature names); the names
live in the saved model file as the attribute `plantlake_inputs` (XGBoost's UBJSON, no pickle),
so the file alone is enough to score, and importances and signatures speak the table's names:
`column` or `column=value`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

ATTR = "plantlake_inputs"


@dataclass(frozen=True)
class Input:
    """One input of the model: a numeric column, or one value of a categorical column."""

    column: str
    value: str | None = None

    @property
    def name(self) -> str:
        return self.column if self.value is None else f"{self.column}={self.value}"


def is_text(series: pd.Series) -> bool:
    """A column that can only go in as categories (strings, objects, pandas categoricals)."""
    return not (
        pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
    )


def vocabulary(
    frame: pd.DataFrame, features: Sequence[str], categorical: Sequence[str]
) -> list[Input]:
    """The model's inputs, in order: numeric features as they are, one per categorical value."""
    inputs = []
    for c in features:
        if c in categorical:
            values = sorted(frame[c].astype("string").fillna("").unique())
            inputs += [Input(c, v) for v in values]
        else:
            inputs.append(Input(c))
    return inputs


def encode(frame: pd.DataFrame, inputs: Sequence[Input]) -> pd.DataFrame:
    """`frame` as a model with `inputs` takes it: all float, columns named `Input.name`."""
    cols = {}
    for i in inputs:
        if i.column not in frame.columns:
            raise KeyError(f"the model needs column {i.column!r}, not in the table")
        x = frame[i.column]
        if i.value is not None:
            cols[i.name] = (x.astype("string").fillna("") == i.value).astype(float).to_numpy()
            continue
        try:
            cols[i.name] = pd.to_numeric(x).astype(float).to_numpy()
        except (ValueError, TypeError) as e:
            bad = x[pd.to_numeric(x, errors="coerce").isna() & x.notna()].iloc[:3].tolist()
            raise ValueError(
                f"column {i.column!r} is numeric for the model but holds {bad!r}: declare it "
                "in categorical_cols (or clean it)"
            ) from e
    return pd.DataFrame(cols, index=frame.index)


def attach(model: xgb.XGBModel, inputs: Sequence[Input]) -> None:
    """Keep the input names in the model file; the learner itself stays positional."""
    booster = model.get_booster()
    booster.feature_names = None
    booster.set_attr(**{ATTR: json.dumps([[i.column, i.value] for i in inputs])})


def inputs_of(model: xgb.XGBModel) -> list[Input]:
    """The inputs a saved model takes (models saved before the attribute: their feature names,
    `column=value` for a categorical)."""
    booster = model.get_booster()
    stored = booster.attr(ATTR)
    if stored:
        return [Input(c, v) for c, v in json.loads(stored)]
    return [Input(*n.split("=", 1)) if "=" in n else Input(n) for n in booster.feature_names or []]


def inputs_for(model: xgb.XGBModel, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` encoded for a saved model, from the model's own inputs."""
    return encode(frame, inputs_of(model))


def _matrix(model: xgb.XGBModel, x: pd.DataFrame):
    return x if model.get_booster().feature_names else x.to_numpy()


def probability(model: xgb.XGBClassifier, frame: pd.DataFrame) -> np.ndarray:
    """P(label 1) for each row of `frame`."""
    if not len(frame):
        return np.zeros(0)
    return model.predict_proba(_matrix(model, inputs_for(model, frame)))[:, 1]


def prediction(model: xgb.XGBRegressor, frame: pd.DataFrame) -> np.ndarray:
    if not len(frame):
        return np.zeros(0)
    return model.predict(_matrix(model, inputs_for(model, frame)))


def importance(model: xgb.XGBModel, columns: Sequence[str]) -> pd.Series:
    """Total gain per column of the table (a categorical sums its values' inputs)."""
    inputs = inputs_of(model)
    total = pd.Series(0.0, index=list(columns))
    for key, gain in model.get_booster().get_score(importance_type="gain").items():
        i = inputs[int(key[1:])] if key.startswith("f") and key[1:].isdigit() else None
        column = i.column if i else key.split("=", 1)[0]
        total[column] = total.get(column, 0.0) + gain
    return total
