"""A neural network from scratch in NumPy (chapters 02–03): activations, losses, layers, a model, optimizers.

Small on purpose, in the spirit of micrograd: every layer has ``forward`` and ``backward``, every backward is
checked against finite differences (:func:`gradient_check`) and, in tests/, against Keras to 1e-6.
Shapes: a batch ``X`` is (N, features); class labels ``y`` are integers (N,) or one-hot rows (N, K).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .calculus import numerical_gradient, relative_error
from .exercises import exercise

EPSILON = 1e-7  # Keras' keras.config.epsilon(): probabilities are clipped into [EPSILON, 1 − EPSILON]


def _floats(z) -> np.ndarray:
    z = np.asarray(z)
    return z if np.issubdtype(z.dtype, np.floating) else z.astype(float)


# --------------------------------------------------------------------------- activations (激活函数)
def sigmoid(z):
    """σ(z) = 1 / (1 + e^(−z)), written so that e^(−z) never overflows for very negative z."""
    z = _floats(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(z):
    """σ'(z) = σ(z)(1 − σ(z)); at most 0.25, at z = 0."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    return np.tanh(_floats(z))


def tanh_grad(z):
    """tanh'(z) = 1 − tanh²(z)."""
    return 1 - np.tanh(_floats(z)) ** 2


def relu(z):
    return np.maximum(_floats(z), 0)


def relu_grad(z):
    """ReLU'(z) = 1 for z > 0, else 0 (at z = 0 the derivative does not exist; we use 0, like TensorFlow)."""
    z = _floats(z)
    return (z > 0).astype(z.dtype)


GELU_C = math.sqrt(2 / math.pi)


def gelu(z):
    """GELU, tanh approximation (GPT-2, BERT): ½z(1 + tanh(√(2/π)(z + 0.044715z³)))."""
    z = _floats(z)
    return 0.5 * z * (1 + np.tanh(GELU_C * (z + 0.044715 * z**3)))


