"""The NumPy engine: every layer, activation and loss gradient-checked; optimizers and a training step against
Keras to 1e-6; the articles' worked examples corrected; bad input rejected with the shapes involved."""
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bigmodel_lessons import check, scratch
from bigmodel_lessons.calculus import numerical_derivative, numerical_gradient, relative_error, tape_gradient

TF_ACTIVATIONS = {"sigmoid": tf.math.sigmoid, "tanh": tf.math.tanh, "relu": tf.nn.relu,
                  "gelu": lambda x: tf.nn.gelu(x, approximate=True)}
Z = np.linspace(-4, 4, 81) + 0.05  # off z = 0, where ReLU has no derivative


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# --------------------------------------------------------------------------- the corrected worked examples
def test_worked_examples():
    assert round(float(scratch.sigmoid(3.0)), 4) == 0.9526  # not 0.9502
    y, y_hat = np.array([3.0, 2.0, 5.0]), np.array([2.8, 2.5, 4.2])
    assert scratch.MeanSquaredError().forward(y_hat, y) == pytest.approx(0.31)  # not 0.1667
    bce = scratch.BinaryCrossEntropy().forward(np.array([0.9, 0.2, 0.0, 1.0]), np.array([1.0, 0.0, 1.0, 0.0]))
    assert bce == pytest.approx((-np.log(0.9) - np.log(0.8) - 2 * np.log(1e-7)) / 4)  # clipped, not log(0)
    cce = scratch.CategoricalCrossEntropy().forward(np.array([[0.1, 0.7, 0.2]]), np.array([1]))
    assert cce == pytest.approx(-np.log(0.7))


def test_sigmoid_bce_gradient_is_prediction_minus_label():
    z, y = np.array([-3.0, -0.5, 0.0, 0.5, 3.0]), np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    grad = scratch.BinaryCrossEntropy(from_logits=True).backward(z, y) * len(z)
    assert np.allclose(grad, scratch.sigmoid(z) - y)
    assert not np.allclose(grad, 1 - 2 * scratch.sigmoid(z) - y)  # the articles' formula


def test_adam_bias_correction_starts_at_t_1():
    w, adam = np.array([1.0, -2.0]), scratch.Adam(lr=0.1)
    adam.step([w], [np.array([0.5, -0.01])])
    assert adam.iterations == 1
    assert np.allclose(w, [0.9, -1.9], atol=1e-3)  # the first step is ≈ lr against the gradient's sign


def _textbook_adam_steps(g, lr, beta_1, beta_2, eps_hat, steps):
    """The textbook update with bias-corrected moments, w ← w − α m̂/(√v̂ + ε̂(t)), for a constant gradient g."""
    m = v = 0.0
    for t in range(1, steps + 1):
        m, v = beta_1 * m + (1 - beta_1) * g, beta_2 * v + (1 - beta_2) * g**2
        yield -lr * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + eps_hat(t))


@pytest.mark.parametrize("g", [1e-5, -3e-6, 1e-4])
def test_adam_is_the_textbook_update_with_epsilon_hat(g):
    """Adam's docstring: the efficient version is the textbook update with ε̂ = ε/√(1 − β₂ᵗ) (not ε√(1 − β₂ᵗ),
    not ε), which for tiny gradients makes a visible difference."""
    lr, beta_1, beta_2, eps = 0.1, 0.9, 0.999, 1e-7
    adam, w, steps = scratch.Adam(lr, beta_1, beta_2, eps), np.array([0.0]), []
    for _ in range(5):
        before = w.copy()
        adam.step([w], [np.array([g])])
        steps.append((w - before)[0])

    def textbook(eps_hat):
        return list(_textbook_adam_steps(g, lr, beta_1, beta_2, eps_hat, 5))
    assert steps == pytest.approx(textbook(lambda t: eps / np.sqrt(1 - beta_2**t)), rel=1e-9)
    for wrong in (lambda t: eps * np.sqrt(1 - beta_2**t), lambda t: eps):  # the docstring's old ε̂, plain ε
        assert abs(steps[0] / textbook(wrong)[0] - 1) > 0.01
    assert "ε̂ = ε/√(1 − β₂ᵗ)" in scratch.Adam.__doc__ and "ε√(1 − β₂ᵗ)" not in scratch.Adam.__doc__
    assert round(1 / np.sqrt(1 - beta_2), 1) == 31.6 and round(1 / np.sqrt(1 - beta_2**100), 2) == 3.24  # ε̂/ε


