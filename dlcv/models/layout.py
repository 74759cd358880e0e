"""Image input layout shared by the builders: (H, W, C) or (C, H, W), per Keras's image data format; and
the walk over a built model's layers."""
from __future__ import annotations


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
