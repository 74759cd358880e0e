"""Datasets by name: each loader returns an :class:`ImageSet` of uint8 images with integer labels.

Images are uint8 (N, H, W, C), RGB for colour, the same form a photo read from disk has; scaling to
[0, 1] happens in the input pipeline. New sources register with :func:`register_dataset`.

    images = load_dataset(DatasetConfig(name="digits"))
    images.images.shape, images.class_names     # (1797, 8, 8, 1), ['0', ..., '9']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..config import DatasetConfig
from ..errors import ConfigError


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray
    """uint8, (N, H, W, C)."""
    labels: np.ndarray
    """int, (N,), indexes into ``class_names``."""
    class_names: list[str]

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or len(self.images) != len(self.labels):
            raise ValueError(f"images must be (N, H, W, C) with one label each; got images "
                             f"{self.images.shape} and labels {self.labels.shape}")

    def subset(self, index: np.ndarray) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index], self.class_names)


DatasetLoader = Callable[[DatasetConfig], ImageSet]
DATASETS: dict[str, DatasetLoader] = {}


def register_dataset(name: str) -> Callable[[DatasetLoader], DatasetLoader]:
    def decorate(loader: DatasetLoader) -> DatasetLoader:
        DATASETS[name] = loader
        return loader
    return decorate


def load_dataset(config: DatasetConfig) -> ImageSet:
    try:
        loader = DATASETS[config.name]
    except KeyError:
        raise ConfigError(f"dataset.name: unknown dataset {config.name!r}; "
                          f"expected one of: {', '.join(sorted(DATASETS))}") from None
    return loader(config)


@register_dataset("digits")
def load_digits(config: DatasetConfig) -> ImageSet:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, works offline)."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    # Pixel intensities are 0..16; stretch them to 0..255 so the images look (and save) like photos.
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return ImageSet(images, digits.target.astype(np.int64), [str(d) for d in range(10)])