def test_adam_first_step_for_a_gradient_of_1e_5():
    """With ε = 1e-7 a gradient of 1e-5 moves its weight 0.76α on the first step (the textbook ε gives 0.99α);
    above about 3e-4 the two differ by less than 1%."""
    lr, eps = 0.1, 1e-7

    def first_step(g):
        w = np.array([0.0])
        scratch.Adam(lr, epsilon=eps).step([w], [np.array([g])])
        return -w[0] / lr

    def textbook(g):
        return next(_textbook_adam_steps(g, 1.0, 0.9, 0.999, lambda t: eps, 1))
    assert round(first_step(1e-5), 2) == 0.76 and round(-textbook(1e-5), 2) == 0.99
    assert abs(first_step(3.1e-4) / -textbook(3.1e-4) - 1) < 0.01 < abs(first_step(2.9e-4) / -textbook(2.9e-4) - 1)


# --------------------------------------------------------------------------- activations
@pytest.mark.parametrize("name", scratch.ACTIVATIONS)
def test_activation_derivatives_against_finite_differences_and_tape(name):
    f, df = scratch.ACTIVATIONS[name]
    assert relative_error(df(Z), numerical_derivative(f, Z)) < 1e-8
    assert relative_error(df(Z), tape_gradient(lambda x: tf.reduce_sum(TF_ACTIVATIONS[name](x)), Z)) < 1e-8
    assert relative_error(f(Z), TF_ACTIVATIONS[name](Z).numpy()) < 1e-8


def test_sigmoid_and_softmax_do_not_overflow():
    with np.errstate(over="raise"):
        assert scratch.sigmoid(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]
        assert np.allclose(scratch.softmax(np.array([1000.0, 1001.0, 1002.0])), [0.09003, 0.24473, 0.66524],
                           atol=1e-5)


@given(arrays(np.float64, (3, 4), elements=st.floats(-50, 50)), st.floats(-500, 500))
def test_softmax_rows_sum_to_one_and_ignore_a_shift(z, shift):
    s = scratch.softmax(z)
    assert np.allclose(s.sum(axis=1), 1) and np.all(s >= 0)
    assert np.allclose(scratch.softmax(z + shift), s)


def test_softmax_matches_keras(rng):
    z = rng.normal(size=(5, 7)) * 4
    assert relative_error(scratch.softmax(z), keras.activations.softmax(z).numpy()) < 1e-12


# --------------------------------------------------------------------------- losses
def _binary_targets(rng, shape):
    return (rng.random(shape) > 0.5).astype(float)


LOSS_CASES = {  # name -> (loss, y_hat maker, y maker)
    "mse": (scratch.MeanSquaredError(), lambda r: r.normal(size=(6, 3)), lambda r: r.normal(size=(6, 3))),
    "bce": (scratch.BinaryCrossEntropy(), lambda r: r.uniform(0.05, 0.95, (6, 1)), lambda r: _binary_targets(r, (6, 1))),
    "bce_logits": (scratch.BinaryCrossEntropy(from_logits=True), lambda r: r.normal(size=(6, 1)) * 3,
                   lambda r: _binary_targets(r, (6, 1))),
    "cce": (scratch.CategoricalCrossEntropy(), lambda r: scratch.softmax(r.normal(size=(6, 4))),
            lambda r: r.integers(0, 4, 6)),
    "cce_logits": (scratch.CategoricalCrossEntropy(from_logits=True), lambda r: r.normal(size=(6, 4)) * 3,
                   lambda r: r.integers(0, 4, 6)),
}


@pytest.mark.parametrize("case", LOSS_CASES)
def test_loss_gradients_against_finite_differences(rng, case):
    loss, make_y_hat, make_y = LOSS_CASES[case]
    y_hat, y = make_y_hat(rng), make_y(rng)
    numeric = numerical_gradient(lambda v: loss.forward(v, y), y_hat.copy())
    assert relative_error(loss.backward(y_hat, y), numeric) < 1e-8


