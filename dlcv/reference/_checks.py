"""Argument checks shared by the reference algorithms: fail early, naming the argument."""
from __future__ import annotations

import numpy as np


def as_matrix(name: str, X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (samples, features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def as_targets(name: str, y, samples: int) -> np.ndarray:
    """Targets as a column (N, 1) or matrix (N, K); a 1-D array becomes a column."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != samples:
        raise ValueError(f"{name} must have one row per sample ({samples}), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return y


def as_labels(name: str, labels, samples: int, classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (samples,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must be {samples} integer class indexes, got {labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"{name} must lie in [0, {classes - 1}]")
    return labels


def positive(name: str, value: float) -> float:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def positive_int(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value}")
    return int(value)