def gelu_grad(z):
    """Product and chain rules on the formula above: ½(1 + t) + ½z(1 − t²)·√(2/π)(1 + 3·0.044715z²)."""
    z = _floats(z)
    t = np.tanh(GELU_C * (z + 0.044715 * z**3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t**2) * GELU_C * (1 + 3 * 0.044715 * z**2)


def softmax(z, axis: int = -1):
    """e^(z_i) / Σ_j e^(z_j), after subtracting the max: same result, and e^(1000) never overflows."""
    z = _floats(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(s, grad):
    """dL/dz from dL/ds for s = softmax(z) (rows): ∂s_i/∂z_j = s_i(δ_ij − s_j) gives s ⊙ (g − Σ_j g_j s_j)."""
    return s * (grad - np.sum(grad * s, axis=-1, keepdims=True))


ACTIVATIONS = {  # name -> (function, derivative)
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "gelu": (gelu, gelu_grad),
}


# --------------------------------------------------------------------------- input checks
def _check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{name} of shape {a.shape} contains NaN or inf (first at index {bad}); "
                         f"drop or impute those values before training.")


def _check_same_shape(y_hat: np.ndarray, y: np.ndarray) -> None:
    if y_hat.shape != y.shape:
        raise ValueError(f"predictions y_hat have shape {y_hat.shape} but targets y have shape {y.shape}; "
                         f"they must match (e.g. y.reshape({', '.join(map(str, y_hat.shape))})).")


def one_hot(y, num_classes: int) -> np.ndarray:
    """Integer labels (N,) → one-hot rows (N, num_classes); one-hot input (N, num_classes) passes through."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == num_classes:
        return y.astype(float)
    if y.ndim != 1:
        raise ValueError(f"labels y must be integers of shape (N,) or one-hot of shape (N, {num_classes}); "
                         f"got shape {y.shape}.")
    if y.size and (not np.all(np.mod(y, 1) == 0) or y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels y (shape {y.shape}) must be integers in [0, {num_classes - 1}] for "
                         f"{num_classes} classes; got min {y.min()}, max {y.max()}.")
    return np.eye(num_classes)[y.astype(int)]


# --------------------------------------------------------------------------- losses (损失函数)
class Loss:
    """``forward(y_hat, y)`` → mean loss over the batch; ``backward(y_hat, y)`` → dL/dy_hat, shape of y_hat."""


class MeanSquaredError(Loss):
    """L = mean((ŷ − y)²) over every entry; dL/dŷ = 2(ŷ − y)/n."""

    def forward(self, y_hat, y) -> float:
        _check_same_shape(y_hat, y)
        return float(np.mean((y_hat - y) ** 2))

    def backward(self, y_hat, y):
        _check_same_shape(y_hat, y)
        return 2 * (y_hat - y) / y_hat.size


class BinaryCrossEntropy(Loss):
    """L = −mean(y log p + (1 − y) log(1 − p)), y ∈ [0, 1].

    ``from_logits=False``: ``y_hat`` are probabilities, clipped into [EPSILON, 1 − EPSILON] as Keras does, so
    that a confident mistake costs −log(1e−7) ≈ 16.1 instead of log(0) = −inf.
    ``from_logits=True``: ``y_hat`` are scores z with p = σ(z); then dL/dz = (σ(z) − y)/n.
    """

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def _check(self, y_hat, y):
        _check_same_shape(y_hat, y)
        if np.any((y < 0) | (y > 1)):
            raise ValueError(f"binary targets y (shape {y.shape}) must lie in [0, 1]; got min {y.min()}, max "
                             f"{y.max()}. For more than two classes use CategoricalCrossEntropy.")

    def forward(self, y_hat, y) -> float:
        self._check(y_hat, y)
        if self.from_logits:  # log(1 + e^z) − yz, written so that e^z never overflows
            z = y_hat
            return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
        p = np.clip(y_hat, EPSILON, 1 - EPSILON)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def backward(self, y_hat, y):
        self._check(y_hat, y)
        if self.from_logits:
            return (sigmoid(y_hat) - y) / y_hat.size
        p = np.clip(y_hat, EPSILON, 1 - EPSILON)
        inside = (y_hat > EPSILON) & (y_hat < 1 - EPSILON)  # clipping is flat: no gradient outside
        return inside * (p - y) / (p * (1 - p)) / y_hat.size


class CategoricalCrossEntropy(Loss):
    """L = −(1/N) Σ_n Σ_k y_nk log p_nk for K classes; labels are integers (N,) or one-hot (N, K).

    ``from_logits=True`` (what the MLP uses): ``y_hat`` are scores z, p = softmax(z), and dL/dz = (p − y)/N.
    ``from_logits=False``: ``y_hat`` are probabilities, clipped like Keras'.
    """

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def _targets(self, y_hat, y):
        if y_hat.ndim != 2:
            raise ValueError(f"y_hat must have shape (N, K), got {y_hat.shape}.")
        Y = one_hot(y, y_hat.shape[1])
        if len(Y) != len(y_hat):
            raise ValueError(f"y_hat has {len(y_hat)} rows (shape {y_hat.shape}) but y has {len(Y)} "
                             f"(shape {np.shape(y)}); pass one label per example.")
        return Y

    def forward(self, y_hat, y) -> float:
        Y = self._targets(y_hat, y)
        if self.from_logits:
            shifted = y_hat - y_hat.max(axis=1, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        else:
            log_p = np.log(np.clip(y_hat, EPSILON, 1 - EPSILON))
        return float(-np.sum(Y * log_p) / len(Y))

    def backward(self, y_hat, y):
        Y = self._targets(y_hat, y)
        if self.from_logits:
            return (softmax(y_hat) - Y) / len(Y)
        inside = (y_hat > EPSILON) & (y_hat < 1 - EPSILON)
        return inside * -Y / np.clip(y_hat, EPSILON, 1 - EPSILON) / len(Y)


# --------------------------------------------------------------------------- initialisers (初始化)
def initial_weights(init: str, n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    """A (n_in, n_out) weight matrix: "uniform" U(±0.05), "gaussian" N(0, 1), "xavier" (Glorot)
    U(±√(6/(n_in + n_out))), or "he" N(0, 2/n_in)."""
    if init == "uniform":
        return rng.uniform(-0.05, 0.05, size=(n_in, n_out))
    if init == "gaussian":
        return rng.normal(0.0, 1.0, size=(n_in, n_out))
    if init == "xavier":
        limit = math.sqrt(6 / (n_in + n_out))
        return rng.uniform(-limit, limit, size=(n_in, n_out))
    if init == "he":
        return rng.normal(0.0, math.sqrt(2 / n_in), size=(n_in, n_out))
    raise ValueError(f"Unknown init {init!r}; choose one of 'uniform', 'gaussian', 'xavier', 'he'.")


# --------------------------------------------------------------------------- layers (层)
class Layer:
    """Maps X to an output; ``backward(dL/d output)`` returns dL/dX and fills ``grads`` like ``params``."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}


class Dense(Layer):
    """Y = XW + b. Backward: dW = Xᵀ dY, db = Σ_rows dY, dX = dY Wᵀ."""

    def __init__(self, n_in: int, n_out: int, init: str = "xavier", seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"W": initial_weights(init, n_in, n_out, rng), "b": np.zeros(n_out)}

    def __repr__(self) -> str:
        return f"Dense({self.params['W'].shape[0]} → {self.params['W'].shape[1]})"

    def forward(self, X):
        W, b = self.params["W"], self.params["b"]
        if X.ndim != 2 or X.shape[1] != W.shape[0]:
            raise ValueError(f"{self!r} expects X of shape (batch, {W.shape[0]}), got {X.shape}; "
                             f"flatten images with X.reshape(len(X), -1).")
        self.X = X
        return X @ W + b

    def backward(self, grad):
        self.grads = {"W": self.X.T @ grad, "b": grad.sum(axis=0)}
        return grad @ self.params["W"].T


class Activation(Layer):
    """An elementwise activation; backward multiplies by its derivative: dX = dY ⊙ f'(X)."""

    def __init__(self, name: str):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}.")
        self.name = name
        self.f, self.df = ACTIVATIONS[name]

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"

    def forward(self, X):
        self.X = X
        return self.f(X)

    def backward(self, grad):
        return grad * self.df(self.X)


