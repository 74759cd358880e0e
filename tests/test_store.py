"""The HDF5 store: built from a folder or a named dataset, read back (its files closed), refused when
truncated or interrupted, dlcv data build, and training from it."""
import signal
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import pytest
from conftest import ROOT
from data_files import add_bad_files, write_class_folders, write_mnist_npz

from dlcv.config import PreprocessingConfig
from dlcv.data.folder import list_labelled_images
from dlcv.data.loader import SimpleDatasetLoader, SkippedImagesWarning
from dlcv.data.store import build_store, load_store
from dlcv.errors import DlcvError
from dlcv.preprocessing import SimplePreprocessor


def test_store_round_trip_from_a_folder(tmp_path):
    root = write_class_folders(tmp_path / "animals")
    bad = add_bad_files(root / "cats", sorted((root / "dogs").glob("*.jpg"))[0])
    recipe = PreprocessingConfig(width=16, height=12, channels=3)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        info = build_store(str(root), tmp_path / "animals.h5", recipe, chunk_size=5, progress=False)
    assert info.count == 18 and len(info.skipped) == len(bad) and info.shape == (12, 16, 3)
    stored = load_store(tmp_path / "animals.h5")
    paths, _, names = list_labelled_images(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedImagesWarning)
        decoded, decoded_names = SimpleDatasetLoader([SimplePreprocessor(16, 12)], progress=False).load(paths)
    np.testing.assert_array_equal(stored.images, decoded)
    assert stored.class_names == names == ["cats", "dogs", "panda"]
    np.testing.assert_array_equal(stored.labels, [names.index(n) for n in decoded_names])
    with pytest.raises(DlcvError, match="was built with width 16, the config asks for 32"):
        load_store(tmp_path / "animals.h5", expect=PreprocessingConfig(width=32))


def test_a_store_source_closes_its_files_and_reopens_them_to_read(tmp_path):
    import os

    from dlcv.data.store import StoreSource

    root = write_class_folders(tmp_path / "animals", per_class=4)
    build_store(str(root), tmp_path / "a.h5", PreprocessingConfig(width=8, height=8), progress=False)

    def open_descriptors() -> set[str]:
        return {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                if os.path.exists(f"/proc/self/fd/{fd}")}

    before = open_descriptors()
    with StoreSource(tmp_path / "a.h5") as store:
        first, ok = store.read(np.arange(4))
        assert ok.all() and str(tmp_path / "a.h5") in open_descriptors() - before
    assert str(tmp_path / "a.h5") not in open_descriptors()
    np.testing.assert_array_equal(store.read(np.arange(4))[0], first)  # a read after closing opens it again
    del store
    assert str(tmp_path / "a.h5") not in open_descriptors()  # and the garbage collector closes it


def test_store_of_a_named_dataset_keeps_the_official_split(tmp_path, monkeypatch):
    (tmp_path / "datasets").mkdir()
    write_mnist_npz(tmp_path / "datasets" / "mnist.npz")
    monkeypatch.chdir(tmp_path)  # found in datasets/, as for a user
    build_store("mnist", tmp_path / "mnist.h5", PreprocessingConfig(), progress=False)
    stored = load_store(tmp_path / "mnist.h5")
    assert stored.images.shape == (40, 28, 28, 1) and stored.official_test.sum() == 10


