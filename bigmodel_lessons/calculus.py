"""Chapter 02 helpers: finite differences, relative error, a 2-D loss surface, and chapter 02's exercises.

Finite differences are how the course checks every derivative it derives: if the formula is right, the
slope measured with a tiny step ``h`` agrees with it to many digits.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .env import quiet_tensorflow
from .exercises import exercise

FloatArray = np.ndarray


def numerical_derivative(f: Callable, x, h: float = 1e-5):
    """Central difference (f(x + h) − f(x − h)) / 2h: the slope of ``f`` at ``x`` (elementwise for arrays)."""
    x = np.asarray(x, dtype=float)
    return (f(x + h) - f(x - h)) / (2 * h)


def forward_difference(f: Callable, x: float, h: float) -> float:
    """The textbook limit before taking it: (f(x + h) − f(x)) / h."""
    return (f(x + h) - f(x)) / h


def numerical_gradient(f: Callable[[FloatArray], float], x: FloatArray, h: float = 1e-5,
                       indices=None) -> FloatArray:
    """∂f/∂x by central differences, nudging one entry of ``x`` at a time (in place, then restored).

    ``f(x)`` returns a scalar. ``x`` must be a float array. ``indices`` (flat positions) limits the check to
    some entries, for big weight matrices; the result then holds only those entries, in that order.
    """
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"numerical_gradient needs a float array, got dtype {x.dtype}; use x.astype(float).")
    flat = x.reshape(-1)  # a view: nudging flat nudges x
    positions = range(flat.size) if indices is None else indices
    grad = np.empty(len(positions))
    for i, pos in enumerate(positions):
        old = flat[pos]
        flat[pos] = old + h
        f_plus = f(x)
        flat[pos] = old - h
        f_minus = f(x)
        flat[pos] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(x.shape) if indices is None else grad


def tape_gradient(f: Callable, x) -> FloatArray:
    """∂f/∂x by TensorFlow's automatic differentiation (tf.GradientTape), in float64: the second, independent
    check of a derived formula. ``f`` takes a tensor shaped like ``x`` and returns a scalar tensor."""
    quiet_tensorflow()
    import tensorflow as tf

    x = tf.Variable(np.asarray(x, dtype=np.float64))
    with tf.GradientTape() as tape:
        value = f(x)
    return tape.gradient(value, x).numpy()


def relative_error(a, b) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖): scale-free disagreement between two gradients (0 = identical, 1 = unrelated).

    Whole-array norms, not entry by entry: an entry that is almost zero in both would turn harmless
    round-off (≈1e−10) into a large ratio.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"relative_error needs equal shapes, got {a.shape} and {b.shape}.")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


# --------------------------------------------------------------------------- a 2-D loss surface
BOWL_CURVATURE = (1.0, 10.0)  # a long, narrow valley: steep across (w₂), shallow along (w₁)


def bowl_loss(w) -> float:
    """L(w₁, w₂) = ½(1·w₁² + 10·w₂²): the simplest loss surface on which the learning rate visibly matters."""
    w = np.asarray(w, dtype=float)
    return 0.5 * (BOWL_CURVATURE[0] * w[..., 0] ** 2 + BOWL_CURVATURE[1] * w[..., 1] ** 2)


def bowl_gradient(w) -> FloatArray:
    """∇L = (1·w₁, 10·w₂); gradient descent is stable for lr < 2/10 and diverges above."""
    w = np.asarray(w, dtype=float)
    return np.array([BOWL_CURVATURE[0] * w[0], BOWL_CURVATURE[1] * w[1]])


def descend(gradient: Callable[[FloatArray], FloatArray], start, optimizer, num_steps: int) -> FloatArray:
    """Run ``optimizer`` (anything with ``step(params, grads)``, e.g. ``scratch.Adam``) from ``start``;
    return the path, shape (num_steps + 1, len(start))."""
    w = np.array(start, dtype=float)
    path = [w.copy()]
    for _ in range(num_steps):
        optimizer.step([w], [gradient(w)])
        path.append(w.copy())
    return np.array(path)


# --------------------------------------------------------------------------- chapter 02's "spot the bug" exercises
# The learner's answers are compared with the tested engine in ``scratch`` (imported here, at check time:
# ``scratch`` itself imports this module).
def _fresh_labels_and_probabilities(seed: int, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Labels 0/1 and predicted probabilities the learner has not seen: uniform in (0, 1), plus exact 0s and 1s
    for both labels (two confident mistakes, two confident hits)."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.integers(0, 2, n).astype(float), [1.0, 0.0, 0.0, 1.0]])
    p = np.concatenate([rng.uniform(0, 1, n), [0.0, 1.0, 0.0, 1.0]])
    order = rng.permutation(len(y))
    return y[order], p[order]


def _fixes_log_zero(cross_entropy) -> bool:
    """Exercise 3, judged on fresh labels and probabilities with exact 0s and 1s (two draws of different sizes),
    not on the example whose answer the notebook prints."""
    from .scratch import BinaryCrossEntropy

    for seed, n in ((13, 40), (14, 9)):
        y, p = _fresh_labels_and_probabilities(seed, n)
        expected = BinaryCrossEntropy().forward(p.copy(), y.copy())
        got = np.asarray(cross_entropy(y, p), dtype=float)
        if got.size != 1 or not math.isclose(float(got.reshape(-1)[0]), expected, rel_tol=1e-4):
            return False  # one number, the mean loss; inf and nan are never close to it
    return True


def _is_sigmoid_bce_gradient(gradient) -> bool:
    """Exercise 4, judged on fresh scores and labels (two draws of different sizes), not on section 4.1's."""
    from .scratch import sigmoid

    for seed in (17, 18):
        z = _fresh_scores(seed, n=30 + seed)
        y = np.random.default_rng(seed + 100).integers(0, 2, z.size).astype(float)
        expected = sigmoid(z) - y
        got = np.asarray(gradient(z.copy(), y.copy()), dtype=float)
        if got.shape != z.shape or not np.allclose(got, expected, rtol=1e-6, atol=1e-9):
            return False
    return True


