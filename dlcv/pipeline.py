"""tf.data input pipelines: uint8 images in, batches of float32 in [0, 1] out.

Images are uint8 NHWC everywhere in dlcv; they are transposed to NCHW here when Keras's image data
format is ``channels_first``. The uint8 arrays are cached (4x smaller than floats), shuffled with a seed, batched, scaled per batch in
a parallel map, and prefetched so the accelerator never waits on Python.

    train = make_pipeline(splits.train.images, splits.train.labels, batch_size=32, shuffle=True, seed=42)
    model.fit(train, epochs=10)

TensorFlow is imported only when a pipeline is made, so ``import dlcv`` works without it.
"""
from __future__ import annotations

import numpy as np


def make_pipeline(images: np.ndarray, labels: np.ndarray | None, batch_size: int,
                  shuffle: bool = False, seed: int | None = None):
    """A ``tf.data.Dataset`` of ``(x, y)`` batches (or ``x`` alone when ``labels`` is None)."""
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    autotune = tf.data.AUTOTUNE
    features = tf.data.Dataset.from_tensor_slices(images)
    data = features if labels is None else tf.data.Dataset.zip(
        features, tf.data.Dataset.from_tensor_slices(labels))
    data = data.cache()
    if shuffle:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    channels_first = _channels_first()

    def scale(x):
        x = tf.cast(x, tf.float32) / 255.0
        return tf.transpose(x, [0, 3, 1, 2]) if channels_first else x

    data = data.map((lambda x: scale(x)) if labels is None else (lambda x, y: (scale(x), y)),
                    num_parallel_calls=autotune, deterministic=True)
    return data.prefetch(autotune)


def to_model_input(images: np.ndarray) -> np.ndarray:
    """What the pipeline does, for NumPy callers: uint8 NHWC -> float32 in [0, 1], in Keras's layout."""
    x = images.astype(np.float32) / 255.0
    return x.transpose(0, 3, 1, 2) if _channels_first() else x


def _channels_first() -> bool:
    import keras

    return keras.config.image_data_format() == "channels_first"
