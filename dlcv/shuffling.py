"""The order of the training rows in each epoch, one rule for every route and input pipeline.

An epoch's order depends on the seed and the epoch alone, not on how many epochs a process has run: a run
resumed in the middle of an epoch (``dlcv.training.preemption``) can skip exactly the batches it trained.
"""
from __future__ import annotations

import numpy as np


def epoch_order(seed: int | None, epoch: int, count: int) -> np.ndarray:
    """The order of the training rows in epoch ``epoch``: a permutation drawn from the seed and the epoch
    alone, the same on every route and in a resumed process.

        >>> epoch_order(42, 3, 5).tolist() == epoch_order(42, 3, 5).tolist() != epoch_order(42, 4, 5).tolist()
        True
    """
    return np.random.default_rng([0 if seed is None else seed, epoch]).permutation(count)
