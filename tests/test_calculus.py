"""Chapter 02 helpers: finite differences, relative error, GradientTape, the loss surface, and the exercises."""
import math

import numpy as np
import pytest
import tensorflow as tf

from bigmodel_lessons import calculus, check
from bigmodel_lessons.calculus import (bowl_gradient, bowl_loss, descend, forward_difference, numerical_derivative,
                                       numerical_gradient, relative_error, tape_gradient)
from bigmodel_lessons.scratch import SGD

STEM = "02_math_foundations"


def test_central_difference_beats_forward_difference():
    cube = lambda x: x * x * x  # noqa: E731
    assert abs(numerical_derivative(cube, 2.0) - 12) < 1e-8
    assert abs(forward_difference(cube, 2.0, 1e-5) - 12) > 1e-5  # error ≈ 6h


def test_numerical_gradient_matches_the_analytic_gradient_and_restores_x():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = np.array([0.5, -1.5])
    grad = numerical_gradient(lambda v: 0.5 * v @ A @ v, x)
    assert relative_error(grad, A @ x) < 1e-9
    assert x.tolist() == [0.5, -1.5]
    assert numerical_gradient(lambda v: 0.5 * v @ A @ v, x, indices=[1]).tolist() == pytest.approx([(A @ x)[1]])


def test_numerical_gradient_needs_floats():
    with pytest.raises(ValueError, match="float array.*int"):
        numerical_gradient(lambda v: float(v.sum()), np.array([1, 2]))


def test_relative_error_is_scale_free():
    a = np.array([1.0, -2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, -a) == 1.0
    assert relative_error(1e-9 * a, 1e-9 * a * (1 + 1e-6)) == pytest.approx(5e-7, rel=1e-3)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        relative_error(a, a[:2])


def test_tape_gradient_is_tensorflows_derivative():
    x = np.array([0.3, -1.2, 2.0])
    assert relative_error(tape_gradient(lambda t: tf.reduce_sum(tf.sin(t) * t), x), np.cos(x) * x + np.sin(x)) < 1e-12


def test_bowl_gradient_and_the_stability_limit_of_gradient_descent():
    w = np.array([-4.0, 1.5])
    assert relative_error(bowl_gradient(w), numerical_gradient(bowl_loss, w.copy())) < 1e-9
    stable = descend(bowl_gradient, w, SGD(0.15), 100)
    unstable = descend(bowl_gradient, w, SGD(0.21), 100)
    assert stable.shape == (101, 2) and bowl_loss(stable[-1]) < 1e-6
    assert bowl_loss(unstable[-1]) > 1e3  # lr > 2/10 diverges along the steep axis


def _sigmoid_and_slope(z):
    s = 1 / (1 + np.exp(-z))
    return s, s * (1 - s)


def _sigmoid_with_the_articles_number(z):  # right everywhere except at z = 3, where it says 0.9502
    s, slope = _sigmoid_and_slope(z)
    return np.where(z == 3.0, 0.9502, s), slope


def _mse_and_gradient(y_hat, y):
    return np.mean((y_hat - y) ** 2), 2 * (y_hat - y) / len(y)


def _mse_gradient_without_the_mean(y_hat, y):
    return np.mean((y_hat - y) ** 2), 2 * (y_hat - y)


def _adam_step(w, g, m, v, t, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-8):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    return w - lr * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + eps), m, v


def _adam_step_without_bias_correction(w, g, m, v, t, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-8):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    return w - lr * m / (np.sqrt(v) + eps), m, v


@pytest.mark.parametrize("name, right, wrong", [
    ("sigmoid_and_slope", _sigmoid_and_slope, _sigmoid_with_the_articles_number),
    ("mse_and_gradient", _mse_and_gradient, _mse_gradient_without_the_mean),
    ("adam_step", _adam_step, _adam_step_without_bias_correction),
    ("f1_score", 2 / 3, 0.75),  # wrong: the arithmetic mean
])
def test_spot_the_bug_numbers(capsys, name, right, wrong):
    check(f"{STEM}.{name}", right)
    check(f"{STEM}.{name}", wrong)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✓") and out[1].startswith("✗")


