"""The backbone input layer older backbone runs' models hold (registered as ``dlcv>BackboneInput``), kept so
that they load."""
from __future__ import annotations

import keras
from keras import ops

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
