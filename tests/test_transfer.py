"""Transfer learning on a pretrained backbone: the head on the frozen backbone, then a fine-tune; the
feature cache; resuming across the phases; from_run; predict and export.

MobileNetV3-Small at its minimum size (32x32) on a few synthetic photos keeps every run to seconds.
"""
from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import BACKBONE, ROOT, trained_weights_file
from conftest import transfer_overrides as transfer
from data_files import write_photo_folders

from dlcv.config import load_config


@pytest.fixture(scope="module")
def weights_file(keras, tmp_path_factory):
    """MobileNetV3-Small's weights with BN statistics from photos, so its features depend on the input."""
    return trained_weights_file(keras, BACKBONE, 32, tmp_path_factory.mktemp("weights"))[0]  # the file's path


class PhaseProbe:
    """Per epoch: how many weight tensors train, and the backbone's BatchNormalization statistics."""

    def __init__(self, keras):
        class Probe(keras.callbacks.Callback):
            def on_train_begin(probe, logs=None):
                if not hasattr(probe, "trainable"):
                    probe.trainable, probe.before = [], probe.snapshot()
                    probe.first, probe.last = probe.kernel("conv"), probe.kernel("conv_1")

            def on_epoch_begin(probe, epoch, logs=None):
                probe.trainable.append(len(probe.model.trainable_weights))

            def snapshot(probe):
                return {v.path: keras.ops.convert_to_numpy(v)
                        for layer in _bn_layers(keras, probe.model) for v in layer.weights}

            def kernel(probe, name):
                return np.array(probe.model.layers[2].get_layer(name).get_weights()[0])

        self.callback = Probe()


def _bn_layers(keras, model):
    from dlcv.models.backbones import backbone_layer
    from dlcv.models.layout import leaf_layers

    return [layer for layer in leaf_layers(backbone_layer(model))
            if isinstance(layer, keras.layers.BatchNormalization)]


def phases_run(keras, tmp_path, photo_folders, weights_file, route: str):
    """Two epochs of the head, two of fine-tuning its last 5 layers, with a probe."""
    from dlcv.training.engine import train

    config = load_config(overrides=transfer(
        tmp_path, photo_folders, "phases", f"route={route}", "feature_cache=false", "epochs=2",
        f"model.params={{weights: {weights_file}}}", "optimizer.learning_rate=0.01",
        "fine_tune={epochs: 2, unfreeze: 5, learning_rate: 0.0001}"))
    probe = PhaseProbe(keras).callback
    return train(config, callbacks=[probe]), probe


def test_one_backbone_run_two_phases_then_predict_export_and_from_run(keras, tmp_path, photo_folders, weights_file,
                                                                     dlcv):
    """One run, head then fine-tune on the fast route (the fit route's two phases are the killed run's,
    below), then used as users do. One test, so one worker trains it (xdist shares no fixture)."""
    backbone_run = phases_run(keras, tmp_path / "runs", photo_folders, weights_file, "fast")
    check_two_phases(*backbone_run)
    check_predict_and_export(backbone_run, photo_folders, dlcv, tmp_path)
    check_from_run(keras, tmp_path, backbone_run, dlcv)


def check_two_phases(result, probe):
    # Phase 1: the head only (kernel, bias). Phase 2: also the last 5 layers with weights of MobileNetV3-Small
    # (expanded_conv_10 depthwise 1 + squeeze-excite 2 + 2 + project 1, conv_1 1), no BatchNormalization.
    assert probe.trainable == [2, 2, 9, 9]
    after = probe.snapshot()
    assert after.keys() == probe.before.keys() and len(after) > 100
    for path, value in probe.before.items():  # ImageNet's statistics (here: the file's) never replaced
        np.testing.assert_array_equal(after[path], value, err_msg=path)
    history = json.loads((result.run_dir / "history.json").read_text())
    assert len(history["loss"]) == 4
    np.testing.assert_allclose(history["learning_rate"], [0.01, 0.01, 0.0001, 0.0001], rtol=1e-6)
    np.testing.assert_array_equal(probe.kernel("conv"), probe.first)  # frozen throughout
    assert not np.array_equal(probe.kernel("conv_1"), probe.last)     # unfrozen for the fine-tune
    assert (result.run_dir / "training.png").is_file() and not (result.run_dir / "model.h5").exists()


