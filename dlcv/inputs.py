"""The one input contract: uint8 NHWC RGB images in, what the model takes out; and the targets beside them
(:func:`model_targets`: class indexes, or multi-hot rows for multi-label data).

Everything that feeds a model goes through :func:`model_input`: the tf.data pipeline, the PyDataset of
the JAX and PyTorch backends, the compiled training loops, prediction, and the case-study readers. It is
written with ``keras.ops``, so the same function runs on NumPy arrays, on tf.data's symbolic tensors and
inside a traced JAX or TensorFlow program, and the bytes are scaled the same way on every path.

    >>> import keras, numpy as np
    >>> x = keras.ops.convert_to_numpy(model_input(np.full((2, 4, 4, 3), 255, np.uint8)))
    >>> x.dtype, float(x.max())      # uint8 (N, H, W, C) -> float32 in [0, 1]; (N, C, H, W) if channels_first
    (dtype('float32'), 1.0)
"""
from __future__ import annotations

import numpy as np


def model_targets(labels) -> np.ndarray:
    """Labels as the loss takes them: class indexes (N,) as int64, multi-hot rows (N, classes) as float32.

        >>> model_targets(np.array([[0, 1], [1, 1]], np.uint8)).dtype, model_targets(np.array([2, 0])).dtype
        (dtype('float32'), dtype('int64'))
    """
    labels = np.asarray(labels)
    return labels.astype(np.float32 if labels.ndim == 2 else np.int64, copy=False)


def model_input(images):
    """uint8 NHWC -> float32 in [0, 1], in Keras's configured image data format."""
    import keras

    x = keras.ops.cast(images, "float32") / 255.0
    if keras.config.image_data_format() == "channels_first":
        return keras.ops.transpose(x, (0, 3, 1, 2))
    return x