def _naive_cross_entropy(y, p):
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def _clipped_cross_entropy(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def _naive_softmax(z):
    return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)


def _stable_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("name, right, wrong", [
    ("safe_cross_entropy", _clipped_cross_entropy, _naive_cross_entropy),
    ("sigmoid_bce_gradient", lambda z, y: 1 / (1 + np.exp(-z)) - y, lambda z, y: 1 - 2 / (1 + np.exp(-z)) - y),
    ("stable_softmax", _stable_softmax, _naive_softmax),
])
def test_spot_the_bug_functions(capsys, name, right, wrong):
    with np.errstate(all="ignore"):
        check(f"{STEM}.{name}", right)
        check(f"{STEM}.{name}", wrong)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✓") and out[1].startswith("✗")


# The notebook prints the answer for section 2's y and p (8.1412) and uses section 4.1's z and y: answers that
# only reproduce those must fail, and the checks must contain exact 0s and 1s.
NOTEBOOK_Y, NOTEBOOK_P = np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.9, 0.2, 0.0, 1.0])
NOTEBOOK_Z, NOTEBOOK_LABELS = np.array([-3.0, -0.5, 0.0, 0.5, 3.0]), np.array([1.0, 0.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("cheat", [
    lambda y, p: 8.1412,  # the number printed in section 2
    lambda y, p: _clipped_cross_entropy(NOTEBOOK_Y, NOTEBOOK_P),  # right formula, the notebook's leftover globals
    lambda y, p: _naive_cross_entropy(y, np.clip(p, 1e-15, 1 - 1e-15)),  # clipped, but not where Keras clips
    lambda y, p: -np.mean(np.nan_to_num(y * np.log(p) + (1 - y) * np.log(1 - p))),  # hides the infinities
    lambda y, p: np.clip(p, 1e-7, 1 - 1e-7),  # forgot the loss: an array, not one number
], ids=["printed-number", "leftover-globals", "wrong-epsilon", "nan_to_num", "no-mean"])
def test_safe_cross_entropy_check_rejects_answers_that_ignore_the_inputs(capsys, cheat):
    with np.errstate(all="ignore"):
        check(f"{STEM}.safe_cross_entropy", cheat)
        check(f"{STEM}.safe_cross_entropy", _clipped_cross_entropy)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✗") and "Hint: Clip p" in out[0] and out[1].startswith("✓"), out


def test_safe_cross_entropy_check_uses_exact_zeros_and_ones():
    for seed, n in ((13, 40), (14, 9)):
        y, p = calculus._fresh_labels_and_probabilities(seed, n)
        assert len(y) == len(p) == n + 4 and set(np.unique(y)) == {0.0, 1.0}
        for label, prob in ((1, 0), (0, 1), (0, 0), (1, 1)):  # confident mistakes and confident hits
            assert np.any((y == label) & (p == prob))
        assert not np.array_equal(p, NOTEBOOK_P)


@pytest.mark.parametrize("cheat", [
    lambda z, y: 1 / (1 + np.exp(-NOTEBOOK_Z)) - NOTEBOOK_LABELS,  # section 4.1's leftover z and y
    lambda z, y: np.array([-0.9526, 0.3775, -0.5, -0.3775, 0.9526]),  # the table printed in section 4.1
    lambda z, y: 1 - 2 / (1 + np.exp(-z)) - y,  # the article's 1 − 2ŷ − y
    lambda z, y: np.sum(1 / (1 + np.exp(-z)) - y),  # summed: one number, not one gradient per example
], ids=["leftover-globals", "printed-table", "articles-formula", "summed"])
def test_sigmoid_bce_gradient_check_rejects_answers_that_ignore_the_inputs(capsys, cheat):
    with np.errstate(all="ignore"):
        check(f"{STEM}.sigmoid_bce_gradient", cheat)
        check(f"{STEM}.sigmoid_bce_gradient", lambda z, y: 1 / (1 + np.exp(-z)) - y)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✗") and "Hint: Multiply" in out[0] and out[1].startswith("✓"), out
