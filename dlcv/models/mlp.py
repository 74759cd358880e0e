"""Fully connected classifiers on flattened pixels: linear softmax and the multi-layer perceptron.

    model = mlp(28, 28, 1, 10, hidden=[256, 128], activation="sigmoid")   # the book's MNIST MLP
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field

from .heads import classifier_output
from .layout import image_input
from .registry import register_model

LayerSize = Annotated[int, Field(ge=1)]
Activation = Literal["relu", "sigmoid", "tanh", "elu", "selu", "gelu", "swish", "softplus", "linear"]


@register_model
def linear(width: int, height: int, depth: int, classes: int, classifier_activation: str = "softmax"):
    """A single dense layer on the flattened image, then the task's activation (the book's linear
    classifier: a softmax)."""
    return mlp(width, height, depth, classes, hidden=(), classifier_activation=classifier_activation)


@register_model
def mlp(width: int, height: int, depth: int, classes: int, hidden: Sequence[LayerSize] = (256, 128),
        activation: Activation = "sigmoid", classifier_activation: str = "softmax"):
    """Flatten -> Dense(h, activation) for each h in ``hidden`` -> Dense(classes) -> the task's activation."""
    import keras
    from keras import layers

    inputs = image_input(width, height, depth)
    x = layers.Flatten()(inputs)
    for units in hidden:
        x = layers.Dense(int(units), activation=activation)(x)
    outputs = classifier_output(x, classes, classifier_activation)
    name = "linear" if not hidden else "mlp_" + "_".join(str(u) for u in hidden)
    return keras.Model(inputs, outputs, name=name)
