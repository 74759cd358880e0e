"""The reliability suite: what an unattended run survives — kills, unwritable folders, bad files, bad
configs, divergence — and what it promises: atomic outputs and bit-identical seeded runs."""
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from data_files import add_bad_files, write_class_folders

from dlcv import cli
from dlcv.config import load_config


def short_config(tmp_path, *overrides):
    return load_config(overrides=[f"output_dir={tmp_path}", "name=run", "epochs=3", *overrides])


# ---- SIGKILL and --resume ---------------------------------------------------------------------------


def _history(path: Path) -> dict[str, list]:
    try:  # not "if path.exists()": a fresh start's run.clear() can remove it between the check and the read
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


@pytest.mark.slow
def test_five_sigkills_at_random_points_each_resumed(tmp_path):
    """Kill a real training process five times at random moments, resume each time, lose nothing."""
    seed = int.from_bytes(os.urandom(4), "little")
    rng, epochs = random.Random(seed), 25  # five kills take 5-20 epochs: the last run still trains some
    context = f"(kill points drawn with random seed {seed})"
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"  # tracked too: a resumed run continues its MLflow run
    args = ["--set", f"output_dir={tmp_path}", "--set", "name=killed", "--set", f"epochs={epochs}",
            "--set", "callbacks.checkpoint=improvements", "--set", f"tracking.mlflow.uri={store}"]
    run_dir = tmp_path / "killed"
    history_path = run_dir / "history.json"
    committed = []  # (epochs the resume record had committed, the history as it stood) at each kill
    record_path = run_dir / "checkpoints" / "last.json"
    for kill in range(5):
        # A kill before the first epoch is committed leaves nothing to resume: start afresh, as a user would.
        command = [sys.executable, "-m", "dlcv", "train", *args] + (["--resume"] if record_path.exists() else [])
        # in tmp_path: MLflow puts an SQLite store's artefacts in ./mlruns
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        target = len(_history(history_path).get("loss", [])) + rng.randint(1, 4)
        deadline = time.time() + 120
        while len(_history(history_path).get("loss", [])) < target and process.poll() is None:
            assert time.time() < deadline, f"no progress before kill {kill + 1} {context}"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.4))  # anywhere in the epoch: mid-batch, mid-plot, mid-checkpoint
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate()
        assert process.returncode == -signal.SIGKILL, f"kill {kill + 1} came too late {context}: " \
                                                      f"{stderr.decode()[-500:]}"
        epoch = json.loads(record_path.read_text())["epoch"] if record_path.exists() else 0
        committed.append((epoch, _history(history_path)))

    assert record_path.exists(), context
    finished = subprocess.run([sys.executable, "-m", "dlcv", "train", *args, "--resume"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    history = _history(history_path)
    assert history and all(len(values) == epochs for values in history.values()), context
    for epoch, before in committed:  # epochs committed before a kill are kept as they were, not re-run
        assert all(history[key][:epoch] == before[key][:epoch] for key in history), context
    import keras

    checkpoints = sorted((run_dir / "checkpoints").glob("*.keras")) + [run_dir / "model.h5"]
    assert len(checkpoints) >= 3
    for checkpoint in checkpoints:
        keras.models.load_model(checkpoint)
    assert not list(run_dir.rglob(".tmp-*")) and not (run_dir / ".lock").exists(), context
    assert json.loads((run_dir / "results.json").read_text())["epochs_run"] == epochs  # before the kills too
    # one MLflow run, FINISHED, holding each epoch once as the run folder has it (a kill before the first
    # commit is a fresh start: the run it replaced is ended KILLED, never left RUNNING)
    from mlflow import MlflowClient

    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("dlcv").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED"] + ["KILLED"] * (len(runs) - 1), context
    (finished_run,) = [r for r in runs if r.info.status == "FINISHED"]
    assert finished_run.info.run_id == json.loads((run_dir / "mlflow.json").read_text())["run_id"]
    logged = client.get_metric_history(finished_run.info.run_id, "loss")
    assert [m.step for m in logged] == list(range(epochs)), context
    assert [m.value for m in logged] == pytest.approx(history["loss"], rel=1e-6)


# ---- atomic outputs; an output folder that cannot be written ----------------------------------------


def test_every_artefact_of_a_run_is_written_by_rename(keras, tmp_path, monkeypatch):
    renamed, real_replace = set(), os.replace

    def recording_replace(source, destination, **kwargs):
        renamed.add(Path(destination).resolve())
        return real_replace(source, destination, **kwargs)

    monkeypatch.setattr(os, "replace", recording_replace)
    from dlcv.training.engine import train

    result = train(short_config(tmp_path, "callbacks.checkpoint=improvements"), verbose=0)
    written = {path.resolve() for path in result.run_dir.rglob("*") if path.is_file()}
    assert {"history.json", "model.h5", "results.json", "confusion_matrix.png"} <= {p.name for p in written}
    assert written - renamed == set()  # none was written in place, where a kill would leave half a file
    assert not list(result.run_dir.rglob(".tmp-*"))


def _unwritable_folders(tmp_path: Path) -> dict[str, Path]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folders = {"below a file": blocker / "runs"}
    if os.geteuid() != 0:  # root writes anywhere, whatever the mode bits say
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o500)
        folders["read-only"] = read_only
    return folders


def test_an_unwritable_output_folder_is_refused_before_any_data_is_read(tmp_path, monkeypatch, capsys):
    from dlcv import app
    from dlcv.training import engine

    def must_not_run(*args, **kwargs):
        raise AssertionError("the data was read (or Keras started) before the output folder was checked")

    monkeypatch.setattr(engine, "prepare_data", must_not_run)
    monkeypatch.setattr(app, "start_keras", must_not_run)
    for why, folder in _unwritable_folders(tmp_path).items():
        code = cli.main(["train", "--set", f"output_dir={folder}", "--set", "name=run"])
        error = capsys.readouterr().err
        assert code == 2, why
        assert error.count("\n") == 1 and "is not writable" in error and str(folder) in error, why


# ---- a folder of images with every kind of bad file -------------------------------------------------


def test_a_folder_with_bad_files_trains_and_reports_what_it_skipped(keras, tmp_path, capsys, console_output):
    from dlcv.training.engine import train

    root = write_class_folders(tmp_path / "animals", per_class=10)
    bad = add_bad_files(root / "dogs", sorted((root / "cats").glob("*.jpg"))[0])
    bad += add_bad_files(root / "panda", sorted((root / "cats").glob("*.jpg"))[0])
    config = short_config(tmp_path, "dataset.name=folder", f"dataset.path={root}", "preprocessing.width=8",
                          "preprocessing.height=8", "dataset.test_size=0.25")
    result = train(config, verbose=0)
    assert len(result.prepared.skipped) == len(bad) == 14
    assert sum(len(s.labels) for s in vars(result.prepared.splits).values()) == 30
    warning = [line for line in capsys.readouterr().err.splitlines() if "unreadable" in line]
    assert len(warning) == 1 and "skipped 14 unreadable image file(s)" in warning[0]
    listed = (result.run_dir / "skipped_files.txt").read_text().splitlines()
    assert sorted(listed) == sorted(str(p) for p in bad)
    assert json.loads((result.run_dir / "results.json").read_text())["skipped_files"] == 14


# ---- malformed configs ------------------------------------------------------------------------------

# Every leaf of the schema, with values that are the wrong type or out of range for it. Strict
# validation: "10" is not an int, 1 is not a bool, 1.5 is not an int.


# ---- divergence; determinism -------------------------------------------------------------------------


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
        train(short_config(tmp_path, "epochs=10"), callbacks=[PoisonWeights()], verbose=0)
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
        train(short_config(tmp_path, "epochs=30"), callbacks=[PoisonFirst()], verbose=0)
    assert not (tmp_path / "run" / "model.h5").exists()


@pytest.mark.parametrize("route", ["fast", "fit"])
def test_two_seeded_runs_give_bit_identical_weights(keras, tmp_path, route):
    from dlcv.training.engine import train

    weights = [train(short_config(tmp_path / str(i), f"route={route}"), verbose=0).model.get_weights()
               for i in range(2)]
    assert len(weights[0]) == len(weights[1]) > 0
    for first, second in zip(*weights):
        assert first.tobytes() == second.tobytes()
    assert any(not np.array_equal(w, np.zeros_like(w)) for w in weights[0])


MIXED = ["label_smoothing=0.1", "restore_best=true", "callbacks.checkpoint=improvements",
         "augmentation={mixup: 0.4, cutmix: 1.0, random_crop: 1, horizontal_flip: true, random_erasing: 0.25, "
         "rand_augment: {num_ops: 2, factor: 0.5}, color_jitter: {brightness: 0.1, contrast: 0.1}}"]


def digits(tmp_path, *overrides):
    return load_config(overrides=[f"output_dir={tmp_path}", "name=run", "epochs=3", *overrides])


def _check_flip_tta(keras, result):
    """``dlcv evaluate --tta flip`` and a loaded run's ``with_tta``: the mean of the image's and its mirror's."""
    from dlcv.app import evaluate
    from dlcv.inference import load_classifier
    from dlcv.inputs import model_input

    test = result.prepared.splits.test
    model = result.model
    plain = model.predict(model_input(test.images), verbose=0)
    mirrored = model.predict(model_input(test.images[:, :, ::-1].copy()), verbose=0)
    assert not np.allclose(plain, mirrored, atol=1e-3)
    expected = (plain + mirrored) / 2
    evaluation = evaluate(str(result.run_dir / "model.keras"), tta="flip")
    assert evaluation.accuracy == pytest.approx(np.mean(expected.argmax(axis=1) == test.labels))
    run = load_classifier(result.run_dir / "model.keras").with_tta("flip")
    np.testing.assert_allclose(run.predict_arrays(test.images[:8]), expected[:8], rtol=1e-4, atol=1e-6)


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


def test_a_focal_loss_run_trains_and_reports_balanced_accuracy_and_macro_f1(keras, tmp_path):
    """loss: focal trains (Keras's focal cross-entropy); results.json's balanced accuracy and macro F1 are
    scikit-learn's on the saved model's own test predictions."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from dlcv.inputs import model_input
    from dlcv.training.engine import train

    result = train(short_config(tmp_path, "loss=focal", "model.name=linear", "model.params={}", "epochs=5",
                                "callbacks.checkpoint=none", "callbacks.monitor=false"), verbose=0)
    assert result.test_accuracy > 0.8  # trained: ten classes, chance is 0.1
    assert type(result.model.loss).__name__ == "FocalCrossEntropy"
    results = json.loads((result.run_dir / "results.json").read_text())
    test = result.prepared.splits.test
    saved = keras.saving.load_model(result.run_dir / "model.keras")
    predicted = np.asarray(saved.predict(model_input(test.images), verbose=0)).argmax(axis=1)
    assert results["test_balanced_accuracy"] == pytest.approx(balanced_accuracy_score(test.labels, predicted))
    assert results["test_macro_f1"] == pytest.approx(f1_score(test.labels, predicted, average="macro"))