@pytest.mark.parametrize("case, keras_loss", [
    ("mse", keras.losses.MeanSquaredError(dtype="float64")),
    ("bce", keras.losses.BinaryCrossentropy(dtype="float64")),
    ("bce_logits", keras.losses.BinaryCrossentropy(from_logits=True, dtype="float64")),
    ("cce", keras.losses.SparseCategoricalCrossentropy(dtype="float64")),
    ("cce_logits", keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")),
])
def test_loss_values_match_keras(rng, case, keras_loss):
    loss, make_y_hat, make_y = LOSS_CASES[case]
    y_hat, y = make_y_hat(rng), make_y(rng)
    assert loss.forward(y_hat, y) == pytest.approx(float(keras_loss(y, y_hat)), rel=1e-9)


def test_fused_softmax_cross_entropy_gradient_is_p_minus_y(rng):
    z, y = rng.normal(size=(5, 3)), np.array([0, 2, 1, 1, 0])
    expected = (scratch.softmax(z) - np.eye(3)[y]) / 5
    assert np.allclose(scratch.CategoricalCrossEntropy(from_logits=True).backward(z, y), expected)
    assert np.allclose(scratch.CategoricalCrossEntropy(from_logits=True).backward(z, np.eye(3)[y]), expected)


# --------------------------------------------------------------------------- layers and models, gradient-checked
def test_dense_gradient_check(rng):
    model = scratch.Sequential([scratch.Dense(5, 3, seed=1)], scratch.MeanSquaredError())
    assert scratch.gradient_check(model, rng.normal(size=(8, 5)), rng.normal(size=(8, 3))) < 1e-6


@pytest.mark.parametrize("name", scratch.ACTIVATIONS)
def test_activation_layer_gradient_check(rng, name):
    model = scratch.mlp([6, 5, 4, 3], activation=name, init="xavier", seed=1)
    for layer in model.layers[::2]:
        layer.params["b"][:] = rng.normal(size=layer.params["b"].shape)  # keep ReLU inputs off their kink at 0
    assert scratch.gradient_check(model, rng.normal(size=(7, 6)), rng.integers(0, 3, 7)) < 1e-6


def test_softmax_layer_with_probability_cross_entropy_gradient_check(rng):
    model = scratch.Sequential([scratch.Dense(4, 3, seed=2), scratch.Softmax()], scratch.CategoricalCrossEntropy())
    assert scratch.gradient_check(model, rng.normal(size=(6, 4)), rng.integers(0, 3, 6)) < 1e-6


def test_binary_classifier_gradient_check(rng):
    model = scratch.Sequential([scratch.Dense(4, 3, seed=3), scratch.Activation("tanh"), scratch.Dense(3, 1, seed=4)],
                               scratch.BinaryCrossEntropy(from_logits=True))
    assert scratch.gradient_check(model, rng.normal(size=(6, 4)), _binary_targets(rng, (6, 1))) < 1e-6


def test_mnist_sized_mlp_gradient_check_with_sampling(rng):
    model = scratch.mlp([784, 128, 10], seed=0)
    X = rng.random((4, 784))
    assert scratch.gradient_check(model, X, np.array([3, 1, 4, 1]), samples=50) < 1e-6


def test_gradient_check_catches_a_wrong_backward(rng):
    model = scratch.mlp([6, 5, 3], activation="relu", seed=1)
    model.layers[1].df = np.ones_like  # forgot ReLU's mask
    assert scratch.gradient_check(model, rng.normal(size=(7, 6)), rng.integers(0, 3, 7)) > 1e-2


def test_mlp_learns_separable_classes(rng):
    centres = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    y = rng.integers(0, 3, 300)
    X = centres[y] + rng.normal(size=(300, 2))
    model = scratch.mlp([2, 16, 3], seed=0)
    history = model.fit(X, y, scratch.Adam(1e-2), num_epochs=20, batch_size=32)
    assert len(history.loss) == 20 * 10 and len(history.epoch_seconds) == 20
    assert history.loss[-1] < history.loss[0]
    assert model.accuracy(X, y) > 0.9


def test_accuracy_takes_one_hot_labels_by_their_class(rng):
    """N == K: comparing (N,) predictions with (N, K) one-hot rows broadcast to an (N, N) table and gave a number
    that was neither the accuracy nor an error."""
    model = scratch.mlp([4, 3], seed=0)
    X = rng.normal(size=(3, 4))
    predicted = model.predict(X)
    labels = np.array([predicted[0], (predicted[1] + 1) % 3, predicted[2]])  # 2 of 3 right
    assert model.accuracy(X, labels) == pytest.approx(2 / 3)
    assert model.accuracy(X, scratch.one_hot(labels, 3)) == pytest.approx(2 / 3)
    assert model.accuracy(X, scratch.one_hot(labels, 3).astype(int)) == pytest.approx(2 / 3)


@pytest.mark.parametrize("shape", [(3, 1), (4,), (3, 5), (2, 3)])
def test_accuracy_rejects_labels_of_the_wrong_shape(rng, shape):
    model = scratch.mlp([4, 3], seed=0)
    message = "one label per row of X: integers of shape (3,) or one-hot rows of shape (3, 3)"
    with pytest.raises(ValueError, match=re.escape(message) + ".*" + re.escape(f"got shape {shape}")):
        model.accuracy(rng.normal(size=(3, 4)), np.zeros(shape, dtype=int))


@pytest.mark.parametrize("init, variance", [("uniform", 0.05**2 / 3), ("gaussian", 1.0), ("xavier", 2 / 600),
                                            ("he", 2 / 400)])
def test_initialisers_have_their_variance(init, variance):
    W = scratch.initial_weights(init, 400, 200, np.random.default_rng(0))
    assert W.shape == (400, 200)
    assert W.var() == pytest.approx(variance, rel=0.03)


# --------------------------------------------------------------------------- optimizers against Keras
def _steps_against_keras(ours, theirs, num_steps=4):
    rng = np.random.default_rng(1)
    shapes = [(3, 2), (2,)]
    w_ours = [rng.normal(size=s) for s in shapes]
    w_keras = [keras.Variable(w.copy(), dtype="float64") for w in w_ours]
    for _ in range(num_steps):
        grads = [rng.normal(size=s) * 10.0 ** rng.integers(-4, 1) for s in shapes]
        ours.step(w_ours, grads)
        theirs.apply_gradients([(tf.constant(g), w) for g, w in zip(grads, w_keras)])
    return max(np.max(np.abs(a - b.numpy())) for a, b in zip(w_ours, w_keras))


@pytest.mark.parametrize("ours, theirs", [
    (scratch.SGD(0.01), keras.optimizers.SGD(0.01)),
    (scratch.Momentum(0.01, 0.9), keras.optimizers.SGD(0.01, momentum=0.9)),
    (scratch.Adam(1e-3), keras.optimizers.Adam(1e-3)),
    (scratch.SGD(scratch.inverse_time_decay(0.1, 0.5)),
     keras.optimizers.SGD(keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5))),
], ids=["sgd", "momentum", "adam", "sgd_inverse_time_decay"])
def test_optimizer_updates_match_keras(ours, theirs):
    assert _steps_against_keras(ours, theirs) < 1e-6


