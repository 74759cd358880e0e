"""MiniVGGNet (ch. 15): two VGG blocks of stacked 3x3 convolutions, batch normalisation and dropout.

    model = minivggnet(32, 32, 3, 10)                      # 2,171,178 parameters
    plain = minivggnet(32, 32, 3, 10, batch_norm=False)    # the book's no-BN comparison
    short = minivggnet(64, 64, 3, 3, batch_norm_momentum=0.85)  # statistics that follow a short run
"""
from __future__ import annotations

from .heads import classifier_output
from .layout import BatchNormMomentum, channel_axis, image_input
from .registry import register_model


@register_model
def minivggnet(width: int, height: int, depth: int, classes: int, batch_norm: bool = True,
               batch_norm_momentum: BatchNormMomentum = 0.99, classifier_activation: str = "softmax"):
    """[(Conv 3x3 -> ReLU -> BN) x2 -> MaxPool -> Dropout .25] for 32, 64 filters -> FC(512) -> ReLU -> BN ->
    Dropout .5 -> FC(classes) -> the task's activation."""
    import keras
    from keras import layers

    axis = channel_axis()

    def normalise(x):
        return layers.BatchNormalization(axis=axis, momentum=batch_norm_momentum)(x) if batch_norm else x

    inputs = image_input(width, height, depth)
    x = inputs
    for filters in (32, 64):
        for _ in range(2):
            x = layers.Conv2D(filters, (3, 3), padding="same")(x)
            x = normalise(layers.Activation("relu")(x))
        x = layers.MaxPooling2D(pool_size=(2, 2))(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(512)(x)
    x = normalise(layers.Activation("relu")(x))
    x = layers.Dropout(0.5)(x)
    outputs = classifier_output(x, classes, classifier_activation)
    return keras.Model(inputs, outputs, name="minivggnet" if batch_norm else "minivggnet_nobn")
