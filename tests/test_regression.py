"""Chapter 04: the four line fits agree, the formulas hold numerically, the split and the MLP behave, and the
prediction helper refuses bad input."""
import dataclasses
import math
import re
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics

from bigmodel_lessons import data, regression as reg
from bigmodel_lessons.calculus import numerical_gradient, relative_error
from bigmodel_lessons.exercises import check


@pytest.fixture(scope="module")
def houses():
    X, y, _ = data.make_house_prices(n=2000, seed=3)
    return X, y


@pytest.fixture(scope="module")
def fits(houses):
    return reg.fit_line_four_ways(*houses)


# --------------------------------------------------------------------------- Part 1
def test_four_fits_agree_with_the_normal_equation(fits):
    assert [f.method for f in fits] == ["normal equation", "NumPy gradient descent", "tf.GradientTape",
                                        "Keras Dense(1)"]
    assert reg.largest_disagreement(fits) < reg.AGREEMENT_RTOL
    for fit in fits[1:]:
        assert fit.w == pytest.approx(fits[0].w, rel=reg.AGREEMENT_RTOL)
        assert fit.b == pytest.approx(fits[0].b, rel=reg.AGREEMENT_RTOL)


def test_normal_equation_matches_numpy_least_squares(houses):
    X, y = houses
    fit = reg.fit_line_normal_equation(X, y)
    w, b = np.polyfit(X[:, 0], y, 1)
    assert (fit.w, fit.b) == pytest.approx((w, b), rel=1e-10)


def test_iterative_fits_trace_the_same_loss_curve(fits):
    numpy_run, tape_run, keras_run = fits[1:]
    assert len(numpy_run.losses) == len(tape_run.losses) == len(keras_run.losses) == 100
    np.testing.assert_allclose(tape_run.losses, numpy_run.losses, rtol=1e-12)
    np.testing.assert_allclose(keras_run.losses, numpy_run.losses, rtol=1e-5)  # float32
    assert np.all(np.diff(numpy_run.losses) <= 0)


def test_fits_recover_the_generating_line_within_their_standard_errors(houses, fits):
    se_w, se_b = reg.standard_errors(*houses, fits[0])
    assert abs(fits[0].w - data.HOUSE_PRICE_W) < 4 * se_w
    assert abs(fits[0].b - data.HOUSE_PRICE_B) < 4 * se_b


def test_standard_errors_match_the_spread_over_fresh_samples():
    fitted, predicted_se = [], []
    for seed in range(200):
        X, y, _ = data.make_house_prices(n=100, seed=seed)
        fit = reg.fit_line_normal_equation(X, y)
        fitted.append((fit.w, fit.b))
        predicted_se.append(reg.standard_errors(X, y, fit))
    np.testing.assert_allclose(np.std(fitted, axis=0), np.mean(predicted_se, axis=0), rtol=0.15)


def test_mse_gradient_matches_finite_differences(houses):
    X, y = houses
    params = np.array([1.7, -12.0])
    formula = np.array(reg.mse_gradient(X[:, 0], y, *params))
    numeric = numerical_gradient(lambda p: np.mean((p[0] * X[:, 0] + p[1] - y) ** 2), params)
    assert relative_error(formula, numeric) < 1e-8


def test_largest_stable_lr_separates_convergence_from_divergence(houses):
    X, y = houses
    lr_max = reg.largest_stable_lr(X)
    stable = reg.gradient_descent(X, y, 0.98 * lr_max, 3000).losses
    unstable = reg.gradient_descent(X, y, 1.02 * lr_max, 3000).losses
    assert np.all(np.isfinite(stable)) and stable[-1] < stable[0]
    assert unstable[-1] > 1e6 * unstable[0]
    Z, _, _ = reg.standardise(X)
    assert reg.largest_stable_lr(Z) == pytest.approx(1.0, rel=1e-9)


def test_unscaled_gradient_descent_overflows_to_inf_then_nan_quietly(houses):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses = reg.gradient_descent(*houses, lr=0.1, num_epochs=100).losses
    first_inf = np.argmax(np.isinf(losses))
    assert 0 < first_inf < np.argmax(np.isnan(losses)) and np.isnan(losses[-1])


