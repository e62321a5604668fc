"""Chapter 08: attention (注意力机制) in NumPy — the reference that the Keras model and the tests compare with.

Shapes: queries ``q`` (..., T_q, d_k), keys ``k`` (..., T_k, d_k), values ``v`` (..., T_k, d_v); any leading
batch/head axes broadcast. Attention weights are (..., T_q, T_k); each row sums to 1. A mask is boolean,
broadcastable to (..., T_q, T_k), True where a query may look at a key.

    scores  S = Q·Kᵀ / √d_k
    weights P = softmax(S)   (over keys; masked positions get weight 0)
    output  O = P·V

References: Vaswani et al. 2017, "Attention Is All You Need", eq. 1; rasbt/LLMs-from-scratch ch03;
karpathy/nanoGPT ``CausalSelfAttention``.
"""
from __future__ import annotations

import numpy as np

from .exercises import exercise
from .scratch import softmax, softmax_backward

STEM = "08_attention_and_tiny_transformer"


# --------------------------------------------------------------------------- input checks
def _check_qkv(q, k, v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q, k, v = (np.asarray(a, dtype=np.result_type(a, np.float32)) for a in (q, k, v))
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ValueError(f"q, k and v need at least 2 axes (..., seq, d); got shapes {q.shape}, {k.shape}, "
                         f"{v.shape}. Add a sequence axis, e.g. q[None, :].")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same size d_k in their last axis to be compared by a "
                         f"dot product; got q {q.shape} and k {k.shape}.")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values come in pairs: k has {k.shape[-2]} positions and v has {v.shape[-2]} "
                         f"(shapes {k.shape}, {v.shape}).")
    return q, k, v


