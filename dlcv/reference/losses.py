"""Classification losses on raw class scores, each with its analytic gradient (ch. 8).

Every function returns a :class:`Loss`: the loss of each sample, their mean, and the gradient of that
mean with respect to the scores (which a linear model back-propagates as ``X.T @ gradient``).

    >>> scores = np.array([[4.26, 1.33, -1.01], [3.76, -1.20, -3.81], [-2.37, 1.03, -2.27]])
    >>> multiclass_hinge(scores, np.array([0, 1, 2])).per_sample.round(2).tolist()   # the book's example
    [0.0, 5.96, 5.2]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_labels, as_matrix


@dataclass(frozen=True)
class Loss:
    per_sample: np.ndarray
    gradient: np.ndarray
    """d(mean loss) / d(scores), same shape as the scores."""

    @property
    def value(self) -> float:
        return float(self.per_sample.mean())


def multiclass_hinge(scores, labels, delta: float = 1.0, squared: bool = False) -> Loss:
    """SVM loss: sum over wrong classes j of max(0, s_j - s_true + delta) (squared if ``squared``)."""
    scores = as_matrix("scores", scores)
    n, classes = scores.shape
    labels = as_labels("labels", labels, n, classes)
    rows = np.arange(n)
    margins = np.maximum(0.0, scores - scores[rows, labels][:, None] + delta)
    margins[rows, labels] = 0.0
    terms = margins ** 2 if squared else margins
    # d/ds_j = (2 * margin_j if squared else 1[margin_j > 0]) for j != true; the true class gets minus the sum
    slopes = 2.0 * margins if squared else (margins > 0).astype(np.float64)
    gradient = slopes.copy()
    gradient[rows, labels] = -slopes.sum(axis=1)
    return Loss(terms.sum(axis=1), gradient / n)


def softmax(scores) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so large scores cannot overflow."""
    scores = as_matrix("scores", scores)
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def softmax_cross_entropy(scores, labels) -> Loss:
    """Cross-entropy of the softmax probabilities: -log p_true (natural log)."""
    scores = as_matrix("scores", scores)
    n, classes = scores.shape
    labels = as_labels("labels", labels, n, classes)
    probabilities = softmax(scores)
    rows = np.arange(n)
    gradient = probabilities.copy()
    gradient[rows, labels] -= 1.0
    return Loss(-np.log(probabilities[rows, labels]), gradient / n)
