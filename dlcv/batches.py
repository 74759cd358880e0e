"""Batches: a data set as a Keras ``PyDataset``, the input pipeline of the JAX and PyTorch backends
(which must not need TensorFlow, so cannot use tf.data).

Same contract as the tf.data pipeline: ``data.batch(positions)`` gives uint8 NHWC images and labels,
:func:`~dlcv.inputs.model_input` converts them. Training batches follow a plan
(:class:`~dlcv.training.plan.EpochPlan`): each epoch's rows in its order (``first_epoch`` first, without its
first ``skip`` batches: a resumed epoch), its augmenter applied. A streamed set is read by ``workers``
threads ahead of the model.

    batches = Batches(splits.train, batch_size=32, plan=EpochPlan(splits.train, splits.val, 32, seed=42))
    model.fit(batches, epochs=10)
"""
from __future__ import annotations

import keras
import numpy as np

from .inputs import model_input


class Batches(keras.utils.PyDataset):
    def __init__(self, data, batch_size: int, multiple_of: int = 1, labelled: bool = True, workers: int = 1,
                 plan=None, first_epoch: int = 0, skip: int = 0) -> None:
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=max(10, 2 * workers))
        if batch_size < 1 or multiple_of < 1 or batch_size % multiple_of:
            raise ValueError(f"batch_size ({batch_size}) must be >= 1 and a multiple of multiple_of ({multiple_of})")
        self.data, self.batch_size, self.labelled, self.plan = data, batch_size, labelled, plan
        self.augmenter = None if plan is None else plan.augmenter
        count = len(data.labels)
        # Data-parallel JAX splits every batch evenly over the devices, so a batch is cut to a multiple
        # of the device count (at most multiple_of - 1 images sit out each pass).
        self.multiple_of = multiple_of
        self.usable = count - count % multiple_of
        self.epoch = first_epoch
        self._order = self._epoch_order()[skip * batch_size:]

    def _epoch_order(self) -> np.ndarray:
        order = self.plan.order(self.epoch) if self.plan is not None else np.arange(len(self.data.labels))
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
