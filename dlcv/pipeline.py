"""Input pipelines: uint8 images in, batches of :func:`~dlcv.inputs.model_input` out.

On the TensorFlow backend a ``tf.data.Dataset``: the uint8 arrays are cached (4x smaller than floats),
shuffled with a seed, batched, converted per batch in a parallel map, and prefetched so the accelerator
never waits on Python. On JAX and PyTorch a :class:`~dlcv.batches.ArrayBatches` (a Keras ``PyDataset``),
so those backends never import TensorFlow.

    train = make_pipeline(splits.train.images, splits.train.labels, batch_size=32, shuffle=True, seed=42)
    model.fit(train, epochs=10)
"""
from __future__ import annotations

import numpy as np

from .inputs import model_input


def make_pipeline(images: np.ndarray, labels: np.ndarray | None, batch_size: int,
                  shuffle: bool = False, seed: int | None = None, multiple_of: int = 1):
    """Batches of ``(x, y)`` (or ``x`` alone when ``labels`` is None) for ``fit`` / ``evaluate`` / ``predict``."""
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
    data = data.batch(batch_size)
    convert = model_input if labels is None else (lambda x, y: (model_input(x), y))
    return data.map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def predict_probabilities(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities for uint8 NHWC images, as float32 NumPy (forward passes in inference mode).

    Direct model calls on batches rather than ``model.predict``: no per-call pipeline to build (the
    case-study readers call this per video frame), and it also works under MultiWorkerMirroredStrategy,
    where Keras 3's ``predict`` fails (keras-team/keras#20585).
    """
    import keras

    if len(images) == 0:
        raise ValueError("no images to predict")
    outputs = [keras.ops.convert_to_numpy(model(model_input(images[start:start + batch_size]), training=False))
               for start in range(0, len(images), batch_size)]
    return np.concatenate(outputs).astype(np.float32, copy=False)
