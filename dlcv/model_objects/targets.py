"""Training targets as the loss and the metric take them: integer labels or soft ones (mixed images)."""
from __future__ import annotations

from keras import ops


def one_hot_like(y_true, y_pred):
    """Integer labels (N,) as one-hot rows of ``y_pred``'s width; soft labels (N, classes) as they are."""
    if len(y_true.shape) == len(y_pred.shape):
        return ops.cast(y_true, y_pred.dtype)
    return ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), y_pred.shape[-1], dtype=y_pred.dtype)
