"""A fast small-image network in the spirit of the CIFAR-10 speed records: David Page's ResNet-9 ("How to
train your ResNet", myrtle.ai, 2018) and Keller Jordan's airbench (2024, 94% on CIFAR-10 in 3.3 s on one
A100), whose network this follows.

A 3x3 stem, then three groups of [3x3 conv -> 2x2 max pool -> BN -> GELU -> 3x3 conv -> BN -> GELU]
at 64, 256 and 256 filters (times ``width``): the pooling comes early, so most convolutions run on
small feature maps, and the network is wide rather than deep. Then global max pooling and one softmax
layer whose logits are scaled by ``1 / 9`` (airbench's, a fixed temperature that stops the wide last
layer from saturating the softmax early). Its BatchNormalization momentum is airbench's 0.6: a few hundred
steps, and statistics that follow them. Airbench's frozen patch-whitening stem, Lookahead and
multi-crop evaluation are left out: dlcv's weight averaging (``optimizer.ema``), flip TTA
(``--tta flip``), label smoothing and ``random_crop`` cover what they do in a recipe.

    model = fastnet(32, 32, 3, 10)                 # 1,980,384 parameters
    small = fastnet(32, 32, 1, 2, width=0.5)       # 500,640 parameters
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .layout import BatchNormMomentum, channel_axis, image_input
from .registry import register_model

GROUP_FILTERS = (64, 256, 256)
STEM_FILTERS = 32
LOGIT_SCALE = 1 / 9


@register_model
def fastnet(image_width: int, image_height: int, channels: int, classes: int, /,
            width: Annotated[float, Field(gt=0, le=4)] = 1.0, batch_norm_momentum: BatchNormMomentum = 0.6,
            classifier_activation: str = "softmax"):
    """Airbench-style net: stem, 3 groups of conv-pool-BN-GELU-conv-BN-GELU (64/256/256 x width), max pool."""
    import keras
    from keras import layers

    axis = channel_axis()

    def conv_bn_gelu(x, n, pool=False):
        x = layers.Conv2D(n, 3, padding="same", use_bias=False)(x)
        if pool:
            x = layers.MaxPooling2D(2)(x)
        x = layers.BatchNormalization(axis=axis, momentum=batch_norm_momentum)(x)
        return layers.Activation("gelu")(x)

    inputs = image_input(image_width, image_height, channels)
    x = conv_bn_gelu(inputs, STEM_FILTERS)
    for filters in GROUP_FILTERS:
        n = max(1, round(filters * width))
        x = conv_bn_gelu(conv_bn_gelu(x, n, pool=True), n)
    x = layers.GlobalMaxPooling2D()(x)
    logits = layers.Dense(classes, use_bias=False)(x)
    x = layers.Rescaling(LOGIT_SCALE)(logits)
    outputs = layers.Activation(classifier_activation, name="predictions", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="fastnet")
