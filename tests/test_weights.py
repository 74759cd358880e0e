"""ImageNet weights (dlcv.models.weights): offline, a run that needs them stops in one line before any data is
read; dlcv weights fetch fills Keras's cache that training then loads from."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from conftest import BACKBONE, serve_weights
from conftest import transfer_overrides as transfer


def test_without_network_a_run_needing_imagenet_weights_stops_before_any_data(dlcv, tmp_path, photo_folders,
                                                                                monkeypatch):
    from dlcv.models import backbones

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    entry = backbones.BACKBONES[BACKBONE]  # unreachable, as offline
    monkeypatch.setitem(backbones.BACKBONES, BACKBONE, replace(entry, notop=(entry.notop[0], "http://127.0.0.1:9/",
                                                                             entry.notop[2])))
    outcome = dlcv("train", *[a for o in transfer(tmp_path, photo_folders, "offline") for a in ("--set", o)])
    assert outcome.code == 2 and outcome.err.count("\n") == 1, outcome.err
    assert f"ImageNet weights {entry.notop[0]}: not in {tmp_path / 'keras' / 'models'}/" in outcome.err
    assert f"dlcv weights fetch {BACKBONE}" in outcome.err
    assert not (tmp_path / "cache").exists()  # no image was read
    fetched = dlcv("weights", "fetch", BACKBONE, "--to", tmp_path / "fetched")  # the fetch itself, offline
    assert fetched.code == 2 and fetched.err.count("\n") == 1, fetched.err
    assert fetched.err.rstrip().endswith("; run the same command on a machine with network and copy the file there "
                                         "(or mount that folder)")
    doctor = dlcv("doctor", "--set", f"model.name={BACKBONE}", "--set", "preprocessing.width=32", "--set",
                  "preprocessing.height=32")
    assert doctor.code == 1 and f"✗ ImageNet weights {entry.notop[0]} not in" in doctor.out + doctor.err


def test_weights_fetch_fills_the_keras_cache_that_training_loads(keras, dlcv, tmp_path, photo_folders, monkeypatch):
    network = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    network.save(tmp_path / "served.h5")  # the legacy HDF5 layout of Keras's own _no_top.h5 files
    file_name = serve_weights(monkeypatch, "mobilenet_v2", tmp_path / "served.h5")
    home = tmp_path / "home"
    fetched = dlcv("weights", "fetch", "mobilenet_v2", "--to", home)
    assert fetched.code == 0, fetched.err
    assert (home / "models" / file_name).read_bytes() == (tmp_path / "served.h5").read_bytes()
    monkeypatch.setenv("KERAS_HOME", str(home))
    overrides = ["--set", "model.name=mobilenet_v2", "--set", "preprocessing.width=32", "--set",
                 "preprocessing.height=32"]
    assert f"✓ ImageNet weights {file_name} in {home / 'models'}/" in dlcv("doctor", *overrides).out
    from dlcv.models import build_model

    model = build_model("mobilenet_v2", 32, 32, 3, 2, weights="imagenet")  # Keras's own loading, from the cache
    np.testing.assert_array_equal(model.layers[2].get_layer("Conv1").get_weights()[0],
                                  network.get_layer("Conv1").get_weights()[0])
