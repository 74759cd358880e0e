"""The small datasets of the from-scratch chapters.

    X, y = bitwise("xor")        # 4 points, labels (4,)
    X, y = book_blobs()          # 1,000 points, 2 features, 2 classes (the book's make_blobs call)
"""
from __future__ import annotations

import numpy as np

_BITWISE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
_BITWISE_LABELS = {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "xor": [0, 1, 1, 0]}


def bitwise(name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        labels = _BITWISE_LABELS[name]
    except KeyError:
        raise ValueError(f"dataset must be one of {', '.join(_BITWISE_LABELS)}, got {name!r}") from None
    return _BITWISE_INPUTS.copy(), np.array(labels, dtype=np.int64)


def book_blobs(n_samples: int = 1000, random_state: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs in 2-D: ``make_blobs(1000, 2 features, 2 centres, std 1.5, seed 1)``."""
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=n_samples, n_features=2, centers=2, cluster_std=1.5,
                      random_state=random_state)