@pytest.mark.parametrize("ours, theirs", [
    (scratch.Momentum(0.125, 0.875), keras.optimizers.SGD(0.125, momentum=0.875)),
    (scratch.Adam(0.125, 0.5, 0.75), keras.optimizers.Adam(0.125, 0.5, 0.75)),
], ids=["momentum", "adam"])
def test_optimizer_updates_are_keras_exactly_with_float32_exact_hyperparameters(ours, theirs):
    assert _steps_against_keras(ours, theirs) < 1e-14


@pytest.mark.parametrize("ours, theirs", [(scratch.SGD(0.1), keras.optimizers.SGD(0.1)),
                                          (scratch.Adam(1e-3), keras.optimizers.Adam(1e-3))], ids=["sgd", "adam"])
def test_one_training_step_matches_keras(rng, ours, theirs):
    model = scratch.mlp([784, 32, 10], seed=0)
    twin = scratch.to_keras(model, theirs)
    X, y = rng.random((16, 784)), rng.integers(0, 10, 16)
    twin.train_on_batch(X, y)
    model.loss_and_gradients(X, y)
    ours.step(model.parameters(), model.gradients())
    assert max(np.max(np.abs(a - b)) for a, b in zip(model.parameters(), twin.get_weights())) < 1e-6


def test_schedules():
    assert [round(scratch.inverse_time_decay(0.1, 0.5)(t), 4) for t in range(3)] == [0.1, 0.0667, 0.05]
    assert scratch.exponential_decay(0.1, 0.5, 10)(20) == pytest.approx(0.025)
    assert [scratch.step_decay(0.1, 0.5, 10)(t) for t in (0, 9, 10, 25)] == [0.1, 0.1, 0.05, 0.025]


