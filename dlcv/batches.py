"""ArrayBatches: in-memory images as a Keras ``PyDataset``, the input pipeline of the JAX and PyTorch
backends (which must not need TensorFlow, so cannot use tf.data).

Same contract as the tf.data pipeline: uint8 NHWC in, :func:`~dlcv.inputs.model_input` out, shuffled
with a seed and reshuffled every epoch.

    batches = ArrayBatches(images, labels, batch_size=32, shuffle=True, seed=42)
    model.fit(batches, epochs=10)
"""
from __future__ import annotations

import keras
import numpy as np

from .inputs import model_input


class ArrayBatches(keras.utils.PyDataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray | None, batch_size: int, shuffle: bool = False,
                 seed: int | None = None, multiple_of: int = 1) -> None:
        super().__init__()
        if batch_size < 1 or multiple_of < 1 or batch_size % multiple_of:
            raise ValueError(f"batch_size ({batch_size}) must be >= 1 and a multiple of multiple_of ({multiple_of})")
        self.images, self.labels, self.batch_size, self.shuffle = images, labels, batch_size, shuffle
        # Data-parallel JAX splits every batch evenly over the devices, so the last batch is rounded down
        # to a multiple of the device count (at most multiple_of - 1 images sit out that pass).
        self.usable = len(images) - len(images) % multiple_of
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(images)) if shuffle else np.arange(len(images))

    def __len__(self) -> int:
        return -(-self.usable // self.batch_size)

    def __getitem__(self, index: int):
        rows = self._order[:self.usable][index * self.batch_size:(index + 1) * self.batch_size]
        x = model_input(self.images[rows])
        return (x,) if self.labels is None else (x, self.labels[rows])

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._order = self._rng.permutation(len(self.images))
