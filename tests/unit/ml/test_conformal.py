"""Split-conformal intervals: the quantile rule worked by hand, and the coverage they promise on
a problem whose errors grow with the target (as remaining life's do)."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from ml import conformal


def test_the_width_is_the_ceil_n_plus_1_coverage_th_smallest_residual():
    y = np.arange(1.0, 10.0)  # residuals 1..9 against a prediction of 0
    iv = conformal.calibrate(y, np.zeros(9), coverage=0.8, bands=1)
    assert iv.halfwidths == (8.0,)  # ⌈10 · 0.8⌉ = 8th smallest
    assert conformal.calibrate(y, np.zeros(9), coverage=0.95, bands=1).halfwidths == (np.inf,)
    low, high = iv.bounds(np.array([5.0]), lower=0, upper=10)
    assert (low[0], high[0]) == (0.0, 10.0)  # clipped to what the target can be
    assert conformal.Interval.from_json(iv.to_json()) == iv


@pytest.mark.parametrize("coverage", [0.8, 0.9])
def test_coverage_on_new_rows_is_within_five_points_of_the_target(coverage):
    rng = np.random.default_rng(11)

    def draw(n):
        x = rng.uniform(0, 10, (n, 2))
        y = 3 * x[:, 0] + rng.normal(0, 0.3 + 0.4 * x[:, 0], n)  # noise grows with x
        return x, y

    (xf, yf), (xc, yc), (xt, yt) = draw(3000), draw(2000), draw(20000)
    model = xgb.XGBRegressor(n_estimators=80, max_depth=3).fit(xf, yf)
    iv = conformal.calibrate(yc, model.predict(xc), coverage=coverage)
    assert len(iv.halfwidths) == 4 and iv.halfwidths[0] < iv.halfwidths[-1]  # width follows error
    low, high = iv.bounds(model.predict(xt))
    measured = conformal.measure(yt, low, high)
    assert abs(measured["coverage"] - coverage) <= 0.05
    # and per band of prediction, not only on average (what plain split conformal cannot do)
    band = np.searchsorted(np.asarray(iv.edges), model.predict(xt), side="right")
    for b in range(4):
        inside = (yt[band == b] >= low[band == b]) & (yt[band == b] <= high[band == b])
        assert abs(inside.mean() - coverage) <= 0.05


def test_one_band_gives_the_interval_of_another_librarys_split_conformal_regressor():
    """MAPIE (scikit-learn-contrib) as the reference: the same prefit model and calibration
    rows give the same interval when plantlake uses a single band."""
    from mapie.regression import SplitConformalRegressor

    rng = np.random.default_rng(5)
    x = rng.uniform(0, 10, (1500, 2))
    y = 2 * x[:, 0] + rng.normal(0, 1 + 0.3 * x[:, 1], 1500)
    model = xgb.XGBRegressor(n_estimators=50, max_depth=3).fit(x[:800], y[:800])
    reference = SplitConformalRegressor(model, confidence_level=0.9, prefit=True)
    reference.conformalize(x[800:1300], y[800:1300])
    _, bounds = reference.predict_interval(x[1300:])
    iv = conformal.calibrate(y[800:1300], model.predict(x[800:1300]), coverage=0.9, bands=1)
    low, high = iv.bounds(model.predict(x[1300:]))
    assert np.allclose(low, bounds[:, 0, 0], atol=1e-4)
    assert np.allclose(high, bounds[:, 1, 0], atol=1e-4)
