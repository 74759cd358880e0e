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


@keras.saving.register_keras_serializable(package="dlcv")
class MeanAveragePrecision(keras.metrics.AUC):
    """The mean over classes of each class's area under its precision-recall curve (Keras's interpolated
    estimate of average precision, over the whole epoch's images at 200 thresholds), logged as ``map``.
    Keras's ``AUC(curve="PR", multi_label=True)`` counts a class without a positive image as 0 (a
    validation split of three classes, one absent: 0.53 where the other two average 0.80); here such a
    class is left out of the mean, as results.json's ``test_map`` leaves it out.

        >>> import numpy as np
        >>> labels, scores = np.array([[1, 0], [0, 0], [1, 0]]), np.array([[0.9, 0.2], [0.1, 0.3], [0.8, 0.6]])
        >>> metric = MeanAveragePrecision()
        >>> metric.update_state(labels, scores)
        >>> round(float(metric.result()), 3)   # the second class has no positive: the first's area alone
        1.0
        >>> keras_own = keras.metrics.AUC(curve="PR", multi_label=True)
        >>> keras_own.update_state(labels, scores)
        >>> round(float(keras_own.result()), 3)
        0.5
    """

    def __init__(self, num_thresholds: int = 200, name: str = "map", dtype=None) -> None:
        super().__init__(num_thresholds=num_thresholds, curve="PR", multi_label=True, name=name, dtype=dtype)

    def result(self):
        # Keras's mean counts a class without a positive as an area of exactly 0: rescale it to the mean
        # over the classes that have one.
        positives = ops.add(self.true_positives[0], self.false_negatives[0])  # at the lowest threshold: all
        present = ops.sum(ops.cast(ops.greater(positives, 0), self.dtype))
        classes = ops.cast(ops.shape(positives)[0], self.dtype)
        return ops.divide_no_nan(ops.multiply(super().result(), classes), present)

    def get_config(self) -> dict:
        return {"num_thresholds": self.num_thresholds, "name": self.name, "dtype": self.dtype}