def test_line_fits_reject_bad_shapes(houses):
    X, y = houses
    with pytest.raises(ValueError, match=r"X must have shape \(n, 1\)"):
        reg.fit_line_normal_equation(X[:, 0], y)
    with pytest.raises(ValueError, match=r"y must have shape \(2000,\)"):
        reg.fit_line_numpy(X, y[:-1])
    with pytest.raises(ValueError, match="constant"):
        reg.standardise(np.ones((5, 1)))


# --------------------------------------------------------------------------- Part 2: data helpers
def _frame(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"MedInc": rng.lognormal(1.2, 0.5, n), "AveOccup": rng.lognormal(1.0, 0.8, n),
                      "Latitude": rng.uniform(33, 38, n), "Longitude": rng.uniform(-122, -117, n)})
    return X, pd.Series(0.5 * X["MedInc"] + rng.normal(0, 0.1, n), name="MedHouseVal")


def test_split_is_60_20_20_disjoint_and_fixed_by_the_seed():
    X, y = _frame(1000)
    split = reg.split_train_val_test(X, y, seed=1)
    parts = (split.X_train, split.X_val, split.X_test)
    assert [len(p) for p in parts] == [600, 200, 200]
    assert sorted(np.concatenate([p.index for p in parts])) == list(range(1000))
    assert split.y_train.index.equals(split.X_train.index)
    again, other = reg.split_train_val_test(X, y, seed=1), reg.split_train_val_test(X, y, seed=2)
    assert again.X_test.index.equals(split.X_test.index) and not other.X_test.index.equals(split.X_test.index)
    with pytest.raises(ValueError, match="sum below 1"):
        reg.split_train_val_test(X, y, seed=1, val_share=0.5, test_share=0.5)


def test_skewed_features_picks_long_tails_of_non_negative_columns():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"tail": rng.lognormal(0, 1.5, 2000), "normal": rng.normal(5, 1, 2000),
                      "negative_tail": rng.lognormal(0, 1.5, 2000) - 1})
    assert reg.skewed_features(X) == ["tail"]


def test_regression_table_agrees_with_scikit_learn():
    rng = np.random.default_rng(0)
    y, y_hat = rng.normal(2, 1, 50), rng.normal(2, 1, 50)
    row = reg.regression_table(y, {"model": y_hat}).loc["model"]
    assert row["MAE"] == pytest.approx(sklearn.metrics.mean_absolute_error(y, y_hat), rel=1e-12)
    assert row["RMSE"] == pytest.approx(math.sqrt(sklearn.metrics.mean_squared_error(y, y_hat)), rel=1e-12)
    assert row["R²"] == pytest.approx(sklearn.metrics.r2_score(y, y_hat), rel=1e-12)


def test_baselines_are_the_three_a_practitioner_tries_first():
    assert list(reg.baseline_models(0)) == ["mean", "linear regression", "gradient boosting"]


@pytest.mark.parametrize("n_train, fast, epochs", [(12384, True, 11), (303, True, 250), (303, False, 300)])
def test_training_epochs(n_train, fast, epochs):
    assert reg.training_epochs(n_train, fast) == epochs


# --------------------------------------------------------------------------- Part 2: the MLP
@pytest.fixture(scope="module")
def trained_mlp():
    X, y = _frame()
    split = reg.split_train_val_test(X, y, seed=0)
    keras.utils.set_random_seed(0)
    model = reg.build_mlp(split.X_train, log_features=["AveOccup"], location_cells=4, hidden=(16,))
    reg.fit_mlp(model, split, num_epochs=3)
    return model, split


def test_normalization_is_adapted_on_transformed_training_data_only(trained_mlp):
    model, split = trained_mlp
    norm = next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization))
    expected = split.X_train.assign(AveOccup=np.log1p(split.X_train["AveOccup"])).mean()
    means = dict(zip(split.X_train.columns, np.ravel(norm.mean)))
    assert means == pytest.approx(expected.to_dict(), rel=1e-5)


def test_saved_model_reloads_with_its_features_and_identical_predictions(trained_mlp, tmp_path):
    model, split = trained_mlp
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert sorted(reg.model_features(reloaded)) == sorted(split.X_train.columns)
    np.testing.assert_array_equal(reg.predict(reloaded, split.X_test), reg.predict(model, split.X_test))
    house = split.X_test.iloc[0].to_dict()
    assert reg.predict_house_price(reloaded, house) == pytest.approx(reg.predict(model, split.X_test)[0], rel=1e-6)


