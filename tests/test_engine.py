"""The training engine (dlcv.training.engine): a folder with bad files trains and says what it skipped, a loss
that turns NaN stops the run keeping the last good model, seeded runs are bit-identical, and a run with
every augmentation and label mixing restores its best epoch and leaves validation alone."""
import json
import math

import numpy as np
import pytest
from conftest import run_config
from data_files import add_bad_files, write_class_folders


def test_a_folder_with_bad_files_trains_and_reports_what_it_skipped(keras, tmp_path, capsys, console_output):
    from dlcv.training.engine import train

    root = write_class_folders(tmp_path / "animals", per_class=10)
    bad = add_bad_files(root / "dogs", sorted((root / "cats").glob("*.jpg"))[0])
    bad += add_bad_files(root / "panda", sorted((root / "cats").glob("*.jpg"))[0])
    config = run_config(tmp_path, "dataset.name=folder", f"dataset.path={root}", "preprocessing.width=8",
                        "preprocessing.height=8", "dataset.test_size=0.25")
    result = train(config, verbose=0)
    assert len(result.prepared.skipped) == len(bad) == 14
    splits = result.prepared.splits
    assert sum(len(s.labels) for s in (splits.train, splits.val, splits.test)) == 30
    warning = [line for line in capsys.readouterr().err.splitlines() if "unreadable" in line]
    assert len(warning) == 1 and "skipped 14 unreadable image file(s)" in warning[0]
    listed = (result.run_dir / "skipped_files.txt").read_text().splitlines()
    assert sorted(listed) == sorted(str(p) for p in bad)
    assert json.loads((result.run_dir / "results.json").read_text())["skipped_files"] == 14


def test_a_loss_that_turns_nan_stops_the_run_and_keeps_the_last_good_model(keras, tmp_path):
    """Weights poisoned before epoch 3 (as a fault would): the run stops, epoch 2's model is kept."""
    from dlcv.errors import TrainingStopped
    from dlcv.runs import RunFolder
    from dlcv.training.engine import train

    class PoisonWeights(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                kernel = self.model.get_layer("class_scores").kernel
                kernel.assign(keras.ops.full(kernel.shape, float("nan")))

    with pytest.raises(TrainingStopped, match="the loss became NaN in epoch 3") as stopped:
        train(run_config(tmp_path, epochs=10), callbacks=[PoisonWeights()], verbose=0)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == 3 and math.isfinite(history["loss"][1]) and math.isnan(history["loss"][2])
    point = RunFolder(tmp_path / "run").resume_point()
    assert point.epoch == 2 and f"the last good model (after epoch 2) is {point.model_path}" in str(stopped.value)
    assert np.isfinite(keras.models.load_model(point.model_path).get_weights()[-2]).all()
    assert not (tmp_path / "run" / "model.h5").exists()  # no NaN model exported


def test_a_run_that_diverges_in_its_first_epoch_says_no_model_was_kept(keras, tmp_path):
    from dlcv.errors import TrainingStopped
    from dlcv.training.engine import train

    class PoisonFirst(keras.callbacks.Callback):  # on TensorFlow a learning rate of 1e4 does it too; not on JAX
        def on_epoch_begin(self, epoch, logs=None):
            kernel = self.model.get_layer("class_scores").kernel
            kernel.assign(keras.ops.full(kernel.shape, float("nan")))

    with pytest.raises(TrainingStopped, match="NaN in epoch 1; no epoch finished with a finite loss"):
        train(run_config(tmp_path, epochs=30), callbacks=[PoisonFirst()], verbose=0)
    assert not (tmp_path / "run" / "model.h5").exists()


@pytest.mark.parametrize("route", ["fast", "fit"])
def test_two_seeded_runs_give_bit_identical_weights(keras, tmp_path, route):
    from dlcv.training.engine import train

    weights = [train(run_config(tmp_path / str(i), f"route={route}"), verbose=0).model.get_weights()
               for i in range(2)]
    assert len(weights[0]) == len(weights[1]) > 0
    for first, second in zip(*weights):
        assert first.tobytes() == second.tobytes()
    assert any(not np.array_equal(w, np.zeros_like(w)) for w in weights[0])


MIXED = ["label_smoothing=0.1", "restore_best=true", "callbacks.checkpoint=improvements",
         "augmentation={mixup: 0.4, cutmix: 1.0, random_crop: 1, horizontal_flip: true, random_erasing: 0.25, "
         "rand_augment: {num_ops: 2, factor: 0.5}, color_jitter: {brightness: 0.1, contrast: 0.1}}"]


@pytest.mark.parametrize("route", ["fast", "fit"])
def test_a_mixed_augmented_run_trains_restores_its_best_epoch_and_leaves_validation_alone(keras, tmp_path, route):
    from dlcv.inputs import model_input
    from dlcv.training.engine import train

    mixed = MIXED
    if keras.backend.backend() == "jax":  # the labels mixed in JAX's stateless step; the image layers (RandAugment
        # takes a minute and more to compile into a scan on a CPU) are the TensorFlow run's to cover
        mixed = [*MIXED[:-1], "augmentation={mixup: 0.4, cutmix: 1.0, horizontal_flip: true}"]
    result = train(run_config(tmp_path, f"route={route}", *mixed, epochs=4), verbose=0)
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
