"""Stratified, seeded train / validation / test split (scikit-learn's ``train_test_split``, twice).

    train, val, test = split_indices(labels, test_size=0.25, val_size=0.1, seed=42)   # row indexes
    # same labels, same seed -> same split, every time
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from ..errors import ConfigError


def split_indices(labels: np.ndarray, test_size: float | str, val_size: float, seed: int,
                  official_test: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test indexes; ``test_size="official"`` uses the ``official_test`` mask."""
    index = np.arange(len(labels))
    if test_size == "official":
        if official_test is None:
            raise ConfigError("dataset.test_size: 'official' needs a dataset with an official test split "
                              "(mnist, cifar10, or a store built from one); expected a fraction such as 0.25")
        rest, test = index[~official_test], index[official_test]
    else:
        rest, test = _stratified(index, labels, test_size, seed, "dataset.test_size")
    train, val = _stratified(rest, labels[rest], val_size, seed, "dataset.val_size")
    return train, val, test


def _stratified(index: np.ndarray, labels: np.ndarray, size: float, seed: int,
                key: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        return train_test_split(index, test_size=size, stratify=labels, random_state=seed)
    except ValueError as exc:  # scikit-learn says exactly which count is too small; keep its words
        raise ConfigError(f"{key}={size}: cannot split {len(index)} images of {len(np.unique(labels))} "
                          f"classes with every class in both parts (scikit-learn, calling the held-out part "
                          f"test_size: {exc}); use more images per class or a larger fraction") from None
