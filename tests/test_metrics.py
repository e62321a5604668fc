"""Every metric in bigmodel_lessons.metrics equals scikit-learn's on random inputs, to 1e-9."""
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_score

from bigmodel_lessons import metrics as m

TOL = dict(rtol=1e-9, atol=1e-9)
EXAMPLES = settings(max_examples=60, deadline=None)


def close(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), equal_nan=True, **TOL)


def quietly(fn, *args, **kwargs):
    """Call fn with zero-division warnings silenced (both libraries warn on the same degenerate inputs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@st.composite
def label_pairs(draw, n_classes=2, min_size=1):
    """(y_true, y_pred) of equal length; sometimes all-correct, all-wrong or a single class."""
    n = draw(st.integers(min_size, 40))
    labels = st.integers(0, n_classes - 1)
    y_true = np.array(draw(st.lists(labels, min_size=n, max_size=n)))
    case = draw(st.sampled_from(["random", "all_correct", "all_wrong", "single_class"]))
    if case == "all_correct":
        return y_true, y_true.copy()
    if case == "all_wrong":
        return y_true, (y_true + 1) % n_classes
    if case == "single_class":
        y_true = np.full(n, draw(labels))
    return y_true, np.array(draw(st.lists(labels, min_size=n, max_size=n)))


@st.composite
def binary_scores(draw):
    """(y_true, y_score) with scores on a coarse grid so ties are common; sometimes a single class, a perfect or
    a perfectly wrong ranking."""
    n = draw(st.integers(1, 40))
    y_true = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if draw(st.booleans()):
        y_true = np.full(n, draw(st.integers(0, 1)))
    case = draw(st.sampled_from(["random", "random", "all_correct", "all_wrong"]))
    if case == "all_correct":  # a perfect, confident ranking; log loss sees probabilities of exactly 0 and 1
        return y_true, y_true.astype(float)
    if case == "all_wrong":
        return y_true, 1.0 - y_true
    levels = draw(st.sampled_from([3, 10, 1000]))
    y_score = np.array(draw(st.lists(st.integers(0, levels), min_size=n, max_size=n))) / levels
    return y_true, y_score


floats = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def regression_pairs(draw):
    n = draw(st.integers(1, 40))
    y_true = np.array(draw(st.lists(floats, min_size=n, max_size=n)))
    if draw(st.booleans()):
        y_true = np.full(n, draw(floats))  # constant target: R²'s zero-division case
    case = draw(st.sampled_from(["random", "perfect"]))
    y_pred = y_true.copy() if case == "perfect" else np.array(draw(st.lists(floats, min_size=n, max_size=n)))
    return y_true, y_pred


# ---------------------------------------------------------------- agreement with scikit-learn


@EXAMPLES
@given(label_pairs(n_classes=4), st.sampled_from([None, [3, 0, 1, 2], [2, 0]]))
def test_confusion_matrix_and_accuracy(pair, labels):
    y_true, y_pred = pair
    if labels is not None and not np.isin(y_true, labels).any():  # both libraries refuse
        with pytest.raises(ValueError):
            skm.confusion_matrix(y_true, y_pred, labels=labels)
        with pytest.raises(ValueError, match="None of labels"):
            m.confusion_matrix(y_true, y_pred, labels)
    else:
        assert np.array_equal(m.confusion_matrix(y_true, y_pred, labels),
                              quietly(skm.confusion_matrix, y_true, y_pred, labels=labels))
    close(m.accuracy(y_true, y_pred), skm.accuracy_score(y_true, y_pred))


def test_confusion_matrix_layout_and_string_labels():
    assert m.confusion_matrix([0, 0, 1, 1, 1], [0, 1, 0, 1, 1]).tolist() == [[1, 1], [1, 2]]  # [[TN, FP], [FN, TP]]
    y_true, y_pred = ["cat", "dog", "dog"], ["dog", "dog", "cat"]
    assert np.array_equal(m.confusion_matrix(y_true, y_pred), skm.confusion_matrix(y_true, y_pred))
    assert np.array_equal(m.confusion_matrix(y_true, y_pred, labels=["dog", "cat"]),
                          skm.confusion_matrix(y_true, y_pred, labels=["dog", "cat"]))


@EXAMPLES
@given(label_pairs(n_classes=2))
def test_binary_precision_recall_f1(pair):
    for ours, theirs in [(m.precision, skm.precision_score), (m.recall, skm.recall_score), (m.f1_score, skm.f1_score)]:
        close(quietly(ours, *pair), quietly(theirs, *pair))


@EXAMPLES
@given(label_pairs(n_classes=5), st.sampled_from(["macro", "micro", "weighted", None]))
def test_multiclass_averages(pair, average):
    for ours, theirs in [(m.precision, skm.precision_score), (m.recall, skm.recall_score), (m.f1_score, skm.f1_score)]:
        close(quietly(ours, *pair, average=average), quietly(theirs, *pair, average=average))


def test_per_class_scores_over_given_labels_like_sklearn():
    y_true, y_pred, labels = [0, 1, 2, 0, 1], [0, 1, 1, 0, 2], [0, 1, 2, 3]  # class 3 never occurs
    for ours, theirs in [(m.precision, skm.precision_score), (m.recall, skm.recall_score), (m.f1_score, skm.f1_score)]:
        got = quietly(ours, y_true, y_pred, average=None, labels=labels)
        assert got.shape == (4,) and got[3] == 0.0
        close(got, quietly(theirs, y_true, y_pred, average=None, labels=labels))


def test_zero_division_warns_and_gives_zero_like_sklearn():
    with pytest.warns(m.UndefinedMetricWarning, match="Precision"):
        assert m.precision([1, 0], [0, 0]) == 0.0
    with pytest.warns(m.UndefinedMetricWarning, match="Recall"):
        assert m.recall([0, 0], [1, 0]) == 0.0
    with pytest.warns(m.UndefinedMetricWarning, match="F-score"):
        assert m.f1_score([0, 0], [0, 0]) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert m.f1_score([1, 0], [0, 0]) == 0.0  # F1 = 2TP/(2TP+FP+FN) = 0/1: defined, so no warning


def test_f1_is_the_harmonic_not_the_arithmetic_mean():
    y_true, y_pred = [1] * 10 + [0] * 90, [1] * 100  # finds every positive, 90 false alarms
    p, r = m.precision(y_true, y_pred), m.recall(y_true, y_pred)
    assert (p, r) == (0.1, 1.0)
    close(m.f1_score(y_true, y_pred), 2 * p * r / (p + r))
    assert m.f1_score(y_true, y_pred) < 0.2 < (p + r) / 2


@EXAMPLES
@given(binary_scores())
def test_roc_curve_and_auc(pair):
    ours, theirs = quietly(m.roc_curve, *pair), quietly(skm.roc_curve, *pair, drop_intermediate=False)
    for a, b in zip(ours, theirs):
        close(a, b)
    close(quietly(m.roc_auc, *pair), quietly(skm.roc_auc_score, *pair))


@EXAMPLES
@given(binary_scores())
def test_precision_recall_curve_and_average_precision(pair):
    for a, b in zip(quietly(m.precision_recall_curve, *pair), quietly(skm.precision_recall_curve, *pair)):
        close(a, b)
    close(quietly(m.average_precision, *pair), quietly(skm.average_precision_score, *pair))


def test_auc_is_the_probability_a_positive_outranks_a_negative():
    rng = np.random.default_rng(0)
    y_true, y_score = rng.integers(0, 2, 300), rng.integers(0, 20, 300) / 20  # many ties
    pos, neg = y_score[y_true == 1][:, None], y_score[y_true == 0][None, :]
    close(m.roc_auc(y_true, y_score), np.mean((pos > neg) + 0.5 * (pos == neg)))


def test_one_class_roc_is_nan_with_a_warning():
    with pytest.warns(m.UndefinedMetricWarning):
        assert np.isnan(m.roc_auc([1, 1, 1], [0.2, 0.5, 0.9]))
    with pytest.warns(m.UndefinedMetricWarning, match="No positive"):
        assert np.all(np.isnan(m.roc_curve([0, 0], [0.1, 0.4])[1]))


@EXAMPLES
@given(binary_scores())
def test_binary_log_loss(pair):
    y_true, y_prob = pair  # scores on a grid in [0, 1], so 0 and 1 exactly occur: the clipping matters
    close(m.log_loss(y_true, y_prob), skm.log_loss(y_true, y_prob, labels=[0, 1]))


@EXAMPLES
@given(st.integers(1, 30), st.integers(2, 6), st.integers(0, 2**31))
def test_multiclass_log_loss(n, k, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3, size=(n, k))
    y_prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_true = rng.integers(0, k, n)
    close(m.log_loss(y_true, y_prob), skm.log_loss(y_true, y_prob, labels=list(range(k))))


@EXAMPLES
@given(regression_pairs())
def test_regression_metrics(pair):
    close(m.mean_absolute_error(*pair), skm.mean_absolute_error(*pair))
    close(m.mean_squared_error(*pair), skm.mean_squared_error(*pair))
    close(m.root_mean_squared_error(*pair), skm.root_mean_squared_error(*pair))
    close(quietly(m.r2_score, *pair), quietly(skm.r2_score, *pair))


def test_r2_special_cases():
    assert m.r2_score([2.0, 2.0], [2.0, 2.0]) == 1.0
    assert m.r2_score([2.0, 2.0], [2.0, 3.0]) == 0.0
    assert m.r2_score([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == 0.0  # predicting the mean scores 0
    with pytest.warns(m.UndefinedMetricWarning):
        assert np.isnan(m.r2_score([1.0], [2.0]))


# ---------------------------------------------------------------- cross-validation


@EXAMPLES
@given(st.integers(2, 60), st.integers(2, 10), st.integers(0, 1000))
def test_k_fold_indices_partition_like_kfold(n, k, seed):
    k = min(k, n)
    folds = m.k_fold_indices(n, k, seed)
    tests = [test for _, test in folds]
    assert sorted(np.concatenate(tests).tolist()) == list(range(n))  # each example is tested exactly once
    assert [len(t) for t in tests] == [len(t) for _, t in KFold(k).split(np.zeros(n))]
    for train, test in folds:
        assert np.array_equal(np.sort(np.r_[train, test]), np.arange(n))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, m.k_fold_indices(n, k, seed)))  # seeded


def test_cross_validate_matches_sklearn_on_the_same_folds():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(53, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=53)
    ours = m.cross_validate(LinearRegression, X, y, k=5, metric=m.r2_score, seed=3)
    theirs = cross_val_score(LinearRegression(), X, y, cv=m.k_fold_indices(53, 5, seed=3), scoring="r2")
    close(ours, theirs)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, message", [
    (lambda: m.accuracy([], []), "empty"),
    (lambda: m.accuracy([0, 1], [0, 1, 1]), "different lengths: 2 vs 3"),
    (lambda: m.accuracy([0, 1], [[0.2, 0.8], [0.6, 0.4]]), "argmax"),
    (lambda: m.accuracy([0, 1], [0.2, 0.8]), "non-integer"),
    (lambda: m.precision([0, 2], [0, 1]), "only the labels 0 and 1"),
    (lambda: m.recall([0, 1], [0, -1]), "only the labels 0 and 1"),
    (lambda: m.f1_score([0, 1], [0, 1], average="mean"), "average must be one of"),
    (lambda: m.confusion_matrix([0, 1], [0, 1], labels=[7]), "None of labels"),
    (lambda: m.confusion_matrix([0, 1], [0, 1], labels=[0, 1, 0]), "distinct class labels"),
    (lambda: m.roc_auc([0, 3], [0.1, 0.2]), "only the labels 0 and 1"),
    (lambda: m.roc_curve([0, 1], [0.1, np.nan]), "NaN"),
    (lambda: m.average_precision([0, 1, 1], [0.1, 0.2]), "different lengths"),
    (lambda: m.log_loss([0, 1], [0.5, 1.2]), r"probabilities in \[0, 1\]"),
    (lambda: m.log_loss([0, 1], [-0.1, 0.5]), r"probabilities in \[0, 1\]"),
    (lambda: m.log_loss([0, 1], [[0.5, 0.6], [0.1, 0.9]]), "sum to 1"),
    (lambda: m.log_loss([0, 2], [[0.5, 0.5], [0.1, 0.9]]), "class indices 0..1"),
    (lambda: m.mean_squared_error([1.0, 2.0], [1.0]), "different lengths"),
    (lambda: m.mean_absolute_error([], []), "empty"),
    (lambda: m.r2_score([1.0, np.inf], [1.0, 2.0]), "NaN or infinity"),
    (lambda: m.k_fold_indices(10, 1, seed=0), "k must be an integer from 2 to n=10"),
    (lambda: m.k_fold_indices(3, 4, seed=0), "k must be"),
    (lambda: m.cross_validate(LinearRegression, np.zeros((5, 1)), np.zeros(4), 2, m.r2_score), "different numbers"),
])
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