def _check_mask(mask, scores_shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise ValueError(f"mask must be boolean (True = may attend), got dtype {mask.dtype}; "
                         f"build one with causal_mask(T) or compare, e.g. ids != pad_id.")
    try:
        np.broadcast_shapes(mask.shape, scores_shape)
    except ValueError:
        raise ValueError(f"mask of shape {mask.shape} does not broadcast to the attention scores' shape "
                         f"{scores_shape} (..., T_q, T_k). For self-attention over T positions use "
                         f"causal_mask(T), shape (T, T).") from None
    if not mask.any(axis=-1).all():
        raise ValueError("every query must be allowed to attend to at least one key; a row of the mask is "
                         "all False, which would make its softmax 0/0.")
    return mask


# --------------------------------------------------------------------------- scaled dot-product attention
def causal_mask(T: int) -> np.ndarray:
    """(T, T) boolean, lower-triangular: position i may attend to positions 0..i, never to the future.

    >>> causal_mask(3).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be a positive integer sequence length, got {T!r}.")
    return np.tril(np.ones((T, T), dtype=bool))


def scaled_dot_product_attention(q, k, v, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """``(output, weights)``: softmax(Q·Kᵀ/√d_k) with masked scores set to −∞ (weight 0), times V."""
    q, k, v = _check_qkv(q, k, v)
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(_check_mask(mask, scores.shape), scores, -np.inf)
    weights = softmax(scores, axis=-1)
    return weights @ v, weights


def attention_backward(q, k, v, grad_output, mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dq, dk, dv)`` for O = softmax(QKᵀ/√d)·V, given dL/dO.

    dV = Pᵀ·dO;  dP = dO·Vᵀ;  dS = P ⊙ (dP − Σ_j dP_j P_j) (softmax's backward, row by row);
    dQ = dS·K/√d;  dK = dSᵀ·Q/√d. Masked positions have P = 0, so they get no gradient.
    """
    q, k, v = _check_qkv(q, k, v)
    output, weights = scaled_dot_product_attention(q, k, v, mask)
    grad_output = np.asarray(grad_output, dtype=output.dtype)
    if grad_output.shape != output.shape:
        raise ValueError(f"grad_output must have the output's shape {output.shape}, got {grad_output.shape}.")
    dv = np.swapaxes(weights, -1, -2) @ grad_output
    d_scores = softmax_backward(weights, grad_output @ np.swapaxes(v, -1, -2)) / np.sqrt(q.shape[-1])
    return d_scores @ k, np.swapaxes(d_scores, -1, -2) @ q, dv


# --------------------------------------------------------------------------- multi-head attention (多头注意力)
def split_heads(x, n_heads: int) -> np.ndarray:
    """(..., T, d_model) -> (..., n_heads, T, d_model / n_heads): each head gets its own slice of the features."""
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[-1] % n_heads:
        raise ValueError(f"split_heads needs (..., T, d_model) with d_model divisible by n_heads={n_heads}; "
                         f"got shape {x.shape}.")
    *batch, T, d_model = x.shape
    return np.swapaxes(x.reshape(*batch, T, n_heads, d_model // n_heads), -2, -3)


def merge_heads(x) -> np.ndarray:
    """(..., n_heads, T, head_dim) -> (..., T, n_heads · head_dim): the inverse of :func:`split_heads`."""
    x = np.swapaxes(np.asarray(x), -2, -3)
    return x.reshape(*x.shape[:-2], x.shape[-2] * x.shape[-1])


def multi_head_attention(x, W_query, W_key, W_value, W_out, n_heads: int, mask=None,
                         b_query=None, b_key=None, b_value=None, b_out=None) -> tuple[np.ndarray, np.ndarray]:
    """Self-attention with ``n_heads`` heads on x (..., T, d_model): ``(output (..., T, d_model), weights
    (..., n_heads, T, T))``. Project to Q, K, V (d_model × d_model each), split into heads, attend in each
    head, merge the heads and project with ``W_out``. Biases are optional (zero when None)."""
    x = np.asarray(x, dtype=np.result_type(x, np.float32))
    d_model = x.shape[-1]
    for name, W in (("W_query", W_query), ("W_key", W_key), ("W_value", W_value), ("W_out", W_out)):
        if np.shape(W) != (d_model, d_model):
            raise ValueError(f"{name} must be (d_model, d_model) = ({d_model}, {d_model}) for x of shape "
                             f"{x.shape}, got {np.shape(W)}.")
    bias = lambda b: 0.0 if b is None else np.asarray(b)  # noqa: E731
    q = split_heads(x @ W_query + bias(b_query), n_heads)
    k = split_heads(x @ W_key + bias(b_key), n_heads)
    v = split_heads(x @ W_value + bias(b_value), n_heads)
    context, weights = scaled_dot_product_attention(q, k, v, mask)
    return merge_heads(context) @ W_out + bias(b_out), weights


# --------------------------------------------------------------------------- the fourth article's formula
def attention_without_softmax(q, k, v) -> np.ndarray:
    """The article's ``QKᵀ/√d ⊙ V`` read as matrix products: (Q·Kᵀ/√d_k)·V, with no softmax. Shown only to
    measure what goes wrong: its "weights" do not sum to 1 and can be negative."""
    q, k, v = _check_qkv(q, k, v)
    return (q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])) @ v


# --------------------------------------------------------------------------- exercises
def _random_qkv(seed: int, shape=(2, 3, 7, 8)):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) for _ in range(3))


def _matches_causal_mask(make_mask) -> bool:
    return all(np.array_equal(np.asarray(make_mask(T)), causal_mask(T)) for T in (1, 2, 5, 9))


def _matches_attention(attend) -> bool:
    q, k, v = _random_qkv(8)
    for mask in (None, causal_mask(7)):
        expected, expected_weights = scaled_dot_product_attention(q, k, v, mask)
        output, weights = attend(q, k, v, mask)
        if not (np.allclose(output, expected, atol=1e-8) and np.allclose(weights, expected_weights, atol=1e-8)):
            return False
    return True


exercise(f"{STEM}.causal_mask", compare=_matches_causal_mask,
         hint="np.tril(np.ones((T, T), dtype=bool)): row i (the query) is True for keys 0..i.")
exercise(f"{STEM}.attention", compare=_matches_attention,
         hint="scores = q @ k.swapaxes(-1, -2) / sqrt(d_k); where the mask is False set −inf; softmax over the "
              "last axis (bml's scratch.softmax); return (weights @ v, weights).")
