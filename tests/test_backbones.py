"""Pretrained backbones (keras.applications): the input preprocessing each one needs, inside the model.

For every registered backbone: a weights file is written by the test (the Keras network with its
BatchNormalization statistics learnt from a few photos, so that its features depend on its input), then
dlcv's model built on that file, fed uint8 photos the way dlcv feeds every model, must give the features
and probabilities of the ``keras.applications.X`` network that wrote the file, fed as Keras documents for
X (``X.preprocess_input`` on pixels in [0, 255]). The same comparison fed the wrong range must fail.
"""
from __future__ import annotations

import numpy as np
import pytest
from data_files import structured_photo

# How Keras documents feeding each network: the module whose preprocess_input applies (stated here, not
# taken from dlcv's table, so that a wrong entry there fails).
KERAS_MODULES = {
    "mobilenet_v2": "mobilenet_v2", "mobilenet_v3_small": "mobilenet_v3", "mobilenet_v3_large": "mobilenet_v3",
    "efficientnet_b0": "efficientnet", "efficientnet_b1": "efficientnet", "efficientnet_b2": "efficientnet",
    "efficientnet_b3": "efficientnet", "efficientnet_v2_b0": "efficientnet_v2", "resnet50": "resnet50",
    "convnext_tiny": "convnext", "vgg16": "vgg16",
}
TOLERANCE = 1e-5


def photos(size: int, count: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tints = [(200, 60, 40), (40, 180, 60), (50, 70, 210)]
    return np.stack([structured_photo(rng, (size, size), tints[i % 3])[..., ::-1] for i in range(count)])


def trained_weights_file(keras, name: str, size: int, folder) -> tuple[str, object, object]:
    """keras.applications' network (no top) with BatchNormalization statistics learnt from a few photos
    (returned with its weights file and the Keras module that documents its input)
    (one training-mode pass with momentum 0: what long training leaves), its weights saved. Freshly
    initialised, its features would barely depend on the input."""
    from dlcv.models.backbones import BACKBONES

    module = getattr(keras.applications, KERAS_MODULES[name])
    network = BACKBONES[name].application()(include_top=False, weights=None, input_shape=(size, size, 3))
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    network(module.preprocess_input(photos(size, seed=1).astype("float32")), training=True)
    for layer in network.layers:  # a few photos' variance can be ~0: floored, so that fine-tuning stays finite
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_variance.assign(np.maximum(keras.ops.convert_to_numpy(layer.moving_variance), 0.01))
    path = str(folder / f"{name}_notop.weights.h5")
    network.save_weights(path)
    return path, module, network


def run(model, x) -> np.ndarray:
    """A forward pass in inference mode, eagerly (no graph to trace for a network used twice)."""
    import keras

    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize("name", list(KERAS_MODULES))
def test_each_backbone_is_fed_as_keras_documents_it(keras, name, tmp_path):
    from dlcv.inputs import model_input
    from dlcv.models import MODELS, build_model
    from dlcv.models.backbones import BACKBONES, backbone_layer, weighted_layers

    assert set(KERAS_MODULES) == {n for n in MODELS if n in BACKBONES}  # every registered backbone, tested
    backbone = BACKBONES[name]
    size = backbone.min_size
    weights, module, reference = trained_weights_file(keras, name, size, tmp_path)  # keras.applications.X
    model = build_model(name, size, size, 3, 3, weights=weights, dropout=0.0)
    assert len(weighted_layers(backbone_layer(model))) == backbone.weighted_layer_count

    images = photos(size)
    both = keras.Model(model.inputs, [model.get_layer("pooling").output, model.output])
    ours, probabilities = (keras.ops.convert_to_numpy(t)  # dlcv's one input contract: uint8 -> [0, 1]
                           for t in both(model_input(images), training=False))

    pixels = images.astype("float32")
    theirs = run(reference, module.preprocess_input(pixels.copy())).mean(axis=(1, 2))  # global average pooling
    np.testing.assert_allclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE)
    kernel, bias = model.get_layer("head").get_weights()
    logits = theirs @ kernel + bias
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probabilities, expected / expected.sum(1, keepdims=True), atol=TOLERANCE)

    # The classic silent failure: the network fed [0, 1] pixels (or, where Keras's preprocess_input is not
    # a no-op, [0, 255] without it). The same comparison must catch it.
    wrong = [module.preprocess_input(pixels / 255.0)] + ([pixels] if backbone.input_range != "raw" else [])
    for fed in wrong:
        misfed = run(reference, fed).mean(axis=(1, 2))
        difference = np.nan_to_num(np.abs(ours - misfed), nan=np.inf)  # NaN features are wrong too
        assert difference.max() > 100 * TOLERANCE * max(1.0, np.abs(ours).max())
