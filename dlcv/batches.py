"""Batches: a data set as a Keras ``PyDataset``, the input pipeline of the JAX and PyTorch backends
(which must not need TensorFlow, so cannot use tf.data).

Same contract as the tf.data pipeline: ``data.batch(positions)`` gives uint8 NHWC images and labels,
:func:`~dlcv.inputs.model_input` converts them; the positions of the whole set are shuffled in each epoch's
:func:`~dlcv.pipeline.epoch_order` (``first_epoch`` first, without its first ``skip`` batches: a resumed
epoch). A streamed set is read by ``workers`` threads ahead of the model.

    batches = Batches(splits.train, batch_size=32, shuffle=True, seed=42)
    model.fit(batches, epochs=10)
"""
from __future__ import annotations

import keras
import numpy as np

from .inputs import model_input
from .shuffling import epoch_order


class Batches(keras.utils.PyDataset):
    def __init__(self, data, batch_size: int, shuffle: bool = False, seed: int | None = None,
                 multiple_of: int = 1, labelled: bool = True, workers: int = 1, augmenter=None,
                 first_epoch: int = 0, skip: int = 0, balanced: bool = False) -> None:
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=max(10, 2 * workers))
        if batch_size < 1 or multiple_of < 1 or batch_size % multiple_of:
            raise ValueError(f"batch_size ({batch_size}) must be >= 1 and a multiple of multiple_of ({multiple_of})")
        self.data, self.batch_size, self.shuffle, self.labelled = data, batch_size, shuffle, labelled
        self.augmenter = augmenter
        count = len(data.labels)
        # Data-parallel JAX splits every batch evenly over the devices, so a batch is cut to a multiple
        # of the device count (at most multiple_of - 1 images sit out each pass).
        self.multiple_of = multiple_of
        self.usable = count - count % multiple_of
        self.seed, self.epoch = seed, first_epoch
        self.balance = np.asarray(data.labels) if balanced else None
        self._order = self._epoch_order()[skip * batch_size:]

    def _epoch_order(self) -> np.ndarray:
        count = len(self.data.labels)
        order = epoch_order(self.seed, self.epoch, count, self.balance) if self.shuffle else np.arange(count)
        return order[:self.usable]

    def __len__(self) -> int:
        return -(-len(self._order) // self.batch_size)

    def __getitem__(self, index: int):
        positions = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        images, labels = self.data.batch(positions)
        keep = len(labels) - len(labels) % self.multiple_of
        x, labels = model_input(images[:keep]), labels[:keep]
        if self.augmenter is not None:
            x, labels = self.augmenter(x, labels, training=True)
        return (x, labels) if self.labelled else (x,)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._epoch_order()
