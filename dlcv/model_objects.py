"""What a dlcv model is compiled with beyond Keras's own, and what older files may name.

Training compiles dlcv's :class:`CrossEntropy` and :class:`Accuracy` where labels are smoothed or mixed, so
the resume checkpoints name them; a run's final ``model.keras`` / ``model.h5`` hold Keras's own objects only
(:func:`dlcv.saving.portable`). :class:`StepDecay` and :class:`BackboneInput` are no longer used: they stay
registered so that run folders written before that change still load through dlcv. A leaf module, so that
loading and scoring a run needs nothing of the trainer.

    >>> from dlcv.model_objects import LOSS, StepDecay   # importing registers StepDecay for loading
    >>> schedule = StepDecay(0.01, factor=0.5, drop_every=5, steps_per_epoch=100)
    >>> round(float(schedule(100 * 4)), 6)               # epoch 4: 0.01 * 0.5 ** floor(5 / 5)
    0.005
"""
from __future__ import annotations

import keras
from keras import ops

LOSS = "sparse_categorical_crossentropy"
"""The loss of a dlcv classifier (integer labels, softmax outputs), and the test loss of every run."""


def loss_and_metrics(label_smoothing: float = 0.0, soft_labels: bool = False) -> tuple:
    """(loss, metrics) to compile a classifier with: Keras's sparse cross-entropy and accuracy, or, where
    training targets are smoothed or mixed (MixUp, CutMix), dlcv's :class:`CrossEntropy` and
    :class:`Accuracy`, which take integer labels and soft ones alike."""
    if not label_smoothing and not soft_labels:
        return LOSS, ["accuracy"]
    return CrossEntropy(label_smoothing), [Accuracy()]


def _one_hot_like(y_true, y_pred):
    """Integer labels (N,) as one-hot rows of ``y_pred``'s width; soft labels (N, classes) as they are."""
    if len(y_true.shape) == len(y_pred.shape):
        return ops.cast(y_true, y_pred.dtype)
    return ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), y_pred.shape[-1], dtype=y_pred.dtype)


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
        return keras.losses.categorical_crossentropy(_one_hot_like(y_true, y_pred), y_pred,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def _accuracy(y_true, y_pred):
    target = ops.argmax(_one_hot_like(y_true, y_pred), axis=-1)
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
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The book's step decay, lr0 * factor ** floor((1 + epoch) / drop_every), evaluated per batch: what
    older runs' optimizers name (today's are Keras's ``PiecewiseConstantDecay``,
    :func:`dlcv.training.schedules.step_decay`).

        schedule = StepDecay(0.01, factor=0.25, drop_every=5, steps_per_epoch=100)
    """

    def __init__(self, initial_learning_rate: float, factor: float, drop_every: int,
                 steps_per_epoch: int) -> None:
        if initial_learning_rate <= 0 or not 0 < factor < 1 or drop_every < 1 or steps_per_epoch < 1:
            raise ValueError("StepDecay needs initial_learning_rate > 0, 0 < factor < 1, drop_every >= 1 "
                             f"and steps_per_epoch >= 1; got {initial_learning_rate}, {factor}, "
                             f"{drop_every}, {steps_per_epoch}")
        self.initial_learning_rate = initial_learning_rate
        self.factor = factor
        self.drop_every = drop_every
        self.steps_per_epoch = steps_per_epoch

    def __call__(self, step):
        epoch = ops.floor(ops.cast(step, "float32") / self.steps_per_epoch)
        drops = ops.floor((1.0 + epoch) / self.drop_every)
        return self.initial_learning_rate * ops.power(self.factor, drops)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "factor": self.factor,
                "drop_every": self.drop_every, "steps_per_epoch": self.steps_per_epoch}


BACKBONE_INPUT_MODES = ("caffe", "tf", "raw")


@keras.saving.register_keras_serializable(package="dlcv")
class BackboneInput(keras.layers.Layer):
    """What older backbone runs' models hold (today's hold a fixed 1x1 convolution of Keras's,
    :func:`dlcv.models.backbones.input_conversion`): dlcv's model input (float32 RGB or grey in [0, 1])
    turned into what an ImageNet backbone expects:

    - ``caffe`` (ResNet50, VGG): BGR pixels in [0, 255] less the ImageNet channel means, as
      ``keras.applications.resnet50.preprocess_input``;
    - ``tf`` (MobileNetV2, Inception, Xception): [-1, 1], as ``mobilenet_v2.preprocess_input``;
    - ``raw`` (EfficientNet, EfficientNetV2, MobileNetV3, ConvNeXt): [0, 255], whose own first layers
      rescale (their ``preprocess_input`` does nothing).

    A grey image is replicated to three channels first (ImageNet backbones take RGB).

        >>> import numpy as np
        >>> x = np.full((1, 1, 1, 3), [1.0, 0.5, 0.0], np.float32)        # RGB in [0, 1]
        >>> [round(v, 3) for v in keras.ops.convert_to_numpy(BackboneInput("caffe")(x)).ravel().tolist()]
        [-103.939, 10.721, 131.32]
        >>> keras.ops.convert_to_numpy(BackboneInput("tf")(x)).ravel().tolist()
        [1.0, 0.0, -1.0]
    """

    CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
    """keras.applications.imagenet_utils' caffe means, in BGR order."""

    def __init__(self, mode: str, **kwargs) -> None:
        super().__init__(**kwargs)
        if mode not in BACKBONE_INPUT_MODES:
            raise ValueError(f"BackboneInput mode must be one of {BACKBONE_INPUT_MODES}, got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if x.shape[-1] == 1:
            x = ops.concatenate([x, x, x], axis=-1)
        if self.mode == "tf":
            return x * 2.0 - 1.0
        x = x * 255.0
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(self.CAFFE_BGR_MEAN, dtype=self.compute_dtype)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}