class Softmax(Layer):
    """Rows of scores → rows of probabilities (for a model whose loss takes probabilities)."""

    def __repr__(self) -> str:
        return "Softmax()"

    def forward(self, X):
        self.S = softmax(X)
        return self.S

    def backward(self, grad):
        return softmax_backward(self.S, grad)


# --------------------------------------------------------------------------- the model
@dataclass
class History:
    """What ``fit`` measured: the loss of every step and the seconds of every epoch."""

    loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)


class Sequential:
    """Layers applied in order, and a loss: ``forward``, ``backward``, ``fit``, ``predict``."""

    def __init__(self, layers: list[Layer], loss: Loss):
        self.layers, self.loss = layers, loss

    def __repr__(self) -> str:
        return f"Sequential({self.layers}, loss={type(self.loss).__name__})"

    def forward(self, X):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must have shape (batch, features), got {X.shape}; flatten with X.reshape(len(X), -1).")
        _check_finite("X", X)
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def parameters(self) -> list[np.ndarray]:
        return [p for layer in self.layers for p in layer.params.values()]

    def gradients(self) -> list[np.ndarray]:
        """dL/dparameter, in the order of ``parameters()``, from the last ``loss_and_gradients`` call."""
        return [layer.grads[name] for layer in self.layers for name in layer.params]

    def compute_loss(self, X, y) -> float:
        y = np.asarray(y)
        _check_finite("y", y)
        return self.loss.forward(self.forward(X), y)

    def loss_and_gradients(self, X, y) -> float:
        """Forward pass, loss, then backpropagation (反向传播) filling every layer's ``grads``."""
        y = np.asarray(y)
        _check_finite("y", y)
        y_hat = self.forward(X)
        loss = self.loss.forward(y_hat, y)
        self.backward(self.loss.backward(y_hat, y))
        return loss

    def predict(self, X) -> np.ndarray:
        """The predicted class of each row (the largest score)."""
        return self.forward(X).argmax(axis=1)

    def accuracy(self, X, y) -> float:
        """The share of rows whose predicted class is the label. ``y``: integer labels (N,) or one-hot rows
        (N, K), which count by their largest entry (comparing (N,) predictions with (N, K) rows elementwise
        would broadcast, and be silently wrong)."""
        scores, y = self.forward(X), np.asarray(y)
        if y.ndim == 2 and y.shape == scores.shape:
            y = y.argmax(axis=1)  # one-hot rows -> class numbers
        if y.shape != scores.shape[:1]:
            raise ValueError(f"y must hold one label per row of X: integers of shape ({len(scores)},) or one-hot "
                             f"rows of shape {scores.shape}, like the model's scores; got shape {y.shape}. For a "
                             f"column of labels, use y.ravel().")
        return float(np.mean(scores.argmax(axis=1) == y))

    def fit(self, X, y, optimizer, num_epochs: int, batch_size: int = 64, seed: int = 0) -> History:
        """Mini-batch training: shuffle each epoch, one optimizer step per batch."""
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows (shape {X.shape}) but y has {len(y)} (shape {y.shape}).")
        rng, history = np.random.default_rng(seed), History()
        for _ in range(num_epochs):
            start = time.perf_counter()
            order = rng.permutation(len(X))
            for i in range(0, len(X), batch_size):
                batch = order[i:i + batch_size]
                history.loss.append(self.loss_and_gradients(X[batch], y[batch]))
                optimizer.step(self.parameters(), self.gradients())
            history.epoch_seconds.append(time.perf_counter() - start)
        return history


