"""Datasets bigger than memory: streaming from disk, the decode-once cache, one decoder for every path."""
import errno
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from conftest import ROOT
from conftest import folder_config as shared_folder_config
from data_files import add_bad_files, write_class_folders

from dlcv.config import PreprocessingConfig
from dlcv.data import StreamedSet, prepare_data
from dlcv.data.folder import folder_source
from dlcv.errors import DlcvError

RECIPE = PreprocessingConfig(width=16, height=16, channels=3)


def folder_config(root, tmp_path, *overrides):
    return shared_folder_config(root, tmp_path, "dataset.test_size=0.3", "dataset.val_size=0.2", *overrides, size=16)


def big_photos(root, count=12, size=(400, 300)):
    """JPEGs large enough for reduced (1/8-scale) decoding at 16x16, in three colour classes."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(("cats", "dogs", "panda")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            base = np.zeros((size[1], size[0], 3), np.uint8)
            base[..., c] = 180
            noisy = np.clip(base + rng.normal(0, 30, base.shape), 0, 255).astype(np.uint8)
            cv2.imwrite(str(root / name / f"{i:03d}.jpg"), noisy)
    return root


# ---- one decoder ------------------------------------------------------------------------------------


def test_large_jpegs_are_decoded_at_a_reduced_scale(tmp_path):
    from dlcv.images import _reduction, jpeg_size

    root = big_photos(tmp_path / "photos", count=1)
    data = np.fromfile(next((root / "cats").glob("*.jpg")), np.uint8)
    assert jpeg_size(data) == (400, 300)
    assert _reduction(data, (16, 16)) == 8 and _reduction(data, (100, 100)) == 2
    assert _reduction(data, (300, 300)) == 1
    png = cv2.imencode(".png", np.zeros((300, 400, 3), np.uint8))[1]
    assert jpeg_size(png) is None and _reduction(png, (16, 16)) == 1


def test_every_path_sees_the_same_bytes(keras, dlcv, tmp_path):
    """In memory, streamed, from the cache, from `dlcv data build` and in `dlcv predict`: one decoder."""
    from dlcv.data.store import load_store
    from dlcv.inference import load_classifier
    from dlcv.training.engine import train

    root = big_photos(tmp_path / "photos")
    memory = prepare_data(folder_config(root, tmp_path, "dataset.cache=none", "dataset.streaming=false"))
    cached = prepare_data(folder_config(root, tmp_path, "dataset.streaming=false"))
    streamed = prepare_data(folder_config(root, tmp_path, "dataset.cache=none", "dataset.streaming=true"))
    assert isinstance(streamed.splits.train, StreamedSet)
    for part in ("train", "val", "test"):
        held = getattr(memory.splits, part)
        np.testing.assert_array_equal(getattr(cached.splits, part).images, held.images)
        images, labels = getattr(streamed.splits, part).batch(np.arange(len(held.labels)))
        np.testing.assert_array_equal(images, held.images)
        np.testing.assert_array_equal(labels, held.labels)
    assert dlcv("data", "build", root, "--output", tmp_path / "s.h5", "--width", "16", "--height", "16").code == 0
    built = load_store(tmp_path / "s.h5")
    source = folder_source(root, RECIPE)
    everything = source.load(np.arange(len(source)))
    np.testing.assert_array_equal(built.images, everything.images)
    # predict decodes a file exactly as training did
    result = train(folder_config(root, tmp_path), verbose=0)
    run = load_classifier(result.run_dir / "model.h5")
    np.testing.assert_array_equal(run.decode(source.paths[5]), everything.images[5])


# ---- the split, and when to stream ------------------------------------------------------------------


def test_streamed_and_in_memory_runs_split_alike(tmp_path):
    root = write_class_folders(tmp_path / "photos", per_class=10)
    held = prepare_data(folder_config(root, tmp_path, "dataset.streaming=false"))
    streamed = prepare_data(folder_config(root, tmp_path, "dataset.streaming=true"))
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(streamed.splits, part).labels, getattr(held.splits, part).labels)
        images, _ = getattr(streamed.splits, part).batch(np.arange(len(getattr(held.splits, part).labels)))
        np.testing.assert_array_equal(images, getattr(held.splits, part).images)


def test_auto_streams_only_above_the_memory_budget(tmp_path, capsys, console_output):
    root = write_class_folders(tmp_path / "photos", per_class=10)  # 30 images of 16x16x3: 23,040 bytes
    small = prepare_data(folder_config(root, tmp_path, "dataset.memory_budget=20000"))
    assert small.streamed and isinstance(small.splits.train, StreamedSet)
    said = capsys.readouterr().out
    assert "data: streaming from disk: the 30 decoded images (0.00 GiB) exceed the memory budget" in said
    roomy = prepare_data(folder_config(root, tmp_path, "dataset.memory_budget=30000"))
    assert not roomy.streamed and roomy.splits.train.images.dtype == np.uint8
    assert "streaming" not in capsys.readouterr().out


def test_data_that_cannot_fit_in_memory_is_one_line_before_any_image_is_decoded(tmp_path, dlcv):
    """A mistyped size: the bundled digits at 100000 pixels a side (16,000 GiB); a folder whose every batch
    would be larger than the machine (before its cache decodes a file); a folder held in memory on demand
    beyond the budget."""
    digits = dlcv("train", "--set", "preprocessing.height=100000", "--set", f"output_dir={tmp_path}")
    assert digits.code == 2 and len(digits.err.strip().splitlines()) == 1, digits.err
    assert "the 1,797 images of digits at 100000x100000x1 take 16,735.87 GiB, more than the memory budget" in digits.err
    root = write_class_folders(tmp_path / "photos", per_class=10)
    overrides = [a for o in ("dataset.name=folder", f"dataset.path={root}", f"output_dir={tmp_path}",
                             "preprocessing.width=60000", "preprocessing.height=60000") for a in ("--set", o)]
    huge = dlcv("train", *overrides)
    assert huge.code == 2 and "images of a batch of folder at 60000x60000x3" in huge.err, huge.err
    assert not (tmp_path / "cache").exists()  # nothing decoded
    with pytest.raises(DlcvError, match="the 30 images of folder at 16x16x3 take 0.00 GiB, more than the memory "
                                        "budget"):
        prepare_data(folder_config(root, tmp_path, "dataset.streaming=false", "dataset.memory_budget=20000"))


@pytest.mark.parametrize("route", ["auto", "fit"])
def test_a_streamed_run_trains_and_matches_its_in_memory_twin(keras, tmp_path, route):
    from dlcv.training.engine import train

    root = write_class_folders(tmp_path / "photos", per_class=12)
    streamed = train(folder_config(root, tmp_path, "dataset.streaming=true", f"route={route}", "epochs=6"), verbose=0)
    assert streamed.route == {"auto": "fast", "fit": "fit"}[route] and streamed.prepared.streamed
    held = train(folder_config(root, tmp_path / "b", "dataset.streaming=false", "route=fit", "epochs=6"), verbose=0)
    assert streamed.test_accuracy == pytest.approx(held.test_accuracy, abs=0.12)
    assert streamed.test_accuracy > 0.8


# ---- the decode-once cache --------------------------------------------------------------------------


def test_the_cache_is_reused_and_rebuilt_when_its_key_changes(tmp_path, monkeypatch, capsys, console_output):
    from dlcv.data import sources

    root = write_class_folders(tmp_path / "photos", per_class=6)
    config = folder_config(root, tmp_path)
    prepare_data(config)
    assert "cache: decoding 18 images once into" in capsys.readouterr().out
    caches = sorted((tmp_path / "out" / "cache").glob("*.h5"))
    assert len(caches) == 1 and caches[0].name.startswith("photos-16x16x3-")

    def must_not_decode(*args):
        raise AssertionError("a cached image was decoded again")

    with monkeypatch.context() as patched:
        patched.setattr(sources, "decode_file", must_not_decode)
        again = prepare_data(config)
    assert f"cache: reading the decoded images from {caches[0]}" in capsys.readouterr().out
    assert len(again.splits.train.labels) + len(again.splits.val.labels) + len(again.splits.test.labels) == 18

    photo = sorted((root / "dogs").glob("*.png"))[0]  # a changed photo: a new cache
    os.utime(photo, ns=(time.time_ns(), time.time_ns() + 10**9))
    prepare_data(config)
    assert "cache: decoding 18 images" in capsys.readouterr().out
    prepare_data(folder_config(root, tmp_path, "preprocessing.width=8", "preprocessing.height=8"))
    assert "cache: decoding 18 images" in capsys.readouterr().out  # another recipe: another cache
    assert len(list((tmp_path / "out" / "cache").glob("*.h5"))) == 3

    latest = max((tmp_path / "out" / "cache").glob("photos-16x16x3-*.h5"), key=os.path.getmtime)
    latest.write_bytes(latest.read_bytes()[:2000])  # damaged: rebuilt, never used
    rebuilt = prepare_data(config)
    assert "is damaged or from another listing; building it again" in capsys.readouterr().out
    assert rebuilt.splits.train.images.shape[1:] == (16, 16, 3)


SLOW_CACHE_BUILD = (
    "import sys, time\n"
    "from dlcv.data import prepare_data, sources\n"
    "from dlcv.config import load_config\n"
    "original = sources.decode_file\n"
    "sources.decode_file = lambda *a, **k: (time.sleep(0.05), original(*a, **k))[1]\n"
    "prepare_data(load_config(overrides=sys.argv[1:]))\n")


def test_a_killed_cache_build_is_never_used(tmp_path, capsys, console_output):
    root = write_class_folders(tmp_path / "photos", per_class=40)
    config = folder_config(root, tmp_path)
    overrides = ["dataset.name=folder", f"dataset.path={root}", "preprocessing.width=16", "preprocessing.height=16",
                 f"output_dir={tmp_path / 'out'}", "dataset.test_size=0.3", "dataset.val_size=0.2"]
    process = subprocess.Popen([sys.executable, "-c", SLOW_CACHE_BUILD, *overrides], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = tmp_path / "out" / "cache"
    deadline = time.time() + 60
    while not list(cache.glob(".tmp-*.h5")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # some chunks written
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert list(cache.glob(".tmp-*.h5")) and not list(cache.glob("photos-*.h5"))
    prepared = prepare_data(config)
    assert "cache: decoding 120 images once" in capsys.readouterr().out
    assert len(list(cache.glob("photos-*.h5"))) == 1
    assert prepared.splits.train.images.any()


def test_a_full_disk_while_caching_goes_on_without_the_cache(tmp_path, monkeypatch, capsys, console_output):
    real_replace = os.replace

    def full(source, destination, **kwargs):
        if str(destination).endswith(".h5"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(source, destination, **kwargs)

    monkeypatch.setattr(os, "replace", full)
    root = write_class_folders(tmp_path / "photos", per_class=6)
    prepared = prepare_data(folder_config(root, tmp_path))
    err = capsys.readouterr().err
    assert "dlcv: warning: cannot write" in err and "(No space left on device); no cache" in err
    assert [line.startswith("dlcv:") for line in err.splitlines()].count(True) == 1
    assert prepared.splits.train.images.shape[1:] == (16, 16, 3)
    assert not list((tmp_path / "out" / "cache").glob("*"))


# ---- bad files while streaming ----------------------------------------------------------------------


def test_files_that_turn_bad_while_streaming_are_skipped_and_reported(keras, tmp_path, capsys, console_output):
    from dlcv.training.engine import train

    root = write_class_folders(tmp_path / "photos", per_class=12)
    bad = add_bad_files(root / "dogs", sorted((root / "cats").glob("*.jpg"))[0])
    vanished = sorted((root / "panda").glob("*.png"))[-1]

    class DeleteAfterListing(keras.callbacks.Callback):  # gone after the listing, before it is read
        def on_train_begin(self, logs=None):
            vanished.unlink()

    config = folder_config(root, tmp_path, "dataset.cache=none", "dataset.streaming=true", "epochs=2")
    result = train(config, callbacks=[DeleteAfterListing()], verbose=0)
    skipped = set((result.run_dir / "skipped_files.txt").read_text().splitlines())
    assert skipped == {str(p) for p in bad} | {str(vanished)}
    assert f"skipped {len(bad) + 1} unreadable image file(s)" in capsys.readouterr().err
    assert json.loads((result.run_dir / "results.json").read_text())["epochs_run"] == 2
