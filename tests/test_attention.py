"""NumPy attention (chapter 08) against Keras' MultiHeadAttention, finite differences and hand-checkable cases."""
import keras
import numpy as np
import pytest

from bigmodel_lessons import attention as att
from bigmodel_lessons.calculus import numerical_gradient, relative_error
from bigmodel_lessons.exercises import _find


def _qkv(shape=(2, 3, 5, 4), seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=shape) for _ in range(3))


def test_worked_example_by_hand():
    # Two keys, one query: scores (1·1, 1·0)/√1 = (1, 0); softmax = (e/(e+1), 1/(e+1)).
    q, k, v = np.array([[1.0]]), np.array([[1.0], [0.0]]), np.array([[10.0], [20.0]])
    output, weights = att.scaled_dot_product_attention(q, k, v)
    p = np.e / (np.e + 1)
    np.testing.assert_allclose(weights, [[p, 1 - p]], rtol=1e-12)
    np.testing.assert_allclose(output, [[10 * p + 20 * (1 - p)]], rtol=1e-12)


@pytest.mark.parametrize("shape", [(5, 4), (3, 5, 4), (2, 3, 5, 4)])
def test_any_batch_shape_and_rows_sum_to_one(shape):
    q, k, v = _qkv(shape)
    output, weights = att.scaled_dot_product_attention(q, k, v)
    assert output.shape == shape and weights.shape == (*shape[:-1], shape[-2])
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-12)
    assert (weights > 0).all()


def test_causal_mask_means_no_position_attends_to_the_future():
    q, k, v = _qkv()
    output, weights = att.scaled_dot_product_attention(q, k, v, att.causal_mask(5))
    assert np.all(weights[..., np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-12)
    # Changing a future key or value leaves every earlier output unchanged.
    k2, v2 = k.copy(), v.copy()
    k2[..., 3:, :] += 5.0
    v2[..., 3:, :] -= 7.0
    output2, _ = att.scaled_dot_product_attention(q, k2, v2, att.causal_mask(5))
    np.testing.assert_allclose(output2[..., :3, :], output[..., :3, :], rtol=1e-12)
    assert not np.allclose(output2[..., 3:, :], output[..., 3:, :])
    assert att.causal_mask(3).astype(int).tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]


def test_scaling_keeps_the_variance_of_scores_near_one():
    rng = np.random.default_rng(1)
    d_k = 256
    q, k = rng.normal(size=(4000, d_k)), rng.normal(size=(4000, d_k))
    dots = (q * k).sum(-1)
    assert 0.9 * d_k < dots.var() < 1.1 * d_k  # Var(q·k) = d_k for unit-variance entries
    assert 0.9 < (dots / np.sqrt(d_k)).var() < 1.1


