"""From a config to the data a run trains on: list, (cache,) split, then hold in memory or stream.

The split is made on the listing — labels only, before any image is decoded — so it is the same split
whether the images are then held in memory or read from disk batch by batch (``dataset.streaming``).

    prepared = prepare_data(config)
    prepared.splits.train             # an ImageSet in memory, or a StreamedSet read while training
    prepared.config.preprocessing     # resolved to the data's actual width, height and channels

:func:`count_split` answers "how many training images?" without decoding any image (``dlcv lr``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import ExperimentConfig, PreprocessingConfig
from ..task import resolve_task
from .cache import cached
from .memory import check_batch_fits, check_fits, memory_budget
from .registry import get_dataset
from .sources import FolderSource, ImageSource, StreamedSet
from .split import fold_rows, split_source
from .types import Splits

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class PreparedData:
    splits: Splits
    config: ExperimentConfig
    """The config with its preprocessing resolved to the data's actual width, height and channels."""
    source: ImageSource
    streamed: bool = False
    held_out_rows: np.ndarray | None = None
    """A k-fold run's fold: the source rows it holds out (``splits.held_out``'s images)."""

    @property
    def class_names(self) -> list[str]:
        return self.source.class_names

    @property
    def task(self):
        """The run's task (:mod:`dlcv.task`), as the data resolved it."""
        from ..task import task_of_config

        return task_of_config(self.config, self.class_names)

    @property
    def skipped(self) -> tuple[str, ...]:
        """Source files left out because they could not be read (so far, when streaming)."""
        return self.source.skipped


def prepare_data(config: ExperimentConfig, progress: bool = True, with_test: bool = True) -> PreparedData:
    """List, split and load (or stream) the config's dataset; the same split for the same seed.
    ``with_test=False``: the test split is left empty, its images never decoded (a search's trials)."""
    dataset = config.dataset
    source = get_dataset(dataset.name).load(dataset, config.preprocessing)
    # whatever the source, a batch is decoded and made float32 at once: before the cache decodes any file
    check_batch_fits(min(config.batch_size, len(source)), source.shape, dataset.name)
    if isinstance(source, FolderSource) and dataset.cache == "disk":
        if with_test:
            source = cached(source, Path(dataset.cache_dir or Path(config.output_dir) / "cache"), progress)
        else:
            log.info("cache: not used here (building it would decode the test images too)")
    task, labels = resolve_task(config.task, source.labels, len(source.class_names))
    if labels is not source.labels:  # a single-label table trained as multi-label: one-hot rows
        source = source.with_labels(labels)
    train, val, test = split_source(source, dataset, config.seed)
    held = None
    if dataset.fold is not None:
        train, val, held = fold_rows(source, dataset, config.seed, train, val)
    if not with_test:
        test = test[:0]
    if source.given_split is not None and dataset.splits != "random":
        log.info(f"data: the folder's own split: {len(train):,} training, {len(val):,} validation, {len(test):,} "
              "test images")
    height, width, channels = source.shape
    resolved = config.model_copy(update={"task": task, "preprocessing": PreprocessingConfig(
        width=width, height=height, channels=channels, resize=config.preprocessing.resize)})
    if should_stream(config, source):
        splits = Splits(StreamedSet(source, train), StreamedSet(source, val), StreamedSet(source, test),
                        None if held is None else StreamedSet(source, held))
        return PreparedData(splits, resolved, source, streamed=True, held_out_rows=held)
    held = held if held is not None else train[:0]
    check_fits(len(train) + len(val) + len(test) + len(held), source.shape, dataset, dataset.name)  # streaming: false
    loading = "loading" if progress else None
    splits = Splits(source.load(train, loading), source.load(val, loading), source.load(test, loading),
                    source.load(held, loading) if dataset.fold is not None else None)
    return PreparedData(splits, resolved, source, held_out_rows=held if dataset.fold is not None else None)


def should_stream(config: ExperimentConfig, source: ImageSource) -> bool:
    """``dataset.streaming``: as asked, or (auto) when the decoded images exceed the memory budget; a
    decision to stream is said in one line."""
    setting = config.dataset.streaming
    if setting is not True and (setting is False or not get_dataset(config.dataset.name).streams):
        return False
    if setting is True:
        log.info(f"data: streaming {len(source):,} images from disk (dataset.streaming: true)")
        return True
    budget = memory_budget(config.dataset)
    if source.nbytes() <= budget:
        return False
    log.info(f"data: streaming from disk: the {len(source):,} decoded images ({source.nbytes() / 2**30:.2f} GiB) "
          f"exceed the memory budget ({budget / 2**30:.2f} GiB; dataset.memory_budget)")
    return True


def count_split(config: ExperimentConfig) -> tuple[int, int, int]:
    """(train, validation, test) image counts, from labels alone: a folder is listed, not decoded, and a
    store's labels are read without its images. (Files that turn out unreadable would lower them.)"""
    dataset = config.dataset
    source = get_dataset(dataset.name).load(dataset, config.preprocessing)
    train, val, test = split_source(source, dataset, config.seed)
    if dataset.fold is not None:
        train, val, _ = fold_rows(source, dataset, config.seed, train, val)
    return len(train), len(val), len(test)
