"""Datasets by name: each loader returns an :class:`ImageSet` of uint8 images with integer labels.

Images are uint8 (N, H, W, C), RGB for colour, the same form a photo read from disk has; scaling to
[0, 1] happens in the input pipeline. New sources register with :func:`register_dataset`.

    images = load_dataset(DatasetConfig(name="digits"))
    images.images.shape, images.class_names     # (1797, 8, 8, 1), ['0', ..., '9']
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..config import DatasetConfig, PreprocessingConfig
from ..errors import ConfigError


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray
    """uint8, (N, H, W, C)."""
    labels: np.ndarray
    """int, (N,), indexes into ``class_names``."""
    class_names: list[str]
    official_test: np.ndarray | None = None
    """Boolean mask of the dataset's published test split, where it has one (MNIST, CIFAR-10)."""
    skipped: tuple[str, ...] = ()
    """Files of the source folder that could not be read as images (left out of ``images``)."""

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or len(self.images) != len(self.labels):
            raise ValueError(f"images must be (N, H, W, C) with one label each; got images "
                             f"{self.images.shape} and labels {self.labels.shape}")

    def subset(self, index: np.ndarray) -> "ImageSet":
        official = None if self.official_test is None else self.official_test[index]
        return replace(self, images=self.images[index], labels=self.labels[index], official_test=official)

    def with_images(self, images: np.ndarray) -> "ImageSet":
        return replace(self, images=images)


DatasetLoader = Callable[[DatasetConfig, PreprocessingConfig], ImageSet]
"""Returns the dataset with the preprocessing applied (folders must resize while decoding)."""
DATASETS: dict[str, DatasetLoader] = {}


def register_dataset(name: str) -> Callable[[DatasetLoader], DatasetLoader]:
    def decorate(loader: DatasetLoader) -> DatasetLoader:
        DATASETS[name] = loader
        return loader
    return decorate


def load_dataset(config: DatasetConfig, preprocessing: PreprocessingConfig = PreprocessingConfig()) -> ImageSet:
    """The named dataset, preprocessed as ``preprocessing`` says."""
    try:
        loader = DATASETS[config.name]
    except KeyError:
        raise ConfigError(f"dataset.name: unknown dataset {config.name!r}; "
                          f"expected one of: {', '.join(sorted(DATASETS))}") from None
    if config.test_size == "official" and config.name not in OFFICIAL_SPLITS:
        raise ConfigError(f"dataset.test_size: {config.name!r} has no official test split; "
                          "expected a fraction such as 0.25")
    return loader(config, preprocessing)


OFFICIAL_SPLITS = {"mnist", "cifar10"}


def _in_memory(load: Callable[[str | None], ImageSet]) -> DatasetLoader:
    """Adapt a loader of raw arrays: preprocess them after loading."""
    def loader(config: DatasetConfig, preprocessing: PreprocessingConfig) -> ImageSet:
        from ..preprocessing import preprocess_images

        data = load(config.path)
        return data.with_images(preprocess_images(data.images, preprocessing))
    loader.__doc__ = load.__doc__
    return loader


def _digits(path: str | None) -> ImageSet:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, works offline)."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    # Pixel intensities are 0..16; stretch them to 0..255 so the images look (and save) like photos.
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return ImageSet(images, digits.target.astype(np.int64), [str(d) for d in range(10)])


def _folder(config: DatasetConfig, preprocessing: PreprocessingConfig) -> ImageSet:
    """A folder of ``<class>/<image>`` files, decoded in parallel; unreadable files are skipped."""
    from ..preprocessing import preprocessors_for
    from .folder import list_labelled_images
    from .loader import SimpleDatasetLoader, SkippedImagesWarning

    if config.path is None:
        raise ConfigError("dataset.path: required for dataset 'folder'; expected a folder of class folders")
    if preprocessing.width is None and preprocessing.height is None:
        raise ConfigError("preprocessing.width: required for dataset 'folder' (photos differ in size); "
                          "expected e.g. width: 32, height: 32")
    paths, _, class_names = list_labelled_images(config.path)
    loader = SimpleDatasetLoader(preprocessors_for(preprocessing), channels=preprocessing.channels or 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedImagesWarning)  # returned in ImageSet.skipped instead
        images, names = loader.load(paths)
    index = {name: i for i, name in enumerate(class_names)}
    return ImageSet(images, np.array([index[n] for n in names], dtype=np.int64), class_names,
                    skipped=tuple(loader.skipped))


def _hdf5(config: DatasetConfig, preprocessing: PreprocessingConfig) -> ImageSet:
    """An HDF5 store written by ``dlcv data build`` (already preprocessed)."""
    from .store import load_store

    if config.path is None:
        raise ConfigError("dataset.path: required for dataset 'hdf5'; expected a store from dlcv data build")
    return load_store(config.path, expect=preprocessing)


def _builtin(name: str) -> Callable[[str | None], ImageSet]:
    def load(path: str | None) -> ImageSet:
        from . import builtin

        return getattr(builtin, f"load_{name}")(path)
    return load


DATASETS.update({
    "digits": _in_memory(_digits),
    "mnist": _in_memory(_builtin("mnist")),
    "cifar10": _in_memory(_builtin("cifar10")),
    "folder": _folder,
    "hdf5": _hdf5,
})
