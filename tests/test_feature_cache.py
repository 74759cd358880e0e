"""The feature cache's head training (dlcv.training.feature_cache)."""
from __future__ import annotations

import numpy as np
import pytest

from dlcv.data.types import ImageSet


def test_an_epochs_logged_training_metrics_are_its_means_as_fit_logs_them(keras):
    """train_on_batch resets Keras's metrics on every call: the logs must still be the whole epoch's (11
    images in batches of 5 leave a last batch of one), as model.fit logs them on the same batches in the same
    order, class weights included."""
    from dlcv.training.feature_cache import FEATURE_LAYER, FeatureTrainer
    from dlcv.training.plan import EpochPlan

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (11, 4, 4, 3), dtype=np.uint8)
    labels = np.arange(11) % 3
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(keras.layers.Conv2D(6, 1, trainable=False)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="head")(x))
    weights = np.array([1.0, 2.0, 0.5], np.float32)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # the route logs the metrics the model was compiled with, as fit does
    initial = model.get_layer("head").get_weights()
    data = ImageSet(images, labels, ["a", "b", "c"])
    trainer = FeatureTrainer(model, EpochPlan(data, data.subset(np.arange(0)), batch_size=5, seed=1,
                                              class_weight=weights))
    logs = trainer.train_epoch(0)

    order = np.random.default_rng([1, 0]).permutation(11)  # the trainer's order for epoch 0
    features = keras.Input((6,))
    reference = keras.Model(features, keras.layers.Dense(3, activation="softmax")(features))
    reference.layers[-1].set_weights(initial)
    reference.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    fitted = reference.fit(trainer.train_features[order], labels[order], batch_size=5, shuffle=False, epochs=1,
                           class_weight=dict(enumerate(weights)), verbose=0).history
    assert logs["loss"] == pytest.approx(fitted["loss"][0], rel=1e-5)
    assert logs["accuracy"] == pytest.approx(fitted["accuracy"][0], rel=1e-5)
    np.testing.assert_allclose(model.get_layer("head").get_weights()[0], reference.layers[-1].get_weights()[0],
                               rtol=1e-5, atol=1e-6)  # the same steps were taken