def mlp(sizes: list[int], activation: str = "relu", init: str = "he", seed: int = 0) -> Sequential:
    """Dense → activation → … → Dense, ending in class scores (logits) trained with softmax cross-entropy.

    ``mlp([784, 128, 10])`` is the chapter 03 network: 784 pixels, 128 hidden ReLU units, 10 digit scores.
    """
    layers: list[Layer] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(n_in, n_out, init=init, seed=seed + i))
        if i < len(sizes) - 2:
            layers.append(Activation(activation))
    return Sequential(layers, CategoricalCrossEntropy(from_logits=True))


def gradient_check(model: Sequential, X, y, h: float = 1e-5, samples: int | None = None, seed: int = 0) -> float:
    """Max relative error between backprop's gradients and central finite differences, over all parameters.

    Use float64 and a handful of examples; below 1e-6 means backward is right. ``samples`` checks that many
    random entries of each parameter array instead of all of them (big layers). A ReLU input sitting exactly on
    its kink at 0 (e.g. zero biases after an all-dead layer) has no derivative, and the check rightly complains.
    """
    model.loss_and_gradients(X, y)
    analytic = [g.copy() for g in model.gradients()]
    rng, worst = np.random.default_rng(seed), 0.0
    for param, grad in zip(model.parameters(), analytic):
        entries = None if samples is None or samples >= param.size else rng.choice(param.size, samples, replace=False)
        numeric = numerical_gradient(lambda _: model.compute_loss(X, y), param, h, entries)
        expected = grad if entries is None else grad.reshape(-1)[entries]
        worst = max(worst, relative_error(expected, numeric))
    return worst


# --------------------------------------------------------------------------- learning-rate schedules
def inverse_time_decay(lr0: float, beta: float) -> Callable[[int], float]:
    """α_t = α₀ / (1 + βt), the articles' schedule (Keras: InverseTimeDecay with decay_steps=1)."""
    return lambda t: lr0 / (1 + beta * t)


def exponential_decay(lr0: float, rate: float, decay_steps: int) -> Callable[[int], float]:
    """α_t = α₀ · rate^(t / decay_steps)."""
    return lambda t: lr0 * rate ** (t / decay_steps)


