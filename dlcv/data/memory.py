"""How much memory decoded images may take, and the check that a data set keeps to it before any image is
decoded or resized (a mistyped size must be one line, not the kernel's out-of-memory killer).

    >>> from dlcv.config import DatasetConfig
    >>> check_fits(1797, (8, 8, 1), DatasetConfig(memory_budget=2**20), "digits")        # 115 KB: fine
    >>> check_fits(1797, (1000, 1000, 1), DatasetConfig(memory_budget=2**20), "digits")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dlcv.errors.DlcvError: preprocessing: the 1,797 images of digits at 1000x1000x1 take 1.67 GiB, more than ...
"""
from __future__ import annotations

import os

from ..config import DatasetConfig
from ..errors import DlcvError

MEMORY_FRACTION = 0.5
"""Of the memory available at the start: what the decoded images may take (``dataset.memory_budget``)."""
BATCH_COPIES = 5
"""A streamed batch's bytes in flight per image byte: the uint8 batch and the float32 one made from it."""


def available_memory() -> int:
    """The memory available now (MemAvailable: free memory plus what the kernel can reclaim)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def memory_budget(dataset: DatasetConfig | None = None) -> int:
    """``dataset.memory_budget``, else half of the memory available now."""
    if dataset is not None and dataset.memory_budget:
        return dataset.memory_budget
    return int(available_memory() * MEMORY_FRACTION)


def check_fits(count: int, shape: tuple[int, int, int], dataset: DatasetConfig, what: str) -> None:
    """``count`` decoded images of ``shape``, held in memory, fit the memory budget; else one
    :class:`~dlcv.errors.DlcvError` line naming the size to change."""
    _refuse_beyond(count * _bytes(shape), memory_budget(dataset), count, shape, what,
                   "the memory budget (dataset.memory_budget, else half the memory available)")


def check_batch_fits(batch_size: int, shape: tuple[int, int, int], what: str) -> None:
    """One batch of ``shape`` images, decoded and made float32, fits the memory available (whatever the
    source: a streamed one too); else one :class:`~dlcv.errors.DlcvError` line."""
    _refuse_beyond(batch_size * BATCH_COPIES * _bytes(shape), available_memory(), batch_size, shape,
                   f"a batch of {what}", "the memory available")


def _bytes(shape: tuple[int, ...]) -> int:
    return int(shape[0]) * int(shape[1]) * int(shape[2])


def _refuse_beyond(needed: int, budget: int, count: int, shape: tuple[int, ...], what: str, limit: str) -> None:
    if needed > budget:
        height, width, channels = shape
        raise DlcvError(f"preprocessing: the {count:,} images of {what} at {width}x{height}x{channels} take "
                        f"{needed / 2**30:,.2f} GiB, more than {limit}, {budget / 2**30:,.2f} GiB; expected a "
                        "smaller preprocessing.width / height")
