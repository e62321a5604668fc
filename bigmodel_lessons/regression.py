"""Chapter 04 helpers: a line fitted four ways, then an honest model of California house prices.

Part 1 fits ``price = w · area + b`` by NumPy gradient descent, the normal equation, ``tf.GradientTape`` and a
Keras ``Dense(1)``; :func:`fit_line_four_ways` returns all four. Part 2 splits the data once
(:func:`split_train_val_test`), fits the baselines, builds a Keras MLP whose file carries its own feature names
and preprocessing (:func:`build_mlp`), and serves it through :func:`predict_house_price`, which refuses bad
input with a ``ValueError`` naming the problem.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real

import numpy as np

from . import metrics
from .env import build_optimizer, quiet_tensorflow
from .exercises import exercise

keras = quiet_tensorflow()

STEM = "04_house_price_regression"
AGREEMENT_RTOL = 1e-4  # the four Part-1 fits agree on w and b to this relative tolerance
BATCH_SIZE = 256
MAX_EPOCHS = 300
FAST_STEPS = 500  # gradient steps per MLP in fast mode


# --------------------------------------------------------------------------- Part 1: one feature, four ways
@dataclass(frozen=True)
class LineFit:
    """A fitted line ``y_hat = w · x + b`` in the data's own units, and the MSE before each step."""

    method: str
    w: float
    b: float
    losses: np.ndarray  # empty for the closed form


def _one_feature(X, y) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    if X.ndim != 2 or X.shape[1] != 1:
        raise ValueError(f"X must have shape (n, 1), one feature per row, got {X.shape}; use X.reshape(-1, 1).")
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), one target per row of X, got {y.shape}.")
    return X[:, 0], y


def mse_gradient(x: np.ndarray, y: np.ndarray, w: float, b: float) -> tuple[float, float]:
    """Gradient of L = mean((w·x + b − y)²): ∂L/∂w = 2·mean((ŷ − y)·x), ∂L/∂b = 2·mean(ŷ − y)."""
    error = w * x + b - y
    return 2 * np.mean(error * x), 2 * np.mean(error)


def _design_matrix(x: np.ndarray) -> np.ndarray:
    """A = [x, 1]: the line's inputs, so that A·[w, b] = w·x + b."""
    return np.column_stack([x, np.ones_like(x)])


def gradient_descent(X, y, lr: float, num_epochs: int) -> LineFit:
    """Full-batch gradient descent on the MSE from w = b = 0, on ``X`` exactly as given (no scaling).

    Too large a learning rate makes the loss grow without bound; it is returned as it is (inf, then nan).
    """
    x, y = _one_feature(X, y)
    w = b = 0.0
    losses = []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(num_epochs):
            losses.append(np.mean((w * x + b - y) ** 2))
            dw, db = mse_gradient(x, y, w, b)
            w, b = w - lr * dw, b - lr * db
    return LineFit("NumPy gradient descent", float(w), float(b), np.array(losses))


def largest_stable_lr(X) -> float:
    """The learning rate above which full-batch gradient descent on the MSE diverges: 1 / λ_max(AᵀA / n).

    With A = [x, 1] the loss is quadratic with Hessian H = 2·AᵀA/n, and each step multiplies the error along
    an eigenvector of H by (1 − lr·λ); that stays below 1 in size only while lr < 2/λ_max(H).
    """
    x = np.asarray(X, dtype=float).reshape(len(X), -1)[:, 0]
    A = _design_matrix(x)
    return float(1 / np.linalg.eigvalsh(A.T @ A / len(x)).max())


def standardise(X) -> tuple[np.ndarray, float, float]:
    """``(X − mean) / std`` with the mean and standard deviation used, to map the fit back afterwards."""
    X = np.asarray(X, dtype=float)
    mean, std = float(X.mean()), float(X.std())
    if std == 0:
        raise ValueError("X is constant (standard deviation 0): a line cannot be fitted to one x value.")
    return (X - mean) / std, mean, std


def _in_original_units(fit: LineFit, method: str, mean: float, std: float) -> LineFit:
    """w_z · (x − mean)/std + b_z = (w_z/std) · x + (b_z − w_z·mean/std)."""
    return LineFit(method, fit.w / std, fit.b - fit.w * mean / std, fit.losses)


def fit_line_numpy(X, y, lr: float = 0.1, num_epochs: int = 100) -> LineFit:
    """Gradient descent written out in NumPy, on standardised x; w and b returned in the original units."""
    Z, mean, std = standardise(X)
    return _in_original_units(gradient_descent(Z, y, lr, num_epochs), "NumPy gradient descent", mean, std)