def test_location_cells_learn_a_price_per_neighbourhood():
    """Price is a checkerboard over the 4 x 4 grid of training quantiles: only the cells can explain it."""
    rng = np.random.default_rng(1)
    n = 3000
    X = pd.DataFrame({"MedInc": rng.uniform(1, 5, n), "Latitude": rng.uniform(33, 37, n),
                      "Longitude": rng.uniform(-122, -118, n)})
    split = reg.split_train_val_test(X, pd.Series(np.zeros(n)), seed=0)
    row, col = (np.digitize(X[name], np.quantile(split.X_train[name], [0.25, 0.5, 0.75]))
                for name in ("Latitude", "Longitude"))
    y = pd.Series(np.where((row + col) % 2 == 0, 1.0, 3.0) + rng.normal(0, 0.05, n))
    split = dataclasses.replace(split, y_train=y[split.X_train.index], y_val=y[split.X_val.index],
                                y_test=y[split.X_test.index])
    rmse = {}
    for cells in (0, 4):
        keras.utils.set_random_seed(0)
        model = reg.build_mlp(split.X_train, location_cells=cells, hidden=(32,), lr=1e-2)
        reg.fit_mlp(model, split, num_epochs=30)
        rmse[cells] = reg.metrics.root_mean_squared_error(split.y_val, reg.predict(model, split.X_val))
    assert rmse[4] < 0.2 < 0.6 < rmse[0]


def test_build_mlp_rejects_impossible_options():
    X, _ = _frame(50)
    with pytest.raises(ValueError, match=r"log_features \['Rooms'\] are not columns"):
        reg.build_mlp(X, log_features=["Rooms"])
    with pytest.raises(ValueError, match="location_cells needs Latitude and Longitude"):
        reg.build_mlp(X.drop(columns="Latitude"), location_cells=5)


@pytest.mark.parametrize("change, message", [
    (lambda h: {k: v for k, v in h.items() if k != "MedInc"}, "missing feature(s) MedInc"),
    (lambda h: {**h, "Rooms": 5.0}, "unknown feature(s) Rooms"),
    (lambda h: {**h, "MedInc": "8.3"}, "feature 'MedInc' must be a number, got str '8.3'"),
    (lambda h: {**h, "MedInc": None}, "feature 'MedInc' must be a number, got NoneType"),
    (lambda h: {**h, "MedInc": True}, "feature 'MedInc' must be a number, got bool"),
    (lambda h: {**h, "MedInc": float("nan")}, "feature 'MedInc' is nan"),
    (lambda h: {**h, "AveOccup": float("inf")}, "feature 'AveOccup' is inf"),
    (lambda h: {**h, "AveOccup": -5.0}, "the model returned nan"),
    (lambda h: list(h.values()), "house must be a dict"),
])
def test_predict_house_price_names_the_problem(trained_mlp, change, message):
    model, split = trained_mlp
    house = split.X_test.iloc[0].to_dict()
    with pytest.raises(ValueError, match=re.escape(message)):
        reg.predict_house_price(model, change(house))


def test_predict_house_price_accepts_numpy_numbers(trained_mlp):
    model, split = trained_mlp
    house = {k: np.float64(v) for k, v in split.X_test.iloc[0].items()}
    assert math.isfinite(reg.predict_house_price(model, house))


# --------------------------------------------------------------------------- exercises
def test_exercise_answers_computed_independently_are_accepted(capsys):
    truth, prediction = np.array(reg.RMSE_EXERCISE_TRUE), np.array(reg.RMSE_EXERCISE_PRED)
    check(f"{reg.STEM}.rmse_by_hand", sklearn.metrics.root_mean_squared_error(truth, prediction))
    check(f"{reg.STEM}.rmse_by_hand", sklearn.metrics.mean_absolute_error(truth, prediction))
    check(f"{reg.STEM}.diverges", lambda x, lr: lr > reg.largest_stable_lr(np.reshape(x, (-1, 1))))
    check(f"{reg.STEM}.diverges", lambda x, lr: lr > 1.0)  # right on standardised inputs only
    check(f"{reg.STEM}.medinc_coefficient", 0.46 * 2 * 100_000)
    check(f"{reg.STEM}.medinc_coefficient", 0.46 * 20_000 * 100_000)  # income in dollars: wrong units
    marks = [line[0] for line in capsys.readouterr().out.splitlines() if line[0] in "✓✗"]
    assert marks == ["✓", "✗", "✓", "✗", "✓", "✗"]