def test_the_feature_cache_trains_the_same_head_as_the_frozen_backbone(keras, tmp_path, photo_folders, weights_file):
    from dlcv.data import prepare_data
    from dlcv.runtime import seed_everything
    from dlcv.training.distribution import Distribution
    from dlcv.training.engine import compile_model
    from dlcv.training.plan import EpochPlan
    from dlcv.training.routes import FeatureRoute, FitRoute, choose_route

    # One batch per epoch and no dropout: both routes take the same steps, whatever their shuffling.
    config = load_config(overrides=transfer(tmp_path, photo_folders, "cached", "epochs=2", "batch_size=64",
                                            f"model.params={{weights: {weights_file}, dropout: 0.0}}"))
    prepared = prepare_data(config)
    train, val = prepared.splits.train, prepared.splits.val
    heads, histories = [], []
    for route in (FeatureRoute("cached", 2, 64), FitRoute("through the backbone", 2, 64)):
        seed_everything(42)
        model = compile_model(prepared.config, 3, 1)
        if not heads:
            assert isinstance(choose_route(prepared.config, train, Distribution(), model), FeatureRoute)
        histories.append(route.fit(model, EpochPlan(train, val, 64, 42), callbacks=[], verbose=0).history)
        heads.append(model.get_layer("head").get_weights())
    for ours, theirs in zip(*heads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)  # the same sums, in another order
    np.testing.assert_allclose(histories[0]["val_loss"], histories[1]["val_loss"], rtol=1e-4)
    assert histories[0]["loss"][-1] < histories[0]["loss"][0]  # the head did learn
    _check_balanced_sampling_on_the_cached_features(model, train, val)


def _check_balanced_sampling_on_the_cached_features(model, train, val):
    """sampling: balanced on the feature-cache route: a part of the training set with classes of 3, 2 and 1
    images, each epoch drawn 2, 2 and 2 times."""
    from dlcv import shuffling
    from dlcv.data import ImageSet
    from dlcv.training import plan
    from dlcv.training.routes import FeatureRoute

    keep = np.concatenate([np.flatnonzero(train.labels == label)[:count] for label, count in ((0, 3), (1, 2), (2, 1))])
    part = ImageSet(train.images[keep], train.labels[keep], train.class_names)
    drawn = []

    def recording(seed, epoch, count, balance=None):
        order = shuffling.epoch_order(seed, epoch, count, balance)
        drawn.append(None if balance is None else np.bincount(balance[order], minlength=3).tolist())
        return order

    original = plan.epoch_order
    plan.epoch_order = recording
    try:
        FeatureRoute("balanced", 2, 4).fit(model, plan.EpochPlan(part, val, 4, 42, balanced=True), callbacks=[],
                                           verbose=0)
    finally:
        plan.epoch_order = original
    assert np.bincount(part.labels).tolist() == [3, 2, 1] and drawn == [[2, 2, 2], [2, 2, 2]]