def test_truncated_or_incomplete_stores_are_refused(tmp_path):
    build_store("digits", tmp_path / "digits.h5", PreprocessingConfig(), progress=False)
    payload = (tmp_path / "digits.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DlcvError, match="may be truncated"):
        load_store(tmp_path / "cut.h5")
    with h5py.File(tmp_path / "unfinished.h5", "w") as store:  # what a killed build leaves inside
        store.create_dataset("images", data=np.zeros((3, 8, 8, 1), np.uint8))
        store.create_dataset("labels", data=np.zeros(3, np.int64))
    with pytest.raises(DlcvError, match="is incomplete"):
        load_store(tmp_path / "unfinished.h5")


def test_a_killed_build_leaves_no_store_and_its_temp_file_is_refused(tmp_path):
    root = write_class_folders(tmp_path / "animals", per_class=40)
    target = tmp_path / "animals.h5"
    slow_build = (
        "import sys, time\n"
        "from dlcv.data import sources\n"
        "from dlcv.data.store import build_store\n"
        "from dlcv.config import PreprocessingConfig\n"
        "original = sources.decode_file\n"
        "sources.decode_file = lambda *a, **k: (time.sleep(0.05), original(*a, **k))[1]\n"
        f"build_store({str(root)!r}, {str(target)!r}, PreprocessingConfig(width=8, height=8), chunk_size=4)\n")
    process = subprocess.Popen([sys.executable, "-c", slow_build], cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".tmp-*.h5")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # some chunks written
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not target.exists()
    leftovers = list(tmp_path.glob(".tmp-*.h5"))
    assert len(leftovers) == 1
    with pytest.raises(DlcvError, match="incomplete|truncated"):
        load_store(leftovers[0])


def test_data_build_cli(dlcv, tmp_path):
    root = write_class_folders(tmp_path / "animals")
    result = dlcv("data", "build", root, "--output", tmp_path / "a.h5", "--width", "8", "--height", "8")
    assert result.code == 0, result.err
    assert "18 images of 8x8x3, 3 classes (cats, dogs, panda)" in result.out
    result = dlcv("data", "build", root, "--output", tmp_path / "b.h5")
    assert result.code == 2 and "--width/--height: required" in result.err
    result = dlcv("data", "build", "imagenet", "--output", tmp_path / "c.h5")
    assert result.code == 2
    assert "expected an image folder, a label table (.csv, .jsonl) or one of cifar10, digits, mnist" in result.err


@pytest.mark.parametrize("source", ["folder", "hdf5"])
def test_training_reads_a_folder_or_a_store(keras, tmp_path, source):
    from dlcv.config import load_config
    from dlcv.training.engine import train

    root = write_class_folders(tmp_path / "animals", per_class=12)
    path = root
    if source == "hdf5":
        path = tmp_path / "animals.h5"
        build_store(str(root), path, PreprocessingConfig(width=16, height=16), progress=False)
    config = load_config(overrides=[f"dataset.name={source}", f"dataset.path={path}", "preprocessing.width=16",
                                    "preprocessing.height=16", "model.name=linear", "model.params={}",
                                    "epochs=2", f"output_dir={tmp_path}", "name=run", "dataset.test_size=0.3",
                                    "dataset.val_size=0.2"])
    result = train(config, verbose=0)
    assert result.evaluation.report["weighted avg"]["support"] == 11
    assert result.prepared.class_names == ["cats", "dogs", "panda"]


def test_a_store_built_from_a_multi_label_table_trains_as_that_table(dlcv, tmp_path):
    """Its labels are 0/1 rows: task multilabel (or auto) trains on them, task: single is one line before any
    image is read, as on the table itself."""
    from dlcv.data.sample import write_mosaics

    write_mosaics(tmp_path / "mosaics", count=40)
    store = tmp_path / "mosaics.h5"
    assert dlcv("data", "build", tmp_path / "mosaics" / "labels.csv", "-o", store, "--width", "16",
                "--height", "16").code == 0
    with h5py.File(store) as opened:
        assert opened["labels"].shape == (40, 3) and set(np.unique(opened["labels"][:])) <= {0, 1}
    settings = ["dataset.name=hdf5", f"dataset.path={store}", "model.name=shallownet", "model.params={}",
                "epochs=1", f"output_dir={tmp_path / 'out'}", "callbacks.checkpoint=none"]
    args = [part for setting in settings for part in ("--set", setting)]
    single = dlcv("train", *args, "--set", "task=single")
    assert single.code == 2 and single.err.count("\n") == 1 and "holds several labels per image" in single.err
    trained = dlcv("train", *args, "--set", "task=multilabel")
    assert trained.code == 0, trained.err
    assert "test mAP" in trained.out and (tmp_path / "out" / "quickstart" / "thresholds.json").is_file()
