"""Image input layout shared by the builders: (H, W, C) or (C, H, W), per Keras's image data format; their
BatchNormalization momentum parameter; and the walk over a built model's layers."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

BatchNormMomentum = Annotated[float, Field(gt=0, lt=1)]
"""``batch_norm_momentum``, a builder parameter of the networks with BatchNormalization: how much of the moving
statistics each training step keeps (Keras's ``momentum``; 0.99 remembers about 100 steps)."""


def image_input(width: int, height: int, depth: int):
    import keras

    if keras.config.image_data_format() == "channels_first":
        return keras.Input(shape=(depth, height, width))
    return keras.Input(shape=(height, width, depth))


def channel_axis() -> int:
    """The axis BatchNormalization normalises: the channels."""
    import keras

    return 1 if keras.config.image_data_format() == "channels_first" else -1


def leaf_layers(model) -> list:
    """Every layer of ``model`` that is not itself a model, nested models' included, input to output."""
    import keras

    leaves = []
    for layer in model.layers:
        leaves.extend(leaf_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return leaves


def batch_norm_start_share(model, steps: int) -> float | None:
    """How much of a trainable BatchNormalization layer's moving statistics is still their 0/1 start after
    ``steps`` training steps: ``momentum ** steps`` for the slowest layer (None: no such layer). Keras's 0.99
    averages over about 100 steps: the Animals sample's 202 training photos in batches of 32 (7 steps an epoch)
    for 15 epochs leave 35% of the start in them, and a model right on its training images scores near chance
    on any other.

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(momentum=0.9)])
    >>> round(batch_norm_start_share(model, 10), 3), batch_norm_start_share(keras.Sequential([keras.Input((4,))]), 10)
    (0.349, None)
    """
    momentum = slowest_batch_norm_momentum(model)
    return momentum ** steps if momentum is not None else None


def slowest_batch_norm_momentum(model) -> float | None:
    """The highest momentum of ``model``'s trainable BatchNormalization layers (None: it has none)."""
    momenta = [float(layer.momentum) for layer in batch_norm_layers(model)]
    return max(momenta) if momenta else None


def batch_norm_layers(model) -> list:
    """The BatchNormalization layers that train, nested models' included (a frozen backbone's keep their own
    statistics)."""
    import keras

    return [layer for layer in leaf_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]


def one_epoch_momentum(steps_per_epoch: int) -> float:
    """The BatchNormalization momentum that remembers about one epoch (1 - 1 / steps per epoch, at least 0.5):
    a short run's moving statistics then follow its weights as they change.

    >>> one_epoch_momentum(7), one_epoch_momentum(100), one_epoch_momentum(1)
    (0.8571428571428572, 0.99, 0.5)
    """
    return 1.0 - 1.0 / max(steps_per_epoch, 2)