def fit_line_normal_equation(X, y) -> LineFit:
    """The closed form: solve (AᵀA)·[w, b] = Aᵀy with A = [x, 1]."""
    x, y = _one_feature(X, y)
    A = _design_matrix(x)
    w, b = np.linalg.solve(A.T @ A, A.T @ y)
    return LineFit("normal equation", float(w), float(b), np.array([]))


def standard_errors(X, y, fit: LineFit) -> tuple[float, float]:
    """How far noise alone moves a least-squares w and b: the square roots of the diagonal of σ̂²·(AᵀA)⁻¹,
    with σ̂² = sum of squared residuals / (n − 2)."""
    x, y = _one_feature(X, y)
    A = _design_matrix(x)
    noise_variance = np.sum((y - fit.w * x - fit.b) ** 2) / (len(x) - 2)
    se_w, se_b = np.sqrt(np.diag(noise_variance * np.linalg.inv(A.T @ A)))
    return float(se_w), float(se_b)


def fit_line_gradient_tape(X, y, lr: float = 0.1, num_epochs: int = 100) -> LineFit:
    """TensorFlow 2: the same gradient descent, with the gradient taken by ``tf.GradientTape`` (float64)."""
    import tensorflow as tf

    Z, mean, std = standardise(X)
    z, target = (tf.constant(a) for a in _one_feature(Z, y))
    w, b = tf.Variable(0.0, dtype=tf.float64), tf.Variable(0.0, dtype=tf.float64)
    losses = []
    for _ in range(num_epochs):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((w * z + b - target) ** 2)
        dw, db = tape.gradient(loss, [w, b])
        w.assign_sub(lr * dw)
        b.assign_sub(lr * db)
        losses.append(float(loss))
    fit = LineFit("tf.GradientTape", float(w.numpy()), float(b.numpy()), np.array(losses))
    return _in_original_units(fit, fit.method, mean, std)


def fit_line_keras(X, y, lr: float = 0.1, num_epochs: int = 100) -> LineFit:
    """Keras: one ``Dense(1)`` unit, plain SGD, MSE, the whole data set as one batch (float32).

    The batch is a ``tf.data`` dataset: with NumPy arrays, ``fit`` re-slices them every epoch (~70 ms here).
    """
    import tensorflow as tf

    Z, mean, std = standardise(X)
    z, target = _one_feature(Z, y)
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    batch = tf.data.Dataset.from_tensors((z[:, None].astype(np.float32), target.astype(np.float32)))
    history = model.fit(batch, epochs=num_epochs, shuffle=False, verbose=0)
    kernel, bias = model.layers[0].get_weights()
    fit = LineFit("Keras Dense(1)", float(kernel[0, 0]), float(bias[0]), np.array(history.history["loss"]))
    return _in_original_units(fit, fit.method, mean, std)


def fit_line_four_ways(X, y, lr: float = 0.1, num_epochs: int = 100) -> list[LineFit]:
    """The four Part-1 fits, closed form first."""
    return [fit_line_normal_equation(X, y), fit_line_numpy(X, y, lr, num_epochs),
            fit_line_gradient_tape(X, y, lr, num_epochs), fit_line_keras(X, y, lr, num_epochs)]


def largest_disagreement(fits: list[LineFit]) -> float:
    """The largest relative difference of any fit's w or b from the first fit's."""
    reference = fits[0]
    return max(abs(value - ref) / abs(ref) for fit in fits
               for value, ref in ((fit.w, reference.w), (fit.b, reference.b)))


# --------------------------------------------------------------------------- Part 2: data and baselines
@dataclass(frozen=True)
class Split:
    """Train / validation / test parts of ``X`` (DataFrame) and ``y`` (Series)."""

    X_train: object
    X_val: object
    X_test: object
    y_train: object
    y_val: object
    y_test: object


def split_train_val_test(X, y, seed: int, val_share: float = 0.2, test_share: float = 0.2) -> Split:
    """Shuffle once with ``seed`` and cut into train / validation / test (default 60 / 20 / 20 %)."""
    from sklearn.model_selection import train_test_split

    if not (0 < val_share < 1 and 0 < test_share < 1 and val_share + test_share < 1):
        raise ValueError(f"val_share and test_share must be in (0, 1) with a sum below 1, got {val_share} and "
                         f"{test_share}.")
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_share, random_state=seed)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=val_share / (1 - test_share),
                                                      random_state=seed)
    return Split(X_train, X_val, X_test, y_train, y_val, y_test)


def has_coordinates(X) -> bool:
    """True when the frame has Latitude and Longitude columns (California; not the Boston fallback)."""
    return {"Latitude", "Longitude"} <= set(X.columns)


