"""The data layer's shared types: a labelled set of images and its train / validation / test split.

    data = ImageSet(images, labels, ["cats", "dogs", "panda"])    # uint8 (N, H, W, C), int (N,)
    splits = Splits(data.subset(train), data.subset(val), data.subset(test))
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray
    """uint8, (N, H, W, C), RGB for colour."""
    labels: np.ndarray
    """int, (N,), indexes into ``class_names``."""
    class_names: list[str]
    official_test: np.ndarray | None = None
    """Boolean mask of the dataset's published test split, where it has one (MNIST, CIFAR-10)."""
    skipped: tuple[str, ...] = ()
    """Files of the source folder that could not be read as images (left out of ``images``)."""
    paths: tuple[str, ...] | None = None
    """Each image's file, where it came from one (a folder data set, or its decode-once cache)."""

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or len(self.images) != len(self.labels):
            raise ValueError(f"images must be (N, H, W, C) with one label each; got images "
                             f"{self.images.shape} and labels {self.labels.shape}")

    def subset(self, index: np.ndarray) -> ImageSet:
        official = None if self.official_test is None else self.official_test[index]
        paths = None if self.paths is None else tuple(np.asarray(self.paths, dtype=object)[index])
        return replace(self, images=self.images[index], labels=self.labels[index], official_test=official,
                       paths=paths)

    def with_images(self, images: np.ndarray) -> ImageSet:
        return replace(self, images=images)

    reads_from_disk = False
    """A :class:`~dlcv.data.sources.StreamedSet` reads its batches from disk; an ImageSet holds them."""

    def batch(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels at ``positions`` (the input pipelines' one way to read any data set)."""
        return self.images[positions], self.labels[positions]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of each image, as every data set says it."""
        return tuple(self.images.shape[1:])

    @property
    def nbytes(self) -> int:
        return self.images.nbytes


@dataclass(frozen=True)
class Splits:
    train: ImageSet
    val: ImageSet
    test: ImageSet
    held_out: ImageSet | None = None
    """A k-fold run's fold (``dataset.fold``): scored once trained, never trained or validated on."""
