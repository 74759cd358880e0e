"""Stratified, seeded train / validation / test split (scikit-learn's ``train_test_split``, twice).

    splits = split_dataset(images, test_size=0.25, val_size=0.1, seed=42)
    splits.train, splits.val, splits.test     # ImageSets; same seed -> same split, every time
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from .datasets import ImageSet


@dataclass(frozen=True)
class Splits:
    train: ImageSet
    val: ImageSet
    test: ImageSet


def split_dataset(data: ImageSet, test_size: float, val_size: float, seed: int) -> Splits:
    index = np.arange(len(data.labels))
    rest, test = train_test_split(index, test_size=test_size, stratify=data.labels, random_state=seed)
    train, val = train_test_split(rest, test_size=val_size, stratify=data.labels[rest], random_state=seed)
    return Splits(data.subset(train), data.subset(val), data.subset(test))
