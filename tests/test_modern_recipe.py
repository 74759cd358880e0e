"""The modern recipe's parts: label smoothing, weight averaging with its warm-up and BatchNorm statistics,
MixUp / CutMix and the other augmentations on both routes, restore_best, flip TTA, the 95% interval."""
import json

import numpy as np
import pytest

from dlcv.config import load_config

MIXED = ["label_smoothing=0.1", "restore_best=true", "callbacks.checkpoint=improvements",
         "augmentation={mixup: 0.4, cutmix: 1.0, random_crop: 1, horizontal_flip: true, random_erasing: 0.25, "
         "rand_augment: {num_ops: 2, factor: 0.5}, color_jitter: {brightness: 0.1, contrast: 0.1}}"]


def digits(tmp_path, *overrides):
    return load_config(overrides=[f"output_dir={tmp_path}", "name=run", "epochs=3", *overrides])


def test_label_smoothing_changes_the_loss_of_a_known_batch_by_the_formula(keras):
    from dlcv.model_objects import loss_and_metrics

    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], np.float32)
    labels = np.array([0, 1])
    model = keras.Sequential([keras.Input((3,)), keras.layers.Identity()])
    losses = {}
    for e in (0.0, 0.2):
        model.compile(loss=loss_and_metrics(e)[0], metrics=loss_and_metrics(e)[1])
        losses[e] = model.evaluate(p, labels, verbose=0)[0]
    target = np.eye(3)[labels] * 0.8 + 0.2 / 3                           # (1 - e) y + e / K
    assert losses[0.2] == pytest.approx(np.mean(-(target * np.log(p)).sum(axis=1)), rel=1e-5)
    assert losses[0.0] == pytest.approx(np.mean(-np.log([0.7, 0.3])), rel=1e-5)
    soft = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]], np.float32)    # mixed images' labels
    model.compile(loss=loss_and_metrics(0.0, soft_labels=True)[0])
    expected = np.mean(-(soft * np.log(p)).sum(axis=1))
    assert model.evaluate(p, soft, verbose=0, return_dict=True)["loss"] == pytest.approx(expected, rel=1e-5)


def test_the_average_warms_up_as_tensorflows_moving_average(keras):
    """One weight stepping by +1 per step: the average after each step, by the formula written out here."""
    from dlcv.training.averaging import warm_up

    weight = keras.Variable(np.zeros(1, np.float32))
    optimizer = warm_up(keras.optimizers.SGD(1.0, use_ema=True, ema_momentum=0.9998))
    optimizer.build([weight])
    average, steps = 0.0, 30
    for step in range(steps):
        optimizer.apply([np.full(1, -1.0, np.float32)], [weight])
        momentum = 0.0 if step == 0 else min(0.9998, (1 + step) / (10 + step))
        average = momentum * average + (1 - momentum) * (step + 1)
    optimizer.finalize_variable_values([weight])
    assert float(weight.numpy()[0]) == pytest.approx(average, rel=1e-5)
    assert average > steps * 0.6   # Keras's momentum alone (0.9998 from the first step) would leave ~1.06


def test_weight_averaging_is_what_is_saved_with_batch_norm_statistics_for_it(keras, tmp_path):
    """A run of 76 steps with ema 0.999 (1 / (1 - ema) = 1000 steps): the saved weights are the average,
    which the warm-up keeps near the trained weights, with BatchNormalization statistics of the average."""
    from dlcv.inputs import model_input
    from dlcv.training.engine import train

    initial = {}

    class Initial(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            initial.setdefault("weights", [w.numpy().copy() for w in self.model.trainable_variables])

    config = digits(tmp_path, "epochs=2", "model.name=resnet", "model.params={depth: 20, width: 0.25}",
                    "optimizer={name: sgd, learning_rate: 0.1, ema: 0.999}", "callbacks.checkpoint=none")
    result = train(config, callbacks=[Initial()], verbose=0)
    saved = keras.models.load_model(result.run_dir / "model.keras")
    raw = keras.models.load_model(next((result.run_dir / "checkpoints").glob("last-epoch*.keras")))
    pairs = list(zip(saved.trainable_variables, raw.trainable_variables, initial["weights"]))
    to_raw = sum(float(np.sum((s.numpy() - r.numpy()) ** 2)) for s, r, _ in pairs)
    to_initial = sum(float(np.sum((s.numpy() - i) ** 2)) for s, _, i in pairs)
    assert 0 < to_raw < to_initial / 4          # the average: not the raw weights, nor mostly the initial ones

    train_x = model_input(result.prepared.splits.train.images)
    for model in (saved, raw):
        first_bn = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
        features = keras.Model(model.input, first_bn.input).predict(train_x, verbose=0)
        mean = features.reshape(-1, features.shape[-1]).mean(axis=0)
        spread = features.reshape(-1, features.shape[-1]).std(axis=0) + 1e-3
        gap = np.abs(first_bn.moving_mean.numpy() - mean) / spread
        if model is saved:
            assert gap.max() < 0.1, gap   # statistics of the averaged weights, on the training images
        else:
            assert gap.max() > 0.1, gap   # the raw run's moving statistics lag its weights (momentum 0.99)


def test_mixing_makes_soft_labels_and_colour_is_skipped_on_grey(keras, caplog):
    from dlcv.augmentation import build_augmenter

    settings = digits(".", *MIXED).augmentation
    augmenter = build_augmenter(settings, seed=3, classes=4, image_shape=(8, 8, 1))
    images = np.random.default_rng(0).random((64, 8, 8, 1)).astype(np.float32)
    _, labels = augmenter(images, np.arange(64) % 4, training=True)
    labels = keras.ops.convert_to_numpy(labels)
    assert labels.shape == (64, 4)
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-5)
    assert ((labels > 0.01).sum(axis=1) == 2).sum() > 16            # many images are two classes' mixes
    with caplog.at_level("INFO", logger="dlcv"):
        color = digits(".", "augmentation.color_jitter={saturation: 0.4, hue: 0.1}").augmentation
        assert build_augmenter(color, seed=3, classes=4, image_shape=(8, 8, 1)) is None  # nothing left to do
    assert "saturation and hue are skipped" in caplog.text


