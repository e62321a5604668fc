"""Evaluation metrics written from their definitions in NumPy, matching scikit-learn (chapter 06).

Classification: ``confusion_matrix``, ``accuracy``, ``precision``, ``recall``, ``f1_score`` (``average`` =
"binary" | "macro" | "micro" | "weighted" | None), ``roc_curve``, ``roc_auc``, ``precision_recall_curve``,
``average_precision``, ``log_loss``. Regression: ``mean_absolute_error``, ``mean_squared_error``,
``root_mean_squared_error``, ``r2_score``. Validation: ``k_fold_indices``, ``cross_validate``.

Conventions (the same as scikit-learn's defaults, except where a docstring says otherwise):

* Labels are 1-D. Binary metrics (``average="binary"`` and every score-based curve) need labels 0/1, the
  positive class being 1; other labels raise ``ValueError`` (scikit-learn would also accept e.g. {1, 2}).
* A ratio whose denominator is zero (precision with no predicted positives, recall with no true positives,
  F1 with neither) is set to 0.0 with an :class:`UndefinedMetricWarning`, like scikit-learn's
  ``zero_division="warn"``. ROC curves and AUC with one class present give NaN with a warning.
* Bad input (empty arrays, mismatched lengths, wrong labels, probabilities outside [0, 1]) raises
  ``ValueError`` naming the problem.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from .exercises import exercise

AVERAGES = ("binary", "macro", "micro", "weighted", None)


class UndefinedMetricWarning(UserWarning):
    """A metric had a zero denominator and was set to 0.0 (or NaN), as scikit-learn does."""


# ---------------------------------------------------------------- input checks


def _as_1d(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D with one entry per example, got shape {arr.shape}"
                         + (" (class probabilities? take .argmax(axis=1) first)." if arr.ndim == 2 else "."))
    if arr.size == 0:
        raise ValueError(f"{name} is empty; a metric needs at least one example.")
    return arr


def _pair(y_true: Any, y_other: Any, other_name: str) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_other = _as_1d(y_true, "y_true"), _as_1d(y_other, other_name)
    if len(y_true) != len(y_other):
        raise ValueError(f"y_true and {other_name} have different lengths: {len(y_true)} vs {len(y_other)}.")
    return y_true, y_other


def _check_labels(y: np.ndarray, name: str) -> None:
    """Class labels may be ints or strings, not continuous numbers (probabilities or scores)."""
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise ValueError(f"{name} holds non-integer numbers such as {y[y != np.round(y)][:1]}; class labels are "
                         "expected. Threshold probabilities (p >= 0.5) or take argmax first.")


def _check_binary(y: np.ndarray, name: str) -> np.ndarray:
    if y.dtype.kind not in "biuf" or not np.all(np.isin(y, (0, 1))):
        found = np.unique(y)[:5]
        raise ValueError(f"{name} must contain only the labels 0 and 1 (1 = positive class), found {found}. "
                         "Map your classes to 0/1 first, e.g. (y == positive_label).astype(int), "
                         "or use average='macro'/'micro'/'weighted' for more than two classes.")
    return y.astype(int)


def _check_finite(x: np.ndarray, name: str) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}.")
    x = x.astype(float)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinity; metrics need finite numbers.")
    return x


def _check_probabilities(p: np.ndarray, name: str) -> np.ndarray:
    p = _check_finite(p, name)
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"{name} must be probabilities in [0, 1], found values from {p.min():.4g} to {p.max():.4g}."
                         " Pass probabilities (e.g. after sigmoid/softmax), not raw scores or logits.")
    return p


def _divide(numerator: np.ndarray, denominator: np.ndarray, what: str, reason: str) -> np.ndarray:
    """numerator / denominator, with 0.0 and a warning where the denominator is 0 (scikit-learn's rule)."""
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    zero = denominator == 0
    if np.any(zero):
        warnings.warn(f"{what} is ill-defined and being set to 0.0 due to {reason}.", UndefinedMetricWarning,
                      stacklevel=3)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=~zero)


# ---------------------------------------------------------------- classification from labels


