"""Chapter 02 helpers: finite differences, relative error, a 2-D loss surface, and chapter 02's exercises.

Finite differences are how the course checks every derivative it derives: if the formula is right, the
slope measured with a tiny step ``h`` agrees with it to many digits.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

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
def _fixes_log_zero(cross_entropy) -> bool:
    from .scratch import BinaryCrossEntropy

    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.9, 0.2, 0.0, 1.0])  # two confident mistakes: log(0) without clipping
    got = float(cross_entropy(y, p))
    return math.isfinite(got) and math.isclose(got, BinaryCrossEntropy().forward(p, y), rel_tol=1e-4)


def _is_sigmoid_bce_gradient(gradient) -> bool:
    from .scratch import sigmoid

    z = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    return np.allclose(gradient(z, y), sigmoid(z) - y, rtol=1e-6, atol=1e-9)


def _is_stable_softmax(softmax) -> bool:
    from .scratch import softmax as reference

    z = np.array([[1000.0, 1001.0, 1002.0], [-5.0, 0.0, 5.0]])
    got = np.asarray(softmax(z), dtype=float)
    return got.shape == z.shape and np.allclose(got, reference(z), rtol=1e-6)


STEM = "02_math_foundations"
exercise(f"{STEM}.sigmoid_of_3", 1 / (1 + math.exp(-3)), rtol=1e-4,
         hint="σ(3) = 1 / (1 + e^(−3)); e^(−3) ≈ 0.0498. Compute it with math.exp rather than copying 0.9502.")
exercise(f"{STEM}.mse_example", (0.2**2 + 0.5**2 + 0.8**2) / 3,
         hint="Square each error, add the squares, divide by the number of examples (3).")
exercise(f"{STEM}.safe_cross_entropy", compare=_fixes_log_zero,
         hint="Clip p into [1e-7, 1 − 1e-7] with np.clip before taking logs, as Keras does.")
exercise(f"{STEM}.sigmoid_bce_gradient", compare=_is_sigmoid_bce_gradient,
         hint="Multiply dL/dŷ = −y/ŷ + (1 − y)/(1 − ŷ) by dŷ/dz = ŷ(1 − ŷ) and simplify: it is ŷ − y.")
exercise(f"{STEM}.adam_first_step", (0.5, 0.25),
         hint="At t = 1: m = (1 − β₁)g and v = (1 − β₂)g²; divide by (1 − β₁¹) and (1 − β₂¹).")
exercise(f"{STEM}.f1_score", 2 / 3,
         hint="F1 is the harmonic mean of precision and recall, 2PR / (P + R), not an average of accuracy.")
exercise(f"{STEM}.stable_softmax", compare=_is_stable_softmax,
         hint="Subtract each row's maximum (z.max(axis=-1, keepdims=True)) before np.exp; the result is unchanged.")
