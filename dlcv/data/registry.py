"""Datasets by name. Each source registers its loader where it is defined, with what its config needs:

    @register_dataset("folder", needs_path=True, needs_size=True, streams=True)
    def load_folder(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> FolderSource: ...

Every loader has that one signature and returns an :class:`~dlcv.data.sources.ImageSource`: the labels
of every item, and uint8 (H, W, C) images (RGB for colour, preprocessed) read on demand. The specs are
what :func:`dlcv.checks.check_config` reads to refuse a config before any data is touched (a folder
without a path or a size, an official split where there is none, streaming what cannot stream).

    source = get_dataset("mnist").load(DatasetConfig(name="mnist"), PreprocessingConfig())
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..config import DatasetConfig, PreprocessingConfig
from ..errors import ConfigError
from .sources import ImageSource
from .types import ImageSet

DatasetLoader = Callable[[DatasetConfig, PreprocessingConfig], ImageSource]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    load: DatasetLoader
    needs_path: bool = False
    """``dataset.path`` is required (a folder or a store)."""
    needs_size: bool = False
    """``preprocessing.width`` / ``height`` is required (photos differ in size)."""
    official_split: bool = False
    """The dataset publishes its own test split (``dataset.test_size: official``)."""
    streams: bool = False
    """Its images can be read from disk batch by batch (``dataset.streaming``)."""
    own_keys: tuple[str, ...] = ()
    """``dataset`` keys that apply to this dataset alone (a label table's ``columns``): set for another
    dataset, they are refused."""

    @property
    def summary(self) -> str:
        return (self.load.__doc__ or "").strip().splitlines()[0] if self.load.__doc__ else ""


DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(name: str, *, needs_path: bool = False, needs_size: bool = False,
                     official_split: bool = False, streams: bool = False,
                     own_keys: tuple[str, ...] = ()) -> Callable[[DatasetLoader], DatasetLoader]:
    """Register a loader under ``name`` (a second registration of a name is a bug)."""
    def decorate(load: DatasetLoader) -> DatasetLoader:
        if name in DATASETS:
            raise ValueError(f"dataset {name!r} is registered twice")
        DATASETS[name] = DatasetSpec(name, load, needs_path, needs_size, official_split, streams, own_keys)
        return load
    return decorate


def foreign_keys(dataset: DatasetConfig) -> list[tuple[str, str]]:
    """(key, the dataset it applies to) of each ``dataset`` key set that belongs to another dataset."""
    defaults = type(dataset).model_fields
    return [(key, spec.name) for spec in DATASETS.values() if spec.name != dataset.name for key in spec.own_keys
            if getattr(dataset, key) != defaults[key].default]


def get_dataset(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(f"dataset.name: unknown dataset {name!r}; "
                          f"expected one of: {', '.join(sorted(DATASETS))}") from None


def load_dataset(dataset: DatasetConfig, preprocessing: PreprocessingConfig | None = None) -> ImageSet:
    """The whole named dataset in memory, preprocessed as ``preprocessing`` says (default: as stored)."""
    source = get_dataset(dataset.name).load(dataset, preprocessing or PreprocessingConfig())
    return replace(source.load(np.arange(len(source))), skipped=source.skipped)
