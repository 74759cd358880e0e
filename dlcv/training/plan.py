"""What every route trains from: one plan, built once by the engine, the same for the fit, fast, feature
cache and strategy routes.

An :class:`EpochPlan` holds the training and validation data, the batch size, and for each epoch its order
of the training rows (:func:`~dlcv.shuffling.epoch_order`: from the seed and the epoch alone, balanced
draws with ``sampling: balanced``), each class's loss weight, and the augmenter of the training batches. A
route executes it; none draws an order of its own, so a run resumed in the middle of an epoch skips exactly
the batches it trained, on every route.

    plan = EpochPlan(splits.train, splits.val, batch_size=32, seed=42)
    plan.order(3)[:5]                  # the first rows of epoch 3, the same in every process
    plan.rows(3, skip=2)               # its rows after the first two batches (a resumed epoch)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..shuffling import epoch_order


@dataclass(frozen=True)
class EpochPlan:
    train: object
    """The training set: an ImageSet in memory or a StreamedSet (``labels``, ``batch(rows)``, ``shape``)."""
    val: object
    batch_size: int
    seed: int
    balanced: bool = False
    """``sampling: balanced``: each epoch draws every class equally often."""
    class_weight: np.ndarray | None = None
    """One loss weight per class (``class_weight: balanced``), or None."""
    augmenter: object = None
    """Random transformations of the training batches (:mod:`dlcv.augmentation`), or None."""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    @property
    def count(self) -> int:
        """Training rows (an epoch has as many, balanced or not)."""
        return len(self.train.labels)

    def order(self, epoch: int, labels: np.ndarray | None = None) -> np.ndarray:
        """Epoch ``epoch``'s training rows, in order; ``labels``: of the rows trained, where they are not the
        training set's (the readable images of a streamed set, once their features are cached)."""
        labels = np.asarray(self.train.labels if labels is None else labels)
        return epoch_order(self.seed, epoch, len(labels), labels if self.balanced else None)

    def rows(self, epoch: int, skip: int = 0) -> np.ndarray:
        """Its rows after the first ``skip`` batches (trained before a resume)."""
        return self.order(epoch)[skip * self.batch_size:]

    def steps(self, multiple_of: int = 1) -> int:
        """Batches per epoch, every batch cut to a multiple of ``multiple_of`` rows."""
        return -(-(self.count - self.count % multiple_of) // self.batch_size)
