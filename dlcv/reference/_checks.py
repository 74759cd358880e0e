"""Argument checks shared by the reference algorithms: fail early, naming the argument.

Every refusal is an :class:`ArgumentError` (a ``ValueError``), the one exception type the from-scratch
scripts report as a user error; any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import numpy as np


class ArgumentError(ValueError):
    """A reference algorithm was given an argument it cannot use (the message names it)."""


class NotFittedError(ArgumentError):
    """``predict`` (or a learned attribute) was asked for before ``fit``."""


def check_fitted(model, attribute: str = "weights_") -> None:
    if getattr(model, attribute, None) is None:
        raise NotFittedError(f"this {type(model).__name__} is not fitted yet: call fit(X, y) first")


def as_matrix(name: str, X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ArgumentError(f"{name} must be a non-empty 2-D array (samples, features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ArgumentError(f"{name} contains NaN or infinite values")
    return X


def as_targets(name: str, y, samples: int) -> np.ndarray:
    """Targets as a column (N, 1) or matrix (N, K); a 1-D array becomes a column."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != samples:
        raise ArgumentError(f"{name} must have one row per sample ({samples}), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ArgumentError(f"{name} contains NaN or infinite values")
    return y


def as_labels(name: str, labels, samples: int, classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (samples,) or not np.issubdtype(labels.dtype, np.integer):
        raise ArgumentError(f"{name} must be {samples} integer class indexes, got {labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() >= classes:
        raise ArgumentError(f"{name} must lie in [0, {classes - 1}]")
    return labels


def positive(name: str, value: float) -> float:
    if not np.isfinite(value) or value <= 0:
        raise ArgumentError(f"{name} must be > 0, got {value}")
    return value


def positive_int(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ArgumentError(f"{name} must be an integer >= 1, got {value}")
    return int(value)
