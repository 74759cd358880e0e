"""LeNet (ch. 14), the book's variant with ReLU and max pooling.

    model = lenet(28, 28, 1, 10)        # 1,256,080 parameters
"""
from __future__ import annotations

from .heads import classifier_output
from .layout import image_input
from .registry import register_model


@register_model
def lenet(width: int, height: int, depth: int, classes: int, classifier_activation: str = "softmax"):
    """[Conv(20, 5x5) -> ReLU -> MaxPool] -> [Conv(50, 5x5) -> ReLU -> MaxPool] -> FC(500) -> ReLU -> FC ->
    the task's activation."""
    import keras
    from keras import layers

    inputs = image_input(width, height, depth)
    x = inputs
    for filters in (20, 50):
        x = layers.Conv2D(filters, (5, 5), padding="same")(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(500)(x)
    x = layers.Activation("relu")(x)
    outputs = classifier_output(x, classes, classifier_activation)
    return keras.Model(inputs, outputs, name="lenet")
