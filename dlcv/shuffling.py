"""The order of the training rows in each epoch, one rule for every route and input pipeline.

An epoch's order depends on the seed and the epoch alone, not on how many epochs a process has run: a run
resumed in the middle of an epoch (``dlcv.training.preemption``) can skip exactly the batches it trained.
With ``sampling: balanced`` an epoch is as many draws as there are rows, every class drawn equally often.
"""
from __future__ import annotations

import numpy as np


def epoch_order(seed: int | None, epoch: int, count: int, balance: np.ndarray | None = None) -> np.ndarray:
    """The rows (of ``count``) trained in epoch ``epoch``, in order, drawn from the seed and the epoch alone:
    the same on every route and in a resumed process.

    Plain, a permutation: each row once. With ``balance`` (each row's class), ``count`` draws in which
    every class present comes equally often (to within one): a rare class's rows repeated, each as evenly
    as the count allows, a common class's a different subset every epoch.

        >>> epoch_order(42, 3, 5).tolist() == epoch_order(42, 3, 5).tolist() != epoch_order(42, 4, 5).tolist()
        True
        >>> labels = np.array([0] * 8 + [1] * 2)
        >>> np.bincount(labels[epoch_order(42, 0, 10, balance=labels)]).tolist()
        [5, 5]
    """
    rng = np.random.default_rng([0 if seed is None else seed, epoch])
    if balance is None:
        return rng.permutation(count)
    classes = np.unique(balance)
    quota = np.full(len(classes), count // len(classes))
    quota[rng.permutation(len(classes))[:count % len(classes)]] += 1
    drawn = []
    for cls, wanted in zip(classes, quota):
        rows = np.flatnonzero(balance == cls)
        rounds = -(-wanted // len(rows))  # whole passes over a rare class's rows, each in its own order
        drawn.append(np.concatenate([rng.permutation(rows) for _ in range(rounds)])[:wanted])
    return rng.permutation(np.concatenate(drawn))
