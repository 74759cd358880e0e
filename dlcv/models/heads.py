"""A classifier's output layers: the class scores (a ``Dense`` layer, the pre-activation output that
heatmaps differentiate), then the head's activation, which the task decides: a softmax over the classes
(one class per image) or a sigmoid per class (multi-label). Every registered builder takes it as
``classifier_activation``, as ``keras.applications`` does: the right model is built, never patched.

    x = classifier_output(features, classes=5, activation="sigmoid")   # Dense(5) -> Activation("sigmoid")
"""
from __future__ import annotations

CLASSIFIER_ACTIVATIONS = ("softmax", "sigmoid")
"""The head activations a task can ask for (:mod:`dlcv.task`)."""
SCORES_LAYER = "class_scores"
"""The name of the Dense layer whose output is the head's pre-activation class scores (the book's networks;
a transfer model's is ``head``)."""


def classifier_output(x, classes: int, activation: str, name: str = SCORES_LAYER, dtype: str | None = None):
    """``Dense(classes, name=name)`` then ``Activation(activation)``: the scores stay a tensor of their own."""
    from keras import layers

    if activation not in CLASSIFIER_ACTIVATIONS:
        raise ValueError(f"classifier_activation {activation!r}: expected one of {', '.join(CLASSIFIER_ACTIVATIONS)}")
    scores = layers.Dense(classes, name=name)(x)
    return layers.Activation(activation, name="predictions", dtype=dtype)(scores)


def output_activation(model) -> str | None:
    """The activation a saved model's last layer applies ("softmax", "sigmoid", or None if neither)."""
    name = getattr(getattr(model.layers[-1], "activation", None), "__name__", None)
    return name if name in CLASSIFIER_ACTIVATIONS else None