def confusion_matrix(y_true: Any, y_pred: Any, labels: Any = None) -> np.ndarray:
    """Counts ``C[i, j]`` of examples whose true class is ``labels[i]`` and predicted class is ``labels[j]``.

    Rows are the truth, columns the prediction. ``labels`` (default: every label seen, sorted) fixes the order;
    examples with a label outside ``labels`` are left out. For 0/1 labels: ``[[TN, FP], [FN, TP]]``.
    """
    y_true, y_pred = _pair(y_true, y_pred, "y_pred")
    _check_labels(y_true, "y_true")
    _check_labels(y_pred, "y_pred")
    if labels is None:
        labels = np.union1d(y_true, y_pred)
    else:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.size == 0 or len(np.unique(labels)) != len(labels):
            raise ValueError(f"labels must be a non-empty 1-D list of distinct class labels, got {labels!r}.")
        if not np.any(np.isin(y_true, labels)):
            raise ValueError(f"None of labels {labels[:5]} occurs in y_true; check the label values.")
    kept = np.isin(y_true, labels) & np.isin(y_pred, labels)
    sorter = np.argsort(labels)  # position of each value in ``labels``, for any label order
    rows = sorter[np.searchsorted(labels, y_true[kept], sorter=sorter)]
    cols = sorter[np.searchsorted(labels, y_pred[kept], sorter=sorter)]
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(matrix, (rows, cols), 1)
    return matrix


def accuracy(y_true: Any, y_pred: Any) -> float:
    """The share of predictions equal to the truth: the trace of the confusion matrix over its sum."""
    y_true, y_pred = _pair(y_true, y_pred, "y_pred")
    _check_labels(y_true, "y_true")
    _check_labels(y_pred, "y_pred")
    return float(np.mean(y_true == y_pred))