def step_decay(lr0: float, drop: float, every: int) -> Callable[[int], float]:
    """α_t = α₀ · drop^⌊t / every⌋: e.g. halve the learning rate every 10 epochs."""
    return lambda t: lr0 * drop ** (t // every)


# --------------------------------------------------------------------------- optimizers (优化器)
class Optimizer:
    """``step(params, grads)`` updates the parameter arrays in place. ``lr`` is a number or a schedule t → lr,
    with t = the number of steps taken so far (0 for the first step), as in Keras."""

    def __init__(self, lr):
        self.lr = lr
        self.iterations = 0

    def learning_rate(self) -> float:
        return self.lr(self.iterations) if callable(self.lr) else self.lr

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if len(params) != len(grads) or any(p.shape != g.shape for p, g in zip(params, grads)):
            raise ValueError(f"params and grads must pair up: shapes {[p.shape for p in params]} vs "
                             f"{[g.shape for g in grads]}.")
        lr = self.learning_rate()
        self.iterations += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            self.update(i, p, g, lr)

    def update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """w ← w − α g."""

    def update(self, i, p, g, lr):
        p -= lr * g


class Momentum(Optimizer):
    """v ← μv − α g;  w ← w + v  (Keras' SGD(momentum=μ)). v remembers past steps and smooths zig-zags."""

    def __init__(self, lr, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum, self.velocity = momentum, {}

    def update(self, i, p, g, lr):
        v = self.velocity.setdefault(i, np.zeros_like(p))
        v *= self.momentum
        v -= lr * g
        p += v


class Adam(Optimizer):
    """m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  w ← w − α m̂/(√v̂ + ε̂), with the bias corrections
    m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ) and t = 1 at the first step (t = 0 would divide by 1 − β⁰ = 0).

    Computed as Keras and the Adam paper's "efficient version" do: the corrections go into the step size,
    α_t = α√(1 − β₂ᵗ)/(1 − β₁ᵗ), and w ← w − α_t m/(√v + ε). That is the formula above with
    ε̂ = ε/√(1 − β₂ᵗ): 31.6ε at t = 1, 3.24ε at t = 100, → ε later. With ε = 1e−7, a first step differs from
    the textbook one (ε̂ = ε) by more than 1% for gradients below about 3e−4: a gradient of 1e−5 moves its
    weight 0.76α instead of 0.99α.
    """

    def __init__(self, lr=1e-3, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
        super().__init__(lr)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.m, self.v = {}, {}

    def update(self, i, p, g, lr):
        t = self.iterations  # already counts this step: 1, 2, 3, …
        m = self.m.setdefault(i, np.zeros_like(p))
        v = self.v.setdefault(i, np.zeros_like(p))
        m += (1 - self.beta_1) * (g - m)  # = β₁m + (1 − β₁)g
        v += (1 - self.beta_2) * (g**2 - v)
        step_size = lr * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        p -= step_size * m / (np.sqrt(v) + self.epsilon)


# --------------------------------------------------------------------------- the same network in Keras
def to_keras(model: Sequential, optimizer, dtype: str = "float64"):
    """The same network in Keras, compiled with ``optimizer`` (a Keras optimizer) and the same loss, with this
    model's current weights copied in (Dense kernels are (n_in, n_out) in both). float64 by default, so that
    the two can be compared to 1e−6 and beyond."""
    import keras

    if not (isinstance(model.loss, CategoricalCrossEntropy) and model.loss.from_logits):
        raise ValueError(f"to_keras handles models trained with CategoricalCrossEntropy(from_logits=True), "
                         f"like mlp(...); this one uses {model.loss!r}.")
    n_in = model.layers[0].params["W"].shape[0]
    keras_layers = []
    for layer in model.layers:
        if isinstance(layer, Dense):
            keras_layers.append(keras.layers.Dense(layer.params["b"].size, dtype=dtype))
        elif isinstance(layer, Activation) and layer.name != "gelu":  # Keras' gelu is the exact erf form
            keras_layers.append(keras.layers.Activation(layer.name, dtype=dtype))
        else:
            raise ValueError(f"to_keras handles Dense and sigmoid/tanh/relu Activation layers, not {layer!r}.")
    twin = keras.Sequential([keras.Input(shape=(n_in,), dtype=dtype), *keras_layers])
    twin.set_weights(model.parameters())
    twin.compile(optimizer=optimizer,
                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=dtype))
    return twin


# --------------------------------------------------------------------------- chapter 03's exercises
def _matches_softmax_ce_backward(backward) -> bool:
    rng = np.random.default_rng(3)
    Z, y = rng.normal(size=(6, 4)) * 3, np.array([0, 3, 1, 1, 2, 0])
    expected = CategoricalCrossEntropy(from_logits=True).backward(Z, y)
    return np.allclose(backward(Z, y), expected, rtol=1e-6, atol=1e-12)


def _matches_dense_backward(backward) -> bool:
    rng = np.random.default_rng(4)
    layer = Dense(5, 3, seed=4)
    X, grad = rng.normal(size=(7, 5)), rng.normal(size=(7, 3))
    layer.forward(X)
    dX = layer.backward(grad)
    got = backward(X, layer.params["W"], grad)
    expected = (dX, layer.grads["W"], layer.grads["b"])
    return len(got) == 3 and all(np.allclose(a, b, rtol=1e-6, atol=1e-12) for a, b in zip(got, expected))


STEM = "03_backprop_from_scratch"
exercise(f"{STEM}.softmax_ce_backward", compare=_matches_softmax_ce_backward,
         hint="Turn y into one-hot rows Y, then return (softmax(Z) − Y) / N, with N = len(Z).")
exercise(f"{STEM}.dense_backward", compare=_matches_dense_backward,
         hint="For Y = XW + b: dX = grad @ W.T, dW = X.T @ grad, db = grad.sum(axis=0).")
