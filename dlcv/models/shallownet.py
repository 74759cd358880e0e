"""ShallowNet (ch. 12): one convolution, then a softmax classifier.

    model = shallownet(32, 32, 3, 3)     # INPUT => CONV(32, 3x3) => RELU => FC => SOFTMAX
"""
from __future__ import annotations

from .heads import classifier_output
from .layout import image_input
from .registry import register_model


@register_model
def shallownet(width: int, height: int, depth: int, classes: int, classifier_activation: str = "softmax"):
    """Conv(32, 3x3, same) -> ReLU -> Flatten -> Dense(classes) -> the task's activation."""
    import keras
    from keras import layers

    inputs = image_input(width, height, depth)
    x = layers.Conv2D(32, (3, 3), padding="same")(inputs)
    x = layers.Activation("relu")(x)
    x = layers.Flatten()(x)
    outputs = classifier_output(x, classes, classifier_activation)
    return keras.Model(inputs, outputs, name="shallownet")