def _class_counts(y_true: Any, y_pred: Any, average: str | None,
                  labels: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class true positives, false positives and false negatives, over ``labels`` as in
    :func:`confusion_matrix`; for "binary" only class 1."""
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}.")
    y_true, y_pred = _pair(y_true, y_pred, "y_pred")
    if average == "binary":
        y_true, y_pred = _check_binary(y_true, "y_true"), _check_binary(y_pred, "y_pred")
        tp = np.array([np.sum((y_true == 1) & (y_pred == 1))])
        fp = np.array([np.sum((y_true == 0) & (y_pred == 1))])
        fn = np.array([np.sum((y_true == 1) & (y_pred == 0))])
        return tp, fp, fn
    cm = confusion_matrix(y_true, y_pred, labels)
    tp = np.diag(cm)
    return tp, cm.sum(axis=0) - tp, cm.sum(axis=1) - tp


def _average(per_class: np.ndarray, support: np.ndarray, average: str | None) -> float | np.ndarray:
    if average is None:
        return per_class
    if average == "weighted":
        return float(np.average(per_class, weights=support))
    return float(np.mean(per_class))  # "macro", or "binary" (a single class)


def precision(y_true: Any, y_pred: Any, average: str | None = "binary", labels: Any = None) -> float | np.ndarray:
    """TP / (TP + FP): of the examples predicted positive, the share that are positive (精确率)."""
    tp, fp, fn = _class_counts(y_true, y_pred, average, labels)
    if average == "micro":
        tp, fp = tp.sum(keepdims=True), fp.sum(keepdims=True)
    return _average(_divide(tp, tp + fp, "Precision", "no predicted samples"), tp + fn, average)


def recall(y_true: Any, y_pred: Any, average: str | None = "binary", labels: Any = None) -> float | np.ndarray:
    """TP / (TP + FN): of the truly positive examples, the share the model finds (召回率)."""
    tp, fp, fn = _class_counts(y_true, y_pred, average, labels)
    if average == "micro":
        tp, fn = tp.sum(keepdims=True), fn.sum(keepdims=True)
    return _average(_divide(tp, tp + fn, "Recall", "no true samples"), tp + fn, average)


def f1_score(y_true: Any, y_pred: Any, average: str | None = "binary", labels: Any = None) -> float | np.ndarray:
    """The harmonic mean of precision and recall, 2PR / (P + R) = 2TP / (2TP + FP + FN).

    The count form is used, so F1 is 0.0 with a warning only when TP + FP + FN = 0 (scikit-learn >= 1.3).
    """
    tp, fp, fn = _class_counts(y_true, y_pred, average, labels)
    support = tp + fn
    if average == "micro":
        tp, fp, fn = tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
    return _average(_divide(2 * tp, 2 * tp + fp + fn, "F-score", "no true nor predicted samples"), support, average)


# ---------------------------------------------------------------- classification from scores


def _scores(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_score = _pair(y_true, y_score, "y_score")
    return _check_binary(y_true, "y_true"), _check_finite(y_score, "y_score")


def _counts_at_thresholds(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each distinct score, highest first: FP and TP counts when predicting positive for score >= it."""
    order = np.argsort(-y_score)  # ties: only the counts at the end of each tie group are kept
    y_true, y_score = y_true[order], y_score[order]
    last_of_each_value = np.r_[np.flatnonzero(np.diff(y_score)), len(y_score) - 1]
    tps = np.cumsum(y_true)[last_of_each_value]
    fps = last_of_each_value + 1 - tps
    return fps, tps, y_score[last_of_each_value]


def roc_curve(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rate, true-positive rate and thresholds, one point per distinct score (ROC 曲线).

    Point i predicts "positive" for ``y_score >= thresholds[i]``; ``thresholds[0] = inf`` gives the (0, 0)
    start. Equal to ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``. With one class in ``y_true``
    the undefined rate is NaN, with a warning.
    """
    fps, tps, thresholds = _counts_at_thresholds(*_scores(y_true, y_score))
    fps, tps, thresholds = np.r_[0, fps], np.r_[0, tps], np.r_[np.inf, thresholds]
    rates = []
    for counts, kind in ((fps, "negative"), (tps, "positive")):
        if counts[-1] == 0:
            warnings.warn(f"No {kind} samples in y_true; that rate is undefined (NaN).", UndefinedMetricWarning,
                          stacklevel=2)
            rates.append(np.full(counts.shape, np.nan))
        else:
            rates.append(counts / counts[-1])
    return rates[0], rates[1], thresholds


def roc_auc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve (trapezoid rule): the chance that a random positive scores above a random
    negative, ties counting half. NaN with a warning when ``y_true`` has only one class."""
    y_true, y_score = _scores(y_true, y_score)
    if len(np.unique(y_true)) < 2:
        warnings.warn("Only one class is present in y_true; ROC AUC is not defined (NaN).", UndefinedMetricWarning,
                      stacklevel=2)
        return float("nan")
    fpr, tpr, _ = roc_curve(y_true, y_score)
    return float(np.trapezoid(tpr, fpr))


def precision_recall_curve(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and increasing thresholds, as ``sklearn.metrics.precision_recall_curve``.

    ``precision[i]``, ``recall[i]`` predict positive for ``y_score >= thresholds[i]``; a last point (1, 0)
    with no threshold is appended. Precision with no predicted positives is 0; with no positives in
    ``y_true`` recall is set to 1 everywhere, with a warning (scikit-learn's choice).
    """
    fps, tps, thresholds = _counts_at_thresholds(*_scores(y_true, y_score))
    predicted = tps + fps
    prec = np.divide(tps, predicted, out=np.zeros(tps.shape), where=predicted != 0)
    if tps[-1] == 0:
        warnings.warn("No positive class found in y_true, recall is set to one for all thresholds.",
                      UndefinedMetricWarning, stacklevel=2)
        rec = np.ones(tps.shape)
    else:
        rec = tps / tps[-1]
    return np.r_[prec[::-1], 1.0], np.r_[rec[::-1], 0.0], thresholds[::-1]


def average_precision(y_true: Any, y_score: Any) -> float:
    """Sum over thresholds of (recall gained) × (precision there): the step-wise area under the PR curve,
    as ``sklearn.metrics.average_precision_score`` (no interpolation)."""
    prec, rec, _ = precision_recall_curve(y_true, y_score)
    return float(-np.sum(np.diff(rec) * prec[:-1]))


def log_loss(y_true: Any, y_prob: Any) -> float:
    """Mean cross-entropy (交叉熵), -mean(log p(true class)), natural log.

    Binary: ``y_prob`` 1-D, the probability of class 1, and 0/1 labels. Multi-class: ``y_prob`` of shape
    (n, k) whose rows sum to 1, and labels 0..k-1. Probabilities are clipped to [eps, 1 - eps] (float64 eps)
    as scikit-learn does, so a confident mistake costs about 36, not infinity. Unlike scikit-learn, rows not
    summing to 1 raise ``ValueError`` and a single class present is fine.
    """
    y_prob = np.asarray(y_prob)
    y_true = _as_1d(y_true, "y_true")
    if y_prob.ndim == 1:
        y_true, y_prob = _pair(y_true, y_prob, "y_prob")
        y_true, y_prob = _check_binary(y_true, "y_true"), _check_probabilities(y_prob, "y_prob")
        p_true = np.where(y_true == 1, y_prob, 1.0 - y_prob)
    elif y_prob.ndim == 2:
        if len(y_prob) != len(y_true):
            raise ValueError(f"y_true and y_prob have different lengths: {len(y_true)} vs {len(y_prob)}.")
        y_prob = _check_probabilities(y_prob, "y_prob")
        if not np.allclose(y_prob.sum(axis=1), 1.0, rtol=0, atol=1e-4):
            raise ValueError("Each row of y_prob must sum to 1 (one probability per class); apply softmax first.")
        k = y_prob.shape[1]
        _check_labels(y_true, "y_true")
        if y_true.dtype.kind not in "iuf" or y_true.min() < 0 or y_true.max() >= k:
            raise ValueError(f"y_true must hold class indices 0..{k - 1} for a y_prob with {k} columns, "
                             f"found {np.unique(y_true)[:5]}.")
        p_true = y_prob[np.arange(len(y_true)), y_true.astype(int)]
    else:
        raise ValueError(f"y_prob must be 1-D (binary) or 2-D (n, classes), got shape {y_prob.shape}.")
    eps = np.finfo(float).eps
    return float(-np.mean(np.log(np.clip(p_true, eps, 1 - eps))))


# ---------------------------------------------------------------- regression


def _regression_pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = _pair(y_true, y_pred, "y_pred")
    return _check_finite(y_true, "y_true"), _check_finite(y_pred, "y_pred")


def mean_absolute_error(y_true: Any, y_pred: Any) -> float:
    """MAE = mean(|y - y_hat|), in the target's units; robust to a few large errors."""
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """MSE = mean((y - y_hat)²) (均方误差), in squared units; large errors dominate."""
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return float(np.mean((y_true - y_pred) ** 2))


def root_mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """RMSE = sqrt(MSE), back in the target's units; always >= MAE."""
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


def r2_score(y_true: Any, y_pred: Any) -> float:
    """R² = 1 - SS_res / SS_tot: the share of the variance around the mean that the model explains.

    1 is perfect, 0 is "always predict the mean", negative is worse than that. As scikit-learn: a constant
    ``y_true`` gives 1.0 for a perfect fit and 0.0 otherwise; fewer than two examples give NaN with a warning.
    """
    y_true, y_pred = _regression_pair(y_true, y_pred)
    if len(y_true) < 2:
        warnings.warn("R² is not well-defined with fewer than two samples (NaN).", UndefinedMetricWarning,
                      stacklevel=2)
        return float("nan")
    ss_res = np.sum((y_true - y_pred) ** 2)
    ss_tot = np.sum((y_true - np.average(y_true)) ** 2)
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return float(1.0 - ss_res / ss_tot)


# ---------------------------------------------------------------- cross-validation


def k_fold_indices(n: int, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, test) index pairs: shuffle 0..n-1 with ``seed``, cut into ``k`` folds (the first
    ``n % k`` one longer, as ``sklearn.model_selection.KFold``); each fold is the test set once."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer number of examples >= 2, got {n!r}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= n:
        raise ValueError(f"k must be an integer from 2 to n={n} folds, got {k!r}.")
    order = np.random.default_rng(seed).permutation(n)
    folds = np.array_split(order, k)
    return [(np.sort(np.concatenate(folds[:i] + folds[i + 1:])), np.sort(test)) for i, test in enumerate(folds)]


def cross_validate(make_model: Callable[[], Any], X: Any, y: Any, k: int,
                   metric: Callable[[np.ndarray, np.ndarray], float], seed: int = 0) -> np.ndarray:
    """k-fold cross-validation: for each fold, ``model = make_model()``, ``model.fit`` on the other folds,
    ``metric(y_test, model.predict(X_test))``. Returns the ``k`` scores (report their mean AND spread)."""
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y have different numbers of examples: {len(X)} vs {len(y)}.")
    scores = []
    for train, test in k_fold_indices(len(X), k, seed):
        model = make_model()
        model.fit(X[train], y[train])
        scores.append(float(metric(y[test], model.predict(X[test]))))
    return np.array(scores)


# ---------------------------------------------------------------- chapter 06's exercises

exercise("06_evaluation_metrics.confusion_from_description", [[155, 5], [10, 30]], rtol=0,
         hint="Rows are the truth, columns the prediction: [[TN, FP], [FN, TP]]. Start with TP; then "
              "FP = flagged - TP, FN = spam - TP, and TN is what is left of the 200 emails.")
exercise("06_evaluation_metrics.precision_recall_f1", (30 / 35, 30 / 40, 0.8),
         hint="precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2PR / (P + R) = 2TP / (2TP + FP + FN).")
exercise("06_evaluation_metrics.cost_threshold", 0.4, rtol=1e-6,
         hint="For each candidate t: FN = positives with score < t, FP = negatives with score >= t, "
              "cost = 5·FN + 1·FP. Answer the t with the lowest cost.")
