"""dlcv's accuracy for smoothed or mixed labels (registered as ``dlcv>Accuracy``)."""
from __future__ import annotations

import keras
from keras import ops

from .targets import one_hot_like


def _accuracy(y_true, y_pred):
    target = ops.argmax(one_hot_like(y_true, y_pred), axis=-1)
    return ops.cast(ops.equal(target, ops.argmax(y_pred, axis=-1)), "float32")


@keras.saving.register_keras_serializable(package="dlcv")
class Accuracy(keras.metrics.MeanMetricWrapper):
    """Accuracy against integer labels, or against the largest share of soft labels (a mixed image counts
    as its main image's class), logged as ``accuracy`` like Keras's."""

    def __init__(self, name: str = "accuracy", dtype=None) -> None:
        super().__init__(_accuracy, name=name, dtype=dtype)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}
