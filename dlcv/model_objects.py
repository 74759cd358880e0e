"""What a saved dlcv model is made of beyond Keras's own: the loss it was compiled with and the serialisable
objects of dlcv's that its file may name (a step-decay schedule in a checkpoint's optimizer). A leaf
module, so that loading and scoring a run needs nothing of the trainer.

    >>> from dlcv.model_objects import LOSS, StepDecay   # importing registers StepDecay for loading
    >>> schedule = StepDecay(0.01, factor=0.5, drop_every=5, steps_per_epoch=100)
    >>> round(float(schedule(100 * 4)), 6)               # epoch 4: 0.01 * 0.5 ** floor(5 / 5)
    0.005
"""
from __future__ import annotations

import keras
from keras import ops

LOSS = "sparse_categorical_crossentropy"
"""Every dlcv classifier is compiled with this loss (integer labels, softmax outputs)."""


@keras.saving.register_keras_serializable(package="dlcv")
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The book's step decay, lr0 * factor ** floor((1 + epoch) / drop_every), evaluated per batch.

    Keras's ``ExponentialDecay(staircase=True)`` computes factor ** floor(epoch / drop_every): its drops
    come one epoch later than the book's, so reproducing the book's curves needs this formula.

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
    """dlcv's model input (float32 RGB or grey in [0, 1]) turned into what an ImageNet backbone expects,
    inside the model graph, so the pipeline, ``dlcv predict`` and every export feed it correctly:

    - ``caffe`` (ResNet50, VGG): BGR pixels in [0, 255] less the ImageNet channel means, as
      ``keras.applications.resnet50.preprocess_input``;
    - ``tf`` (MobileNetV2, Inception, Xception): [-1, 1], as ``mobilenet_v2.preprocess_input``;
    - ``raw`` (EfficientNet, EfficientNetV2, MobileNetV3, ConvNeXt): [0, 255], whose own first layers
      rescale (their ``preprocess_input`` does nothing).

    A grey image is replicated to three channels first (ImageNet backbones take RGB). A layer of its own
    rather than Keras's ``Rescaling``: caffe mode also reverses the channels, which Rescaling cannot.

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