# --------------------------------------------------------------------------- bad input
def test_dense_rejects_the_wrong_number_of_features():
    with pytest.raises(ValueError, match=r"Dense\(784 → 128\) expects X of shape \(batch, 784\), got \(32, 785\)"):
        scratch.mlp([784, 128, 10]).forward(np.zeros((32, 785)))


def test_model_rejects_images_that_are_not_flattened():
    with pytest.raises(ValueError, match=r"\(batch, features\), got \(2, 28, 28\).*reshape"):
        scratch.mlp([784, 128, 10]).forward(np.zeros((2, 28, 28)))


def test_nan_inputs_are_rejected():
    X = np.zeros((4, 3))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X of shape \(4, 3\) contains NaN or inf \(first at index \(2, 1\)\)"):
        scratch.mlp([3, 2]).loss_and_gradients(X, np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"y of shape \(4, 1\) contains NaN"):
        regression = scratch.Sequential([scratch.Dense(3, 1)], scratch.MeanSquaredError())
        regression.loss_and_gradients(np.zeros((4, 3)), np.array([[1.0], [np.nan], [0.0], [2.0]]))


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 1, 10]), r"integers in \[0, 9\] for 10 classes; got min 0, max 10"),
    (np.array([-1, 1, 2]), r"got min -1, max 2"),
    (np.array([0.5, 1, 2]), r"integers in \[0, 9\]"),
    (np.zeros((3, 2)), r"shape \(N,\) or one-hot of shape \(N, 10\); got shape \(3, 2\)"),
])
def test_labels_out_of_range_are_rejected(labels, message):
    with pytest.raises(ValueError, match=message):
        scratch.CategoricalCrossEntropy(from_logits=True).forward(np.zeros((3, 10)), labels)


def test_one_label_per_example():
    with pytest.raises(ValueError, match=r"y_hat has 3 rows \(shape \(3, 10\)\) but y has 2"):
        scratch.CategoricalCrossEntropy(from_logits=True).forward(np.zeros((3, 10)), np.array([1, 2]))


def test_mismatched_regression_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"y_hat have shape \(5, 1\) but targets y have shape \(5,\)"):
        scratch.MeanSquaredError().forward(np.zeros((5, 1)), np.zeros(5))


def test_binary_targets_must_be_probabilities():
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]; got min 0.0, max 3.0.*CategoricalCrossEntropy"):
        scratch.BinaryCrossEntropy().forward(np.full((2, 1), 0.5), np.array([[0.0], [3.0]]))


def test_fit_rejects_x_and_y_of_different_lengths():
    with pytest.raises(ValueError, match=r"X has 4 rows \(shape \(4, 3\)\) but y has 3"):
        scratch.mlp([3, 2]).fit(np.zeros((4, 3)), np.zeros(3, dtype=int), scratch.SGD(0.1), num_epochs=1)


def test_optimizer_rejects_unpaired_gradients():
    with pytest.raises(ValueError, match=r"\[\(2,\)\] vs \[\(3,\)\]"):
        scratch.SGD(0.1).step([np.zeros(2)], [np.zeros(3)])


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="sigmoid, tanh, relu, gelu"):
        scratch.Activation("swish")
    with pytest.raises(ValueError, match="'uniform', 'gaussian', 'xavier', 'he'"):
        scratch.Dense(3, 2, init="zeros")


# --------------------------------------------------------------------------- chapter 03's exercises
@pytest.mark.parametrize("name, right, wrong", [
    ("softmax_ce_backward", lambda Z, y: (scratch.softmax(Z) - np.eye(Z.shape[1])[y]) / len(Z),
     lambda Z, y: scratch.softmax(Z) - np.eye(Z.shape[1])[y]),  # forgot the 1/N of the mean
    ("dense_backward", lambda X, W, g: (g @ W.T, X.T @ g, g.sum(axis=0)),
     lambda X, W, g: (g @ W.T, X.T @ g, g.mean(axis=0))),
])
def test_chapter_03_exercises(capsys, name, right, wrong):
    check(f"03_backprop_from_scratch.{name}", right)
    check(f"03_backprop_from_scratch.{name}", wrong)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✓") and out[1].startswith("✗")
