"""A classifier's output for its task: a softmax over the classes (one class per image: what every registered
network ends in) or one sigmoid per class (multi-label: any number of classes per image).

Every builder ends in a softmax, as a ``Dense`` layer's activation or an ``Activation`` layer; the
multi-label network is the same network with that activation a sigmoid, set before the model is first
called, so that its saved file says sigmoid and loads with plain Keras.

    model = multilabel_head(build_model("shallownet", 32, 32, 3, 5))   # five independent probabilities
"""
from __future__ import annotations

import keras


def is_multilabel(model: keras.Model) -> bool:
    """Whether ``model`` ends in a sigmoid per class (a multi-label classifier) rather than a softmax."""
    return getattr(getattr(model.layers[-1], "activation", None), "__name__", None) == "sigmoid"


def multilabel_head(model: keras.Model) -> keras.Model:
    """``model`` with its final softmax turned into a sigmoid per class (in place; returned)."""
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    if not isinstance(last, (keras.layers.Dense, keras.layers.Activation)) or \
            getattr(activation, "__name__", None) != "softmax":
        raise ValueError(f"{model.name}: its last layer {last.name!r} is not a softmax; a registered network ends "
                         "in one (a Dense layer's activation or an Activation layer)")
    last.activation = keras.activations.sigmoid
    return model
