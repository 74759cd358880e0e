"""The loss of a dlcv classifier: Keras's sparse cross-entropy, or dlcv's :class:`CrossEntropy` where training
labels are smoothed or mixed (integer and soft labels alike; registered as ``dlcv>CrossEntropy``), or Keras's
focal cross-entropy taking them too (:class:`FocalCrossEntropy`, ``loss: focal``)."""
from __future__ import annotations

import keras

from .metrics import Accuracy
from .targets import one_hot_like

LOSS = "sparse_categorical_crossentropy"
"""The loss of a dlcv classifier (integer labels, softmax outputs), and the test loss of every run."""


def loss_and_metrics(label_smoothing: float = 0.0, soft_labels: bool = False, focal: bool = False) -> tuple:
    """(loss, metrics) to compile a single-label classifier with (its task's: :mod:`dlcv.task`): Keras's
    sparse cross-entropy and accuracy, or, where training targets are smoothed or mixed (MixUp, CutMix),
    dlcv's :class:`CrossEntropy` and :class:`Accuracy`, which take integer labels and soft ones alike;
    ``focal``: :class:`FocalCrossEntropy`."""
    if focal:
        return FocalCrossEntropy(label_smoothing), [Accuracy()]
    if not label_smoothing and not soft_labels:
        return LOSS, ["accuracy"]
    return CrossEntropy(label_smoothing), [Accuracy()]


@keras.saving.register_keras_serializable(package="dlcv")
class CrossEntropy(keras.losses.Loss):
    """Cross-entropy of softmax outputs against integer labels or soft labels (mixed images' labels), with
    label smoothing: the target is (1 - e) * y + e / classes. Keras's ``CategoricalCrossentropy`` smooths
    but takes one-hot labels only, its ``SparseCategoricalCrossentropy`` neither smooths nor takes soft ones.

        >>> import numpy as np
        >>> p = np.array([[0.7, 0.2, 0.1]], np.float32)
        >>> round(float(CrossEntropy(0.0)(np.array([0]), p)), 4)             # -log 0.7
        0.3567
        >>> round(float(CrossEntropy(0.3)(np.array([0]), p)), 4)             # -(0.8 log .7 + .1 log .2 + .1 log .1)
        0.6765
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "cross_entropy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        return keras.losses.categorical_crossentropy(one_hot_like(y_true, y_pred), y_pred,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="dlcv")
class FocalCrossEntropy(keras.losses.Loss):
    """Keras's focal cross-entropy (``categorical_focal_crossentropy``: Lin et al., ``alpha`` 0.25, ``gamma``
    2) for integer labels as well as one-hot or soft ones: Keras's ``CategoricalFocalCrossentropy`` takes
    one-hot labels only, and a classifier's are integers. A confidently right image counts for little, so
    the rare, hard images weigh more.

        >>> import numpy as np
        >>> p = np.array([[0.9, 0.1], [0.3, 0.7]], np.float32)
        >>> keras_own = keras.losses.CategoricalFocalCrossentropy()(np.eye(2)[[0, 0]], p)
        >>> bool(np.isclose(float(FocalCrossEntropy()(np.array([0, 0]), p)), float(keras_own)))
        True
    """

    def __init__(self, label_smoothing: float = 0.0, alpha: float = 0.25, gamma: float = 2.0,
                 name: str = "focal_cross_entropy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if not 0 <= label_smoothing < 1 or gamma < 0 or not 0 <= alpha <= 1:
            raise ValueError(f"FocalCrossEntropy needs 0 <= label_smoothing < 1, gamma >= 0 and 0 <= alpha <= 1; got "
                             f"{label_smoothing}, {gamma}, {alpha}")
        self.label_smoothing, self.alpha, self.gamma = label_smoothing, alpha, gamma

    def call(self, y_true, y_pred):
        return keras.losses.categorical_focal_crossentropy(one_hot_like(y_true, y_pred), y_pred, alpha=self.alpha,
                                                           gamma=self.gamma, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "alpha": self.alpha,
                "gamma": self.gamma}