def _keras_mha(d_model, n_heads, rng):
    layer = keras.layers.MultiHeadAttention(n_heads, d_model // n_heads, dtype="float64")
    x = rng.normal(size=(2, 6, d_model))
    layer(x, x)
    layer.set_weights([rng.normal(size=w.shape) * 0.3 for w in layer.get_weights()])
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = layer.get_weights()  # kernels (d, nh, hs), (nh, hs, d); biases (nh, hs), (d,)
    weights = dict(W_query=Wq.reshape(d_model, d_model), W_key=Wk.reshape(d_model, d_model),
                   W_value=Wv.reshape(d_model, d_model), W_out=Wo.reshape(d_model, d_model),
                   b_query=bq.reshape(-1), b_key=bk.reshape(-1), b_value=bv.reshape(-1), b_out=bo)
    return layer, x, weights


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_keras_with_copied_weights(causal):
    rng = np.random.default_rng(2)
    layer, x, weights = _keras_mha(16, 4, rng)
    expected, expected_weights = layer(x, x, use_causal_mask=causal, return_attention_scores=True)
    output, attn_weights = att.multi_head_attention(x, n_heads=4, mask=att.causal_mask(6) if causal else None,
                                                    **weights)
    assert np.abs(output - keras.ops.convert_to_numpy(expected)).max() <= 1e-10
    assert np.abs(attn_weights - keras.ops.convert_to_numpy(expected_weights)).max() <= 1e-10


def test_split_and_merge_heads_are_inverses():
    x = np.arange(2 * 5 * 12, dtype=float).reshape(2, 5, 12)
    heads = att.split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    np.testing.assert_array_equal(heads[0, 1, 2], x[0, 2, 4:8])  # head 1 holds features 4..7
    np.testing.assert_array_equal(att.merge_heads(heads), x)


@pytest.mark.parametrize("causal", [False, True])
def test_gradient_matches_finite_differences(causal):
    q, k, v = _qkv((2, 4, 3), seed=3)
    mask = att.causal_mask(4) if causal else None
    grad_output = np.random.default_rng(4).normal(size=(2, 4, 3))

    def loss(_):  # a scalar whose gradient w.r.t. the output is grad_output
        return float((att.scaled_dot_product_attention(q, k, v, mask)[0] * grad_output).sum())

    dq, dk, dv = att.attention_backward(q, k, v, grad_output, mask)
    for analytic, x in ((dq, q), (dk, k), (dv, v)):
        assert relative_error(analytic, numerical_gradient(loss, x).reshape(x.shape)) < 1e-8


def test_without_softmax_weights_do_not_sum_to_one_and_outputs_grow_with_length():
    rng = np.random.default_rng(5)
    v = np.ones((64, 4))
    q, k = rng.normal(size=(1, 4)) + 1.0, rng.normal(size=(64, 4)) + 1.0
    short = att.attention_without_softmax(q, k[:8], v[:8])
    long = att.attention_without_softmax(q, k, v)
    assert abs(long.mean()) > 4 * abs(short.mean())  # a sum over 64 keys, not an average
    # With softmax, attending to values that are all 1 gives exactly 1, whatever the length.
    np.testing.assert_allclose(att.scaled_dot_product_attention(q, k, v)[0], 1.0, rtol=1e-12)


@pytest.mark.parametrize("q_shape, k_shape, v_shape, message", [
    ((5, 4), (5, 3), (5, 3), "same size d_k"),
    ((5, 4), (5, 4), (6, 4), "come in pairs"),
    ((4,), (4,), (4,), "at least 2 axes"),
])
def test_bad_shapes_are_clear_errors(q_shape, k_shape, v_shape, message):
    with pytest.raises(ValueError, match=message):
        att.scaled_dot_product_attention(np.ones(q_shape), np.ones(k_shape), np.ones(v_shape))


@pytest.mark.parametrize("mask, message", [
    (np.ones((4, 4), dtype=bool), "does not broadcast"),
    (np.ones((5, 5)), "must be boolean"),
    (np.zeros((5, 5), dtype=bool), "all False"),
])
def test_bad_masks_are_clear_errors(mask, message):
    q, k, v = _qkv((5, 4))
    with pytest.raises(ValueError, match=message):
        att.scaled_dot_product_attention(q, k, v, mask)


def test_multi_head_rejects_indivisible_heads_and_wrong_weights():
    x = np.ones((5, 6))
    W = np.eye(6)
    with pytest.raises(ValueError, match="divisible"):
        att.multi_head_attention(x, W, W, W, W, n_heads=4)
    with pytest.raises(ValueError, match="W_key must be"):
        att.multi_head_attention(x, W, np.eye(4), W, W, n_heads=2)
    with pytest.raises(ValueError, match="positive integer"):
        att.causal_mask(0)


def test_exercise_checks_judge_behaviour():
    mask_ex, attn_ex = _find(f"{att.STEM}.causal_mask"), _find(f"{att.STEM}.attention")
    assert mask_ex.is_correct(lambda T: np.tril(np.ones((T, T), dtype=bool)))
    assert not mask_ex.is_correct(lambda T: np.triu(np.ones((T, T), dtype=bool)))  # looks at the future
    assert not mask_ex.is_correct(lambda T: np.ones((T, T), dtype=bool))
    assert attn_ex.is_correct(att.scaled_dot_product_attention)
    assert not attn_ex.is_correct(lambda q, k, v, mask: (att.attention_without_softmax(q, k, v), None))

    def unscaled(q, k, v, mask):
        return att.scaled_dot_product_attention(q * np.sqrt(q.shape[-1]), k, v, mask)
    assert not attn_ex.is_correct(unscaled)
