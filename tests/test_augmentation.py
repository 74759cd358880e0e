"""Data augmentation: the book's ImageDataGenerator settings, validated like the rest, seeded, applied to
training batches only (on the compiled route and on fit), and previewed by `dlcv augment`."""
import json

import cv2
import numpy as np
import pytest
from conftest import ROOT, run_config

BOOK = ["augmentation.rotation_range=30", "augmentation.width_shift_range=0.1", "augmentation.height_shift_range=0.1",
        "augmentation.shear_range=0.2", "augmentation.zoom_range=0.2", "augmentation.horizontal_flip=true"]


def digits(tmp_path, *overrides):
    return run_config(tmp_path, "callbacks.checkpoint=none", *overrides, epochs=2)


@pytest.mark.parametrize("override, message", [
    ("augmentation.rotation_range=-5", "augmentation.rotation_range: input should be greater than or equal to 0"),
    ("augmentation.zoom_range=1.5", "augmentation.zoom_range: input should be less than 1"),
    ("augmentation.fill_mode=mirror", "augmentation.fill_mode: input should be 'nearest', 'reflect', 'wrap' or"),
    ("augmentation.horizontal_flip=maybe", "augmentation.horizontal_flip: input should be a valid boolean"),
    ("augmentation.brightness_range=0.2",
     "augmentation.brightness_range: unknown key; expected one of: rotation_range"),
])
def test_bad_augmentation_settings_are_one_line(dlcv, tmp_path, override, message):
    outcome = dlcv("train", "--set", override, "--set", f"output_dir={tmp_path}")
    assert outcome.code == 2 and outcome.err.count("\n") == 1 and message in outcome.err, outcome.err


def test_the_book_settings_map_onto_keras_layers(keras):
    from dlcv.augmentation import build_augmenter

    augmenter = build_augmenter(digits(".", *BOOK).augmentation, seed=1, classes=10, image_shape=(8, 8, 1))
    kinds = [type(layer).__name__ for layer in augmenter.transforms.layers]
    assert kinds == ["RandomRotation", "RandomTranslation", "RandomShear", "RandomZoom", "RandomFlip"]
    rotation, _, shear, zoom, flip = augmenter.transforms.layers
    assert rotation.factor == pytest.approx((-30 / 360, 30 / 360))  # degrees as a fraction of a turn
    assert shear.x_factor == pytest.approx((0.0, 0.0034907), abs=1e-6)  # tan(0.2 degrees): the book's tiny shear
    assert zoom.height_factor == (-0.2, 0.2) and flip.mode == "horizontal"
    assert build_augmenter(digits(".").augmentation, seed=1, classes=10, image_shape=(8, 8, 1)) is None


@pytest.mark.parametrize("route", ["fast", "fit"])
def test_augmentation_is_seeded_changes_training_and_never_touches_validation(keras, tmp_path, route):
    from dlcv.inputs import model_input
    from dlcv.training.engine import train

    runs = [train(digits(tmp_path / name, f"route={route}", *extra), verbose=0)
            for name, extra in (("a", BOOK), ("b", BOOK), ("plain", []))]
    first, again, plain = ([np.asarray(w) for w in run.model.get_weights()] for run in runs)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, again))  # same seed: same transformations
    assert any(not np.array_equal(a, c) for a, c in zip(first, plain))    # and they did transform
    # the last epoch's val_loss is the trained model's loss on the untouched validation images
    val = runs[0].prepared.splits.val
    history = json.loads((runs[0].run_dir / "history.json").read_text())
    loss, _ = runs[0].model.evaluate(model_input(val.images), val.labels, verbose=0)
    assert history["val_loss"][-1] == pytest.approx(loss, rel=1e-4)
    # and predictions are not random: the same images, the same probabilities
    test = runs[0].prepared.splits.test.images[:16]
    np.testing.assert_array_equal(runs[0].model.predict(model_input(test), verbose=0),
                                  runs[0].model.predict(model_input(test), verbose=0))


def test_dlcv_augment_writes_a_preview_grid(dlcv, tmp_path):
    from data_files import write_class_folders

    root = write_class_folders(tmp_path / "photos", per_class=12)
    outcome = dlcv("augment", ROOT / "configs" / "minivggnet_animals_aug.yaml", "--set", f"dataset.path={root}",
                   "--set", f"output_dir={tmp_path / 'out'}", "--output", tmp_path / "grid.png")
    assert outcome.code == 0, outcome.err
    grid = cv2.imread(str(tmp_path / "grid.png"))
    assert grid is not None and grid.shape[1] > grid.shape[0]  # 8 columns of 6 rows
    refused = dlcv("augment", "--set", f"output_dir={tmp_path}")
    assert refused.code == 2 and "the config asks for no augmentation" in refused.err


MIXED = ["label_smoothing=0.1", "restore_best=true", "callbacks.checkpoint=improvements",
         "augmentation={mixup: 0.4, cutmix: 1.0, random_crop: 1, horizontal_flip: true, random_erasing: 0.25, "
         "rand_augment: {num_ops: 2, factor: 0.5}, color_jitter: {brightness: 0.1, contrast: 0.1}}"]


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
