"""tf.data input pipelines: uint8 images in, batches of float32 in [0, 1] out.

Images are uint8 NHWC everywhere in dlcv; they are transposed to NCHW here when Keras's image data
format is ``channels_first``. The uint8 arrays are cached (4x smaller than floats), shuffled with a seed, batched, scaled per batch in
a parallel map, and prefetched so the accelerator never waits on Python.

    train = make_pipeline(splits.train.images, splits.train.labels, batch_size=32, shuffle=True, seed=42)
    model.fit(train, epochs=10)

TensorFlow is imported only when a pipeline is made, so ``import dlcv`` works without it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from .data.loader import SimpleDatasetLoader


def make_pipeline(images: np.ndarray, labels: np.ndarray | None, batch_size: int,
                  shuffle: bool = False, seed: int | None = None, multiple_of: int = 1):
    """Batches of ``(x, y)`` (or ``x`` alone when ``labels`` is None) for ``fit`` / ``evaluate`` / ``predict``.

    On the TensorFlow backend a ``tf.data.Dataset``; on JAX and PyTorch a
    :class:`~dlcv.batches.ArrayBatches` (a Keras ``PyDataset``), so those backends never import TensorFlow.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    import keras

    if keras.backend.backend() != "tensorflow":
        from .batches import ArrayBatches

        return ArrayBatches(images, labels, batch_size, shuffle=shuffle, seed=seed, multiple_of=multiple_of)
    import tensorflow as tf

    features = tf.data.Dataset.from_tensor_slices(images)
    data = features if labels is None else tf.data.Dataset.zip(
        features, tf.data.Dataset.from_tensor_slices(labels))
    data = data.cache()
    if shuffle:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return _batch_and_scale(data, batch_size, labelled=labels is not None)


def folder_pipeline(paths: Sequence[str], labels: np.ndarray, loader: "SimpleDatasetLoader",
                    image_shape: tuple[int, int, int], batch_size: int, shuffle: bool = False,
                    seed: int | None = None):
    """Stream image files, decoded in parallel by the same code as :class:`SimpleDatasetLoader`.

    Decoding goes through ``loader.load_image`` (OpenCV, RGB) inside ``tf.numpy_function`` rather than
    ``tf.io.decode_jpeg``: the two JPEG decoders differ in the last bit, and a model must see the same
    pixels whichever path fed it. Unreadable files are dropped (``ignore_errors``).
    """
    import tensorflow as tf

    def decode(path):
        return loader.load_image(path.decode()).astype(np.uint8)

    def load(path, label):
        image = tf.numpy_function(decode, [path], tf.uint8, stateful=False)
        return tf.ensure_shape(image, image_shape), label

    data = tf.data.Dataset.from_tensor_slices((list(paths), np.asarray(labels)))
    if shuffle:
        data = data.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    data = data.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).ignore_errors()
    return _batch_and_scale(data, batch_size)


def store_pipeline(path: str, index: np.ndarray, batch_size: int, shuffle: bool = False,
                   seed: int | None = None):
    """Stream batches of rows ``index`` from an HDF5 store without loading it all (for stores > RAM)."""
    import h5py
    import tensorflow as tf

    from .data.store import load_store_metadata

    shape = load_store_metadata(path)["shape"]
    rng = np.random.default_rng(seed)

    def batches():
        order = rng.permutation(index) if shuffle else np.asarray(index)
        with h5py.File(path, "r") as store:
            images, labels = store["images"], store["labels"]
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                ascending = np.argsort(rows)  # h5py reads increasing indexes; restore the order after
                sorted_rows = rows[ascending]
                restore = np.argsort(ascending)
                yield images[sorted_rows][restore], labels[sorted_rows][restore]

    data = tf.data.Dataset.from_generator(batches, output_signature=(
        tf.TensorSpec((None, *shape), tf.uint8), tf.TensorSpec((None,), tf.int64)))
    return _batch_and_scale(data, batch_size=None)


def _batch_and_scale(data, batch_size: int | None, labelled: bool = True):
    """Batch, then uint8 -> float32 in [0, 1] (and NHWC -> NCHW if Keras wants it) per batch, prefetch."""
    import tensorflow as tf

    if batch_size is not None:
        data = data.batch(batch_size)
    channels_first = _channels_first()

    def scale(x):
        x = tf.cast(x, tf.float32) / 255.0
        return tf.transpose(x, [0, 3, 1, 2]) if channels_first else x

    mapped = data.map(scale if not labelled else (lambda x, y: (scale(x), y)),
                      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return mapped.prefetch(tf.data.AUTOTUNE)


def to_model_input(images: np.ndarray) -> np.ndarray:
    """What the pipeline does, for NumPy callers: uint8 NHWC -> float32 in [0, 1], in Keras's layout."""
    x = images.astype(np.float32) / 255.0
    return x.transpose(0, 3, 1, 2) if _channels_first() else x


def _channels_first() -> bool:
    import keras

    return keras.config.image_data_format() == "channels_first"
