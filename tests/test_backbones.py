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
from conftest import KERAS_MODULES, photo_batch, trained_weights_file

TOLERANCE = 1e-5


def run(model, x) -> np.ndarray:
    """A forward pass in inference mode, eagerly (no graph to trace for a network used twice)."""
    import keras

    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize("name", list(KERAS_MODULES))
def test_each_backbone_is_fed_as_keras_documents_it(keras, name, tmp_path):
    """... and its head applies the task's activation to the scores: every other backbone is built for a
    multi-label task (a sigmoid per class), the rest for one class per image (a softmax), its probabilities
    checked against its scores; then built for the other task too (its activation an argument, never a
    patch)."""
    from dlcv.inputs import model_input
    from dlcv.models import MODELS, build_model
    from dlcv.models.backbones import BACKBONES, backbone_layer, weighted_layers

    assert set(KERAS_MODULES) == {n for n in MODELS if n in BACKBONES}  # every registered backbone, tested
    backbone = BACKBONES[name]
    size = backbone.min_size
    weights, module, reference = trained_weights_file(keras, name, size, tmp_path)  # keras.applications.X
    activation = ("softmax", "sigmoid")[list(KERAS_MODULES).index(name) % 2]
    model = build_model(name, size, size, 3, 3, weights=weights, dropout=0.0, classifier_activation=activation)
    assert len(weighted_layers(backbone_layer(model))) == backbone.weighted_layer_count

    images = photo_batch(size)
    both = keras.Model(model.inputs, [model.get_layer("pooling").output, model.output])
    ours, probabilities = (keras.ops.convert_to_numpy(t)  # dlcv's one input contract: uint8 -> [0, 1]
                           for t in both(model_input(images), training=False))

    pixels = images.astype("float32")
    theirs = run(reference, module.preprocess_input(pixels.copy())).mean(axis=(1, 2))  # global average pooling
    np.testing.assert_allclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE)
    kernel, bias = model.get_layer("head").get_weights()
    logits = theirs @ kernel + bias
    from scipy.special import expit, softmax

    expected = softmax(logits, axis=1) if activation == "softmax" else expit(logits)
    np.testing.assert_allclose(probabilities, expected, atol=TOLERANCE)
    other = {"softmax": "sigmoid", "sigmoid": "softmax"}[activation]
    rebuilt = build_model(name, size, size, 3, 3, weights="none", dropout=0.0, classifier_activation=other)
    assert [model.get_config()["layers"][-1]["config"]["activation"],
            rebuilt.get_config()["layers"][-1]["config"]["activation"]] == [activation, other]

    # The classic silent failure: the network fed [0, 1] pixels (or, where Keras's preprocess_input is not
    # a no-op, [0, 255] without it). The same comparison must catch it.
    wrong = [module.preprocess_input(pixels / 255.0)] + ([pixels] if backbone.input_range != "raw" else [])
    for fed in wrong:
        misfed = run(reference, fed).mean(axis=(1, 2))
        difference = np.nan_to_num(np.abs(ours - misfed), nan=np.inf)  # NaN features are wrong too
        assert difference.max() > 100 * TOLERANCE * max(1.0, np.abs(ours).max())
