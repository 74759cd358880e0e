"""From a config to the data a run trains on: load, preprocess and split, the same way every time.

    prepared = prepare_data(config)
    prepared.splits.train.images.shape, prepared.class_names
    prepared.config.preprocessing          # resolved to the data's actual width, height and channels

:func:`count_split` answers "how many training images?" without decoding any image (``dlcv lr``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ExperimentConfig, PreprocessingConfig
from .folder import list_labelled_images
from .registry import load_dataset
from .split import split_dataset, split_indices
from .store import load_store_metadata
from .types import Splits


@dataclass(frozen=True)
class PreparedData:
    splits: Splits
    config: ExperimentConfig
    """The config with its preprocessing resolved to the data's actual width, height and channels."""
    skipped: tuple[str, ...] = ()
    """Source files left out because they could not be read as images."""

    @property
    def class_names(self) -> list[str]:
        return self.splits.train.class_names


def prepare_data(config: ExperimentConfig) -> PreparedData:
    """Load, preprocess and split the config's dataset (the same split for the same seed)."""
    data = load_dataset(config.dataset, config.preprocessing)
    _, height, width, channels = data.images.shape
    resolved = config.model_copy(update={"preprocessing": PreprocessingConfig(
        width=width, height=height, channels=channels, resize=config.preprocessing.resize)})
    splits = split_dataset(data, config.dataset.test_size, config.dataset.val_size, config.seed)
    return PreparedData(splits, resolved, data.skipped)


def count_split(config: ExperimentConfig) -> tuple[int, int, int]:
    """(train, validation, test) image counts, from labels alone: a folder is listed, not decoded, and a
    store's labels are read without its images. (Files that turn out unreadable would lower them.)"""
    dataset = config.dataset
    official = None
    if dataset.name == "folder":
        _, labels, _ = list_labelled_images(dataset.path)
    elif dataset.name == "hdf5":
        metadata = load_store_metadata(dataset.path)
        labels, official = metadata["labels"], metadata["official_test"]
    else:  # arrays in memory already: loading them decodes no image file
        data = load_dataset(dataset, PreprocessingConfig())
        labels, official = data.labels, data.official_test
    train, val, test = split_indices(np.asarray(labels), dataset.test_size, dataset.val_size, config.seed,
                                     official)
    return len(train), len(val), len(test)
