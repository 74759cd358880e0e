"""The linear scoring function f(x) = W x + b, and the bias trick that folds b into W (ch. 8).

    X1 = add_bias_column(X)              # (N, D) -> (N, D + 1), last column all ones
    W1 = fold_bias(W, b)                 # (K, D), (K,) -> (K, D + 1)
    np.allclose(linear_scores(W, b, X), X1 @ W1.T)
"""
from __future__ import annotations

import numpy as np

from ._checks import ArgumentError, as_matrix


def add_bias_column(X) -> np.ndarray:
    X = as_matrix("X", X)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def fold_bias(W, b) -> np.ndarray:
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if W.ndim != 2 or b.shape != (W.shape[0],):
        raise ArgumentError(f"W must be (classes, features) and b (classes,); got W {W.shape}, b {b.shape}")
    return np.hstack([W, b[:, None]])


def linear_scores(W, b, X) -> np.ndarray:
    """Class scores, one row per sample: X W^T + b."""
    X = as_matrix("X", X)
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] != X.shape[1]:
        raise ArgumentError(f"W must be (classes, {X.shape[1]}), got {W.shape}")
    return X @ W.T + np.asarray(b, dtype=np.float64)
