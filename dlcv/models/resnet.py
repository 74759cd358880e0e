"""Residual networks for small images (He et al., "Deep Residual Learning for Image Recognition", 2015,
section 4.2, the CIFAR-10 networks; and "Identity Mappings in Deep Residual Networks", 2016, for the
pre-activation block).

Three stages of 3x3 residual blocks at 16, 32 and 64 filters (times ``width``), the feature map halved
between stages, ``(depth - 2) / 6`` blocks a stage; a 1x1 convolution on the shortcut where the shape
changes (the paper's option B); global average pooling; one softmax layer. No weight regularizer in the
layers: weight decay is the optimizer's (``optimizer.weight_decay``).

    model = resnet(32, 32, 3, 10)                        # ResNet-20: 274,042 parameters
    wide = resnet(32, 32, 3, 10, depth=32, width=2.0)    # 32 layers, 32/64/128 filters
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .heads import classifier_output
from .layout import BatchNormMomentum, channel_axis, image_input
from .registry import register_model

STAGE_FILTERS = (16, 32, 64)


@register_model
def resnet(image_width: int, image_height: int, channels: int, classes: int, /,
           depth: Literal[20, 32, 44, 56, 110] = 20, width: Annotated[float, Field(gt=0, le=8)] = 1.0,
           preact: bool = False, batch_norm_momentum: BatchNormMomentum = 0.99,
           classifier_activation: str = "softmax"):
    """He et al.'s CIFAR ResNet: depth 20/32/44/56/110, filters 16/32/64 x width; preact: pre-activation blocks."""
    import keras
    from keras import layers

    axis = channel_axis()
    blocks = (depth - 2) // 6
    filters = [max(1, round(f * width)) for f in STAGE_FILTERS]

    def conv(x, n, stride=1, size=3):
        return layers.Conv2D(n, size, strides=stride, padding="same", use_bias=False,
                             kernel_initializer="he_normal")(x)

    def norm(x):
        return layers.BatchNormalization(axis=axis, momentum=batch_norm_momentum)(x)

    def block(x, n, stride):
        changes = stride != 1 or x.shape[axis] != n
        if preact:  # BN -> ReLU -> conv, twice; the shortcut leaves from the first activation
            activated = layers.Activation("relu")(norm(x))
            shortcut = conv(activated, n, stride, size=1) if changes else x
            y = conv(layers.Activation("relu")(norm(conv(activated, n, stride))), n)
            return layers.Add()([y, shortcut])
        shortcut = norm(conv(x, n, stride, size=1)) if changes else x
        y = norm(conv(layers.Activation("relu")(norm(conv(x, n, stride))), n))
        return layers.Activation("relu")(layers.Add()([y, shortcut]))

    inputs = image_input(image_width, image_height, channels)
    x = conv(inputs, filters[0])
    if not preact:
        x = layers.Activation("relu")(norm(x))
    for stage, n in enumerate(filters):
        for i in range(blocks):
            x = block(x, n, stride=2 if stage > 0 and i == 0 else 1)
    if preact:
        x = layers.Activation("relu")(norm(x))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = classifier_output(x, classes, classifier_activation)
    return keras.Model(inputs, outputs, name=f"resnet{depth}" + ("_preact" if preact else ""))