def baseline_models(seed: int) -> dict:
    """What a practitioner tries first on a table: predict the mean, a linear model, gradient-boosted trees."""
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression

    return {"mean": DummyRegressor(strategy="mean"), "linear regression": LinearRegression(),
            "gradient boosting": HistGradientBoostingRegressor(random_state=seed)}


def skewed_features(X, threshold: float = 2.0) -> list[str]:
    """Non-negative columns whose skewness exceeds ``threshold``: candidates for a log(1 + x) transform."""
    skew = X.skew()
    return [name for name in X.columns if skew[name] > threshold and X[name].min() >= 0]


def regression_table(y_true, predictions: dict) -> "pd.DataFrame":
    """MAE, RMSE and R² of each model's predictions (``{name: y_hat}``), in the target's units."""
    import pandas as pd

    rows = {name: {"MAE": metrics.mean_absolute_error(y_true, y_hat),
                   "RMSE": metrics.root_mean_squared_error(y_true, y_hat),
                   "R²": metrics.r2_score(y_true, y_hat)} for name, y_hat in predictions.items()}
    return pd.DataFrame(rows).T


# --------------------------------------------------------------------------- Part 2: the Keras MLP
def model_inputs(X) -> dict[str, np.ndarray]:
    """A DataFrame as the MLP's inputs: one float32 column (n, 1) per feature, keyed by feature name."""
    return {name: X[name].to_numpy(np.float32)[:, None] for name in X.columns}


def build_mlp(X_train, log_features=(), location_cells: int = 0, hidden=(128, 128, 64),
              lr: float = 3e-3) -> "keras.Model":
    """A compiled MLP for house prices whose saved file holds all its preprocessing.

    One named input per column of ``X_train``; ``log_features`` go through log(1 + x); everything is
    standardised by a ``Normalization`` layer adapted on ``X_train`` only. With ``location_cells = k`` (and
    Latitude/Longitude present) the map is also cut into a k × k grid at the training data's quantiles and
    each cell gets a learned 8-number embedding, so the model can learn a price level per neighbourhood.
    """
    from keras import layers, ops

    unknown = sorted(set(log_features) - set(X_train.columns))
    if unknown:
        raise ValueError(f"log_features {unknown} are not columns of X_train ({', '.join(X_train.columns)}).")
    if location_cells and not has_coordinates(X_train):
        raise ValueError("location_cells needs Latitude and Longitude columns; this data has none (use 0).")
    inputs = {name: keras.Input((1,), name=name) for name in X_train.columns}
    columns = [ops.log1p(inputs[n]) if n in log_features else inputs[n] for n in X_train.columns]
    features = layers.Concatenate()(columns)
    normalise = layers.Normalization()
    normalise.adapt(keras.Model(inputs, features).predict(model_inputs(X_train), verbose=0, batch_size=4096))
    x = normalise(features)
    if location_cells:
        quantiles = np.linspace(0, 1, location_cells + 1)[1:-1]
        lat, lon = (layers.Discretization(bin_boundaries=list(np.quantile(X_train[name], quantiles)))(inputs[name])
                    for name in ("Latitude", "Longitude"))
        cell = ops.add(ops.multiply(lat, location_cells), lon)
        embedding = layers.Embedding(location_cells**2, 8)(cell)
        x = layers.Concatenate()([x, layers.Flatten()(embedding)])
    for units in hidden:
        x = layers.Dense(units, activation="relu")(x)
    model = keras.Model(inputs, layers.Dense(1)(x))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse")
    return build_optimizer(model)  # Adam's state now, so TensorFlow traces the first step once


def training_epochs(n_train: int, fast: bool) -> int:
    """Full mode: up to ``MAX_EPOCHS`` (early stopping ends sooner). Fast mode: about ``FAST_STEPS`` gradient
    steps, which is ~10 epochs of California but ~250 of the 300-row Boston fallback."""
    return math.ceil(FAST_STEPS / math.ceil(n_train / BATCH_SIZE)) if fast else MAX_EPOCHS


def _batches(X, y, shuffle: bool):
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((model_inputs(X), y.to_numpy(np.float32))).cache()
    return (data.shuffle(len(X)) if shuffle else data).batch(BATCH_SIZE)


def fit_mlp(model, split: Split, num_epochs: int, patience: int = 20) -> tuple["keras.callbacks.History", float]:
    """Train on the training part, watch the validation part: halve the learning rate when it stalls, stop
    after ``patience`` epochs without improvement and keep the best weights. Returns (history, seconds).

    The data goes in as ``tf.data`` batches: with NumPy arrays ``fit`` re-slices them every epoch, which costs
    more than a whole epoch of the small Boston data.
    """
    callbacks = [keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True),
                 keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=5)]
    train, val = _batches(split.X_train, split.y_train, True), _batches(split.X_val, split.y_val, False)
    start = time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=num_epochs, shuffle=False, callbacks=callbacks, verbose=0)
    return history, time.perf_counter() - start