@pytest.mark.parametrize("route", ["fast", "fit"])
def test_a_mixed_augmented_run_trains_restores_its_best_epoch_and_leaves_validation_alone(keras, tmp_path, route):
    from dlcv.inputs import model_input
    from dlcv.training.engine import train

    mixed = MIXED
    if keras.backend.backend() == "jax":  # the labels mixed in JAX's stateless step; the image layers (RandAugment
        # takes a minute and more to compile into a scan on a CPU) are the TensorFlow run's to cover
        mixed = [*MIXED[:-1], "augmentation={mixup: 0.4, cutmix: 1.0, horizontal_flip: true}"]
    result = train(digits(tmp_path, f"route={route}", "epochs=4", *mixed), verbose=0)
    history = json.loads((result.run_dir / "history.json").read_text())
    assert max(history["val_accuracy"]) > 0.3                       # it learns (chance: 0.1), on both routes
    best = int(np.argmin(history["val_loss"]))
    # the final model is the best epoch's (its improvement checkpoint), not the last one's
    checkpoint = next((result.run_dir / "checkpoints").glob(f"weights-{best + 1:03d}-*.keras"))
    for ours, theirs in zip(result.model.get_weights(), keras.models.load_model(checkpoint).get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    # validation saw the untouched images: its loss is the best model's smoothed loss on them
    val = result.prepared.splits.val
    loss = result.model.evaluate(model_input(val.images), val.labels, verbose=0)[0]
    assert history["val_loss"][best] == pytest.approx(loss, rel=1e-4)
    results = json.loads((result.run_dir / "results.json").read_text())
    low, high = results["test_accuracy_interval"]
    assert low < results["test_accuracy"] < high and results["test_images"] == len(result.prepared.splits.test.labels)
    if route == "fit":
        _check_flip_tta(keras, result)


def _check_flip_tta(keras, result):
    """``dlcv evaluate --tta flip`` and a loaded run's ``with_tta``: the mean of the image's and its mirror's."""
    from dlcv.app import evaluate
    from dlcv.inference import load_run
    from dlcv.inputs import model_input

    test = result.prepared.splits.test
    model = result.model
    plain = model.predict(model_input(test.images), verbose=0)
    mirrored = model.predict(model_input(test.images[:, :, ::-1].copy()), verbose=0)
    assert not np.allclose(plain, mirrored, atol=1e-3)
    expected = (plain + mirrored) / 2
    evaluation = evaluate(str(result.run_dir / "model.keras"), tta="flip")
    assert evaluation.accuracy == pytest.approx(np.mean(expected.argmax(axis=1) == test.labels))
    run = load_run(result.run_dir / "model.keras").with_tta("flip")
    np.testing.assert_allclose(run.predict_arrays(test.images[:8]), expected[:8], rtol=1e-4, atol=1e-6)


def test_the_interval_is_wilsons():
    from dlcv.evaluation import wilson_interval

    # Wilson's formula written out: (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    z, n, p = 1.959964, 75, 51 / 75
    centre, half = p + z * z / (2 * n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    expected = ((centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n))
    assert wilson_interval(51, 75) == pytest.approx(expected, abs=1e-6)


def test_an_unknown_tta_mode_is_one_line(capsys, tmp_path):
    from dlcv import cli

    for command in (["evaluate", "--model", tmp_path / "m.keras"], ["predict", "--model", tmp_path / "m.keras", "x"]):
        with pytest.raises(SystemExit) as exited:
            cli.main([*map(str, command), "--tta", "rotate"])
        error = capsys.readouterr().err.splitlines()[-1]
        assert exited.value.code == 2 and "argument --tta: invalid choice: 'rotate'" in error, error
