"""Each epoch's order of the training rows (dlcv.shuffling): a permutation, or balanced draws."""
import numpy as np

from dlcv.shuffling import epoch_order


def test_an_epoch_is_a_permutation_of_the_seed_and_the_epoch():
    first = epoch_order(7, 0, 50)
    assert sorted(first.tolist()) == list(range(50))
    assert np.array_equal(first, epoch_order(7, 0, 50)) and not np.array_equal(first, epoch_order(7, 1, 50))


def test_balanced_epochs_draw_classes_equally_rare_rows_evenly_common_rows_without_repeats():
    labels = np.array([0] * 90 + [1] * 7 + [2] * 3)
    for epoch in range(3):
        order = epoch_order(1, epoch, len(labels), balance=labels)
        assert len(order) == 100
        counts = np.bincount(labels[order])
        assert counts.max() - counts.min() <= 1 and counts.sum() == 100      # 34/33/33 in some order
        uses = np.bincount(order, minlength=100)
        assert uses[:90].max() == 1                                          # a common class: a subset, once
        assert set(uses[90:97].tolist()) <= {4, 5} and set(uses[97:].tolist()) <= {11, 12}  # rare: as evenly as can be
    subsets = [set(epoch_order(1, epoch, 100, balance=labels).tolist()) & set(range(90)) for epoch in range(2)]
    assert subsets[0] != subsets[1]                                          # another subset each epoch
    assert np.array_equal(epoch_order(1, 2, 100, balance=labels), epoch_order(1, 2, 100, balance=labels))