def predict(model, X) -> np.ndarray:
    """The MLP's predictions for a DataFrame, as a 1-D array."""
    return model.predict(model_inputs(X), batch_size=4096, verbose=0)[:, 0]


def model_features(model) -> list[str]:
    """The feature names a model built by :func:`build_mlp` expects (saved inside its .keras file)."""
    return [tensor.name for tensor in model.inputs]


def predict_house_price(model, house: Mapping) -> float:
    """One house's predicted price (in the model's target units) from ``{feature name: number}``.

    Raises ``ValueError`` naming the problem: not a mapping, missing or unknown features, a value that is not
    a real number, NaN/infinity, or a value the model's preprocessing cannot take (its output is not finite).
    """
    expected = model_features(model)
    if not isinstance(house, Mapping):
        raise ValueError(f"house must be a dict of feature name -> number, got {type(house).__name__}.")
    missing = [name for name in expected if name not in house]
    extra = sorted(str(name) for name in house if name not in expected)
    if missing:
        raise ValueError(f"house is missing feature(s) {', '.join(missing)}; the model needs all of "
                         f"{', '.join(expected)}.")
    if extra:
        raise ValueError(f"house has unknown feature(s) {', '.join(extra)}; the model knows only "
                         f"{', '.join(expected)} (check the spelling).")
    for name in expected:
        value = house[name]
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ValueError(f"feature {name!r} must be a number, got {type(value).__name__} {value!r}.")
        if not math.isfinite(value):
            raise ValueError(f"feature {name!r} is {value}; give a finite number.")
    inputs = {name: np.array([[house[name]]], dtype=np.float32) for name in expected}
    price = float(model(inputs, training=False)[0, 0])  # not predict(): its XLA-compiled ReLU turns NaN into 0
    if not math.isfinite(price):
        raise ValueError(f"the model returned {price} for {dict(house)}: a value is outside what it can handle "
                         "(e.g. a negative count or average); check the input against the training data's ranges.")
    return price


# A hand-specified California block group: San Francisco, median income $83,000, 30-year-old houses.
EXAMPLE_HOUSE = {"MedInc": 8.3, "HouseAge": 30.0, "AveRooms": 5.5, "AveBedrms": 1.05, "Population": 1100.0,
                 "AveOccup": 2.4, "Latitude": 37.76, "Longitude": -122.44}


# --------------------------------------------------------------------------- exercises
RMSE_EXERCISE_TRUE = (2.1, 3.4, 5.0)  # three block groups, $100,000
RMSE_EXERCISE_PRED = (2.4, 3.0, 3.8)
MEDINC_COEFFICIENT = 0.46  # $100,000 per $10,000 of median income, rounded from the linear baseline

exercise(f"{STEM}.rmse_by_hand",
         math.sqrt(np.mean((np.subtract(RMSE_EXERCISE_PRED, RMSE_EXERCISE_TRUE)) ** 2)),
         hint="Errors first (prediction − truth), then square, average over the 3 houses, and take the square "
              "root last.")


def _predicts_divergence(diverges) -> bool:
    """Right on every case: datasets of very different scales, gradient descent run at 0.8x and 1.25x the limit."""
    rng = np.random.default_rng(3)
    for scale, offset in ((1.0, 0.0), (0.01, 0.0), (30.0, 100.0), (500.0, 2000.0)):
        x = offset + scale * rng.normal(size=200)
        y = 3.0 * x + rng.normal(size=200)
        for factor in (0.8, 1.25):
            lr = factor * largest_stable_lr(x.reshape(-1, 1))
            losses = gradient_descent(x.reshape(-1, 1), y, lr, num_epochs=400).losses
            actually = not losses[-1] < losses[0]  # grew (or overflowed to inf/nan)
            if bool(diverges(x, lr)) != actually:
                return False
    return True


exercise(f"{STEM}.diverges", compare=_predicts_divergence,
         hint="Build A = np.column_stack([x, np.ones_like(x)]); gradient descent diverges when lr > 1 / the largest "
              "eigenvalue of A.T @ A / len(x) (np.linalg.eigvalsh).")
exercise(f"{STEM}.medinc_coefficient", MEDINC_COEFFICIENT * 2 * 100_000, rtol=1e-3,
         hint="MedInc is in units of $10,000 and the price in $100,000: $30,000 → $50,000 is +2 units of MedInc, "
              "and the coefficient times 2 is in $100,000.")