def test_a_multi_label_head_trains_on_the_cached_features(keras, tmp_path, photo_folders, weights_file):
    """task: multilabel on a pretrained backbone: a sigmoid per class on the head, trained on the feature cache."""
    from dlcv.training.engine import train

    rows = [f"{name}/{p.name},{name}" for name in ("cats", "dogs", "panda")
            for p in sorted((photo_folders / name).iterdir())]
    (tmp_path / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    result = train(load_config(overrides=[
        f"output_dir={tmp_path}", "name=tags", "dataset.name=labels", f"dataset.path={tmp_path / 'labels.csv'}",
        f"dataset.images={photo_folders}", "dataset.val_size=0.2", "preprocessing.width=32", "preprocessing.height=32",
        f"model.name={BACKBONE}", f"model.params={{weights: {weights_file}}}", "task=multilabel", "epochs=2",
        "batch_size=8", "callbacks.checkpoint=none", "callbacks.monitor=false"]), verbose=0)
    assert result.route == "features" and result.model.layers[-1].activation.__name__ == "sigmoid"
    assert result.prepared.splits.train.labels.shape[1] == 3 and (result.run_dir / "thresholds.json").is_file()
    assert {"map", "val_map"} <= set(json.loads((result.run_dir / "history.json").read_text()))


def test_a_run_killed_in_the_fine_tune_phase_resumes_there(keras, tmp_path, photo_folders, weights_file, caplog):
    """The head on cached features, then the fine-tune on the fit route (Keras's fit), killed there and
    resumed there; BN never moved."""
    args = [a for pair in (("--set", o) for o in transfer(
        tmp_path, photo_folders, "killed", "route=fit", "epochs=1", f"model.params={{weights: {weights_file}}}",
        "fine_tune={epochs: 3, unfreeze: all, learning_rate: 0.001}")) for a in pair]
    record = tmp_path / "killed" / "checkpoints" / "last.json"
    history_path = tmp_path / "killed" / "history.json"
    process = subprocess.Popen([sys.executable, "-m", "dlcv", "train", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    while process.poll() is None and (not record.exists() or json.loads(record.read_text())["epoch"] < 2):
        assert time.time() < deadline, "no epoch of the fine-tune phase committed"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate()
    assert process.returncode == -signal.SIGKILL, f"the run finished before the kill: {stderr.decode()[-500:]}"
    committed = json.loads(record.read_text())["epoch"]
    assert 2 <= committed < 4
    before = json.loads(history_path.read_text())

    from dlcv import app

    with caplog.at_level(logging.INFO, logger="dlcv"):  # resumed in this process: one TensorFlow start less
        app.train(None, overrides=[o for o in args if o != "--set"], resume=True)
    said = caplog.text
    assert f"resuming after epoch {committed}" in said
    assert "fine-tune phase" in said and "head phase" not in said
    history = json.loads(history_path.read_text())
    assert all(len(values) == 4 for values in history.values())  # every epoch once
    assert json.loads((tmp_path / "killed" / "results.json").read_text())["epochs_run"] == 4  # not 4 - committed
    import keras

    model = keras.models.load_model(tmp_path / "killed" / "model.keras")
    pretrained = keras.applications.MobileNetV3Small(include_top=False, weights=weights_file, input_shape=(32, 32, 3))
    ours = [keras.ops.convert_to_numpy(v) for layer in _bn_layers(keras, model)
            for v in (layer.moving_mean, layer.moving_variance)]
    theirs = [keras.ops.convert_to_numpy(v) for layer in pretrained.layers
              if isinstance(layer, keras.layers.BatchNormalization) for v in (layer.moving_mean, layer.moving_variance)]
    assert len(theirs) > 50 and len(ours) == len(theirs)
    for mine, loaded in zip(ours, theirs):  # the file's statistics, never moved by a training batch
        np.testing.assert_array_equal(mine, loaded)
    assert all(history[key][:committed] == before[key][:committed] for key in history)
    assert history["learning_rate"] == pytest.approx([0.05] + [0.001] * 3)


def test_a_backbone_with_random_weights_trains_whole_like_any_network(keras, tmp_path):
    """weights: none is a network trained from scratch: its BatchNormalization learns the data's statistics
    (frozen at 0/1, every image gave the same features and the loss stayed at ln 3), with a momentum that
    fits the run's few steps, so that the model scores on images it did not train on (with the
    applications' 0.999 it learnt its training images, 0.95 here, and scored chance, 0.33, on the test
    split)."""
    from dlcv.training.engine import train

    photos = write_photo_folders(tmp_path / "photos", per_class=24, size=(64, 48))
    config = load_config(overrides=transfer(tmp_path, photos, "scratch", "epochs=8", "dataset.test_size=0.25",
                                            "model.params={weights: none, trainable: true, dropout: 0.0}",
                                            "optimizer={name: adam, learning_rate: 0.001}", "callbacks.monitor=false",
                                            "callbacks.checkpoint=none"))
    result = train(config, verbose=0)
    history = json.loads((result.run_dir / "history.json").read_text())
    assert min(history["loss"][-2:]) < 0.5 * history["loss"][0]  # frozen at 0/1 statistics: ln 3 throughout
    test = result.prepared.splits.test
    assert len(test.labels) == 18 and result.test_accuracy >= 0.6  # held out; chance: 1/3 (0.78 when written)
    means = [keras.ops.convert_to_numpy(layer.moving_mean) for layer in _bn_layers(keras, result.model)]
    assert all(np.any(mean != 0) for mean in means)  # every BatchNormalization layer learnt its statistics


def test_random_weights_frozen_are_refused(dlcv, tmp_path, photo_folders):
    overrides = transfer(tmp_path, photo_folders, "frozen-random", "model.params={weights: none}")
    refused = dlcv("train", *[a for o in overrides for a in ("--set", o)])
    assert refused.code == 2 and "model.params.weights: none gives mobilenet_v3_small random weights" in refused.err


def check_from_run(keras, tmp_path, backbone_run, dlcv):
    """from_run starts from the finished run's network with a new head; its input size is the run's."""
    from dlcv.app import load_checked_config
    from dlcv.training.engine import train

    two_classes = tmp_path / "two"
    write_photo_folders(two_classes, classes=("day", "night"), per_class=8, seed=3)
    overrides = [f"output_dir={tmp_path}", "name=adapted", "dataset.name=folder", f"dataset.path={two_classes}",
                 "dataset.val_size=0.2", "model.name=from_run", f"model.params={{run: {backbone_run[0].run_dir}}}",
                 "epochs=1", "batch_size=8", "optimizer.learning_rate=0.01"]
    config, _ = load_checked_config(None, overrides=overrides)
    assert (config.preprocessing.width, config.preprocessing.height, config.preprocessing.channels) == (32, 32, 3)
    result = train(config)
    assert result.route == "features" and result.model.output_shape == (None, 2)
    body = result.model.layers[1]
    base = backbone_run[0].model
    np.testing.assert_array_equal(body.get_layer(base.layers[2].name).get_weights()[0],
                                  base.layers[2].get_weights()[0])  # frozen: the run's backbone as it was
    # Heatmaps through two nested models (the run's body, and the MobileNetV3 inside it)
    explained = dlcv("explain", "--model", result.run_dir, two_classes / "day", "--output", tmp_path / "why")
    assert explained.code == 0, explained.err
    listed = json.loads((tmp_path / "why" / "explain.json").read_text())
    assert len(listed["images"]) == 8 and min(listed["map_size"]) >= 7
    assert all(np.load(tmp_path / "why" / e["heatmap"]).sum() == pytest.approx(1.0, abs=1e-4)
               for e in listed["images"])
    refused = dlcv("train", *[a for o in overrides for a in ("--set", o)], "--set", "preprocessing.width=48")
    assert refused.code == 2 and "preprocessing.width: 48, but the network of" in refused.err
    from dlcv.models import build_model

    for activation in ("softmax", "sigmoid"):  # built for either task, its activation an argument
        adapted = build_model("from_run", 32, 32, 3, 2, run=str(backbone_run[0].run_dir),
                              classifier_activation=activation)
        assert adapted.get_config()["layers"][-1]["config"]["activation"] == activation


def check_predict_and_export(backbone_run, photo_folders, dlcv, tmp_path):
    """predict and an export (SavedModel, checked against Keras by dlcv export) take uint8 images, the
    backbone's preprocessing inside, and give the same labels."""
    run_dir = backbone_run[0].run_dir
    labelled = dlcv("predict", "--model", run_dir / "model.keras", photo_folders / "cats", "--format", "csv")
    assert labelled.code == 0, labelled.err
    assert len(labelled.out.strip().splitlines()) == 1 + 8
    exported = dlcv("export", run_dir, "--format", "saved_model", "--output", tmp_path / "export")
    assert exported.code == 0, exported.err
    for model in (tmp_path / "export" / "saved_model",):
        again = dlcv("predict", "--model", model, photo_folders / "cats", "--format", "csv")
        assert again.code == 0, again.err
        assert [line.split(",")[:2] for line in again.out.splitlines()] == \
            [line.split(",")[:2] for line in labelled.out.splitlines()]


# ---- ImageNet weights offline --------------------------------------------------------------------------