def _is_stable_softmax(softmax) -> bool:
    from .scratch import softmax as reference

    z = np.array([[1000.0, 1001.0, 1002.0], [-5.0, 0.0, 5.0]])
    got = np.asarray(softmax(z), dtype=float)
    return got.shape == z.shape and np.allclose(got, reference(z), rtol=1e-6)


def _fresh_scores(seed: int, n: int = 50) -> np.ndarray:
    """Scores the learner has not seen: a spread from −20 to 20, plus 0 and 3."""
    return np.concatenate([np.random.default_rng(seed).uniform(-20, 20, n), [0.0, 3.0]])


def _is_sigmoid_and_slope(sigmoid_and_slope) -> bool:
    from .scratch import sigmoid, sigmoid_grad

    z = _fresh_scores(seed=7)
    value, slope = (np.asarray(a, dtype=float) for a in sigmoid_and_slope(z))
    return (value.shape == slope.shape == z.shape and np.allclose(value, sigmoid(z), rtol=1e-9, atol=1e-12)
            and np.allclose(slope, sigmoid_grad(z), rtol=1e-9, atol=1e-12))


def _is_mse_and_gradient(mse_and_gradient) -> bool:
    rng = np.random.default_rng(11)
    y, y_hat = rng.normal(size=7), rng.normal(size=7)
    loss, gradient = mse_and_gradient(y_hat, y)
    finite_diff = numerical_gradient(lambda p: float(np.mean((p - y) ** 2)), y_hat.copy())
    return (math.isclose(float(loss), float(np.mean((y_hat - y) ** 2)), rel_tol=1e-9)
            and np.shape(gradient) == y.shape and relative_error(np.asarray(gradient, float), finite_diff) < 1e-7)


def _textbook_adam(w, g, m, v, t, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-8):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    return w - lr * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + eps), m, v


def _is_adam_step(adam_step) -> bool:
    rng = np.random.default_rng(5)
    theirs = ours = (rng.normal(size=3), np.zeros(3), np.zeros(3))
    for t in range(1, 6):  # five steps from t = 1, with an unusual learning rate and betas
        g = rng.normal(size=3) * 10.0 ** rng.integers(-3, 3)
        ours = _textbook_adam(*ours[:1], g, *ours[1:], t, lr=0.05, beta_1=0.8, beta_2=0.99)
        theirs = tuple(np.asarray(a, dtype=float) for a in adam_step(theirs[0], g, theirs[1], theirs[2], t,
                                                                      lr=0.05, beta_1=0.8, beta_2=0.99))
        if not all(a.shape == b.shape and np.allclose(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(theirs, ours)):
            return False
    return True


STEM = "02_math_foundations"
exercise(f"{STEM}.sigmoid_and_slope", compare=_is_sigmoid_and_slope,
         hint="s = 1 / (1 + np.exp(-z)) elementwise (σ(3) = 1 / 1.0498 ≈ 0.9526, not 0.9502); the slope is s * (1 - s).")
exercise(f"{STEM}.mse_and_gradient", compare=_is_mse_and_gradient,
         hint="loss = np.mean((y_hat - y)**2); each y_hat_i appears in one squared term, so dL/dy_hat_i = 2 (y_hat_i - y_i) / n.")
exercise(f"{STEM}.safe_cross_entropy", compare=_fixes_log_zero,
         hint="Clip p into [1e-7, 1 − 1e-7] with np.clip before taking logs, as Keras does.")
exercise(f"{STEM}.sigmoid_bce_gradient", compare=_is_sigmoid_bce_gradient,
         hint="Multiply dL/dŷ = −y/ŷ + (1 − y)/(1 − ŷ) by dŷ/dz = ŷ(1 − ŷ) and simplify: it is ŷ − y.")
exercise(f"{STEM}.adam_step", compare=_is_adam_step,
         hint="Update m and v first, then m_hat = m / (1 - beta_1**t), v_hat = v / (1 - beta_2**t), and "
              "w - lr * m_hat / (np.sqrt(v_hat) + eps); return the new w, m and v.")
exercise(f"{STEM}.f1_score", 2 / 3,
         hint="F1 is the harmonic mean of precision and recall, 2PR / (P + R), not an average of accuracy.")
exercise(f"{STEM}.stable_softmax", compare=_is_stable_softmax,
         hint="Subtract each row's maximum (z.max(axis=-1, keepdims=True)) before np.exp; the result is unchanged.")
