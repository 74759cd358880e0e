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


PATCH_COLOURS = ((220, 40, 40), (40, 200, 60), (50, 80, 230))
"""The patch's colour of each class of :func:`patch_task` (RGB): red, green, blue."""


def patch_task(count: int, size: int = 32, classes: int = 3, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where a model looks, tested: ``count`` RGB images (uint8, ``size`` x ``size``) of grey clutter, each with
    one square patch (a quarter of the side) whose colour alone decides the class, at a random place.
    Returns (images, labels, boxes): each box ``(x0, y0, x1, y1)``, the patch's pixels ``[x0, x1) x [y0, y1)``.

    >>> images, labels, boxes = patch_task(4, size=32)
    >>> images.shape, labels.tolist(), boxes[0].tolist()
    ((4, 32, 32, 3), [2, 1, 1, 0], [22, 15, 30, 23])
    """
    if not 1 <= classes <= len(PATCH_COLOURS):
        raise ValueError(f"classes {classes}: expected 1 to {len(PATCH_COLOURS)}")
    rng = np.random.default_rng(seed)
    side = max(2, size // 4)
    labels = rng.integers(0, classes, count)
    images = np.empty((count, size, size, 3), np.uint8)
    boxes = np.empty((count, 4), np.int64)
    for i in range(count):
        grey = rng.normal(128, 18, (size // 4 + 1, size // 4 + 1))  # low-frequency clutter, no colour
        image = np.repeat(np.repeat(grey, 4, axis=0), 4, axis=1)[:size, :size]
        for _ in range(3):  # grey squares like the patch in all but colour
            x, y = rng.integers(0, size - side, 2)
            image[y:y + side, x:x + side] = rng.uniform(40, 220)
        image = np.repeat(image[..., None], 3, axis=2) + rng.normal(0, 6, (size, size, 3))
        x, y = rng.integers(0, size - side, 2)
        image[y:y + side, x:x + side] = np.asarray(PATCH_COLOURS[labels[i]]) + rng.normal(0, 6, (side, side, 3))
        images[i] = np.clip(image, 0, 255).astype(np.uint8)
        boxes[i] = (x, y, x + side, y + side)
    return images, labels, boxes
