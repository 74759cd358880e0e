"""The data layer: preprocessors, the loader and its bad-file handling, the format loaders, splits,
the HDF5 store, and the tf.data pipelines."""
import signal
import subprocess
import sys
import time
import warnings

import cv2
import h5py
import numpy as np
import pytest
from conftest import ROOT
from data_files import add_bad_files, odd_format_images, write_cifar, write_class_folders, write_mnist_npz

from dlcv.config import DatasetConfig, PreprocessingConfig
from dlcv.data import load_dataset
from dlcv.data.builtin import read_cifar10 as load_cifar10
from dlcv.data.builtin import read_mnist as load_mnist
from dlcv.data.folder import list_labelled_images
from dlcv.data.loader import SimpleDatasetLoader, SkippedImagesWarning
from dlcv.data.split import split_indices
from dlcv.data.store import build_store, load_store
from dlcv.errors import ConfigError, DlcvError
from dlcv.images import read_image
from dlcv.preprocessing import AspectAwarePreprocessor, ImageToArrayPreprocessor, SimplePreprocessor, preprocess_images

# ---- preprocessors -----------------------------------------------------------------------------------


def test_simple_preprocessor_ignores_aspect_ratio():
    image = np.zeros((40, 100, 3), np.uint8)
    assert SimplePreprocessor(32, 16).preprocess(image).shape == (16, 32, 3)
    assert SimplePreprocessor(8, 8).preprocess(np.zeros((20, 30, 1), np.uint8)).shape == (8, 8, 1)


def test_aspect_aware_preprocessor_centre_crops_the_longer_side():
    image = np.zeros((50, 150, 3), np.uint8)
    image[:, 50:100] = 255  # only the centre third is white
    out = AspectAwarePreprocessor(20, 20).preprocess(image)
    assert out.shape == (20, 20, 3) and out.min() >= 250
    tall = np.zeros((150, 50, 3), np.uint8)
    tall[50:100] = 255
    assert AspectAwarePreprocessor(20, 20).preprocess(tall).min() >= 250


@pytest.mark.parametrize("size", [499, 500, 333])
def test_aspect_aware_keeps_a_square_photo_whole(size):
    """The book's version (imutils.resize) made a 499x499 photo 32x31, then kept one column of it: stripes.
    A square photo is simply resized."""
    photo = np.random.default_rng(size).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = AspectAwarePreprocessor(32, 32).preprocess(photo)
    np.testing.assert_array_equal(out, cv2.resize(photo, (32, 32), interpolation=cv2.INTER_AREA))


def test_image_to_array_preprocessor_follows_the_data_format():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    last = ImageToArrayPreprocessor("channels_last").preprocess(image)
    first = ImageToArrayPreprocessor("channels_first").preprocess(image)
    assert last.dtype == np.float32 and last.shape == (2, 3, 3) and first.shape == (3, 2, 3)
    np.testing.assert_array_equal(first, last.transpose(2, 0, 1))
    assert ImageToArrayPreprocessor("channels_last").preprocess(np.zeros((4, 5), np.uint8)).shape == (4, 5, 1)
    with pytest.raises(ValueError, match="data_format"):
        ImageToArrayPreprocessor("NHWC")


def test_preprocessors_chain_in_order():
    image = np.zeros((64, 48, 3), np.uint8)
    loader = SimpleDatasetLoader([SimplePreprocessor(10, 10), ImageToArrayPreprocessor("channels_first")])
    assert loader.preprocessors[0].preprocess(image).shape == (10, 10, 3)
    out = preprocess_images([image, image], PreprocessingConfig(width=12, height=6, channels=1))
    assert out.shape == (2, 6, 12, 1)


# ---- reading files -----------------------------------------------------------------------------------


def test_read_image_is_rgb_and_converts_channels(tmp_path):
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    rgb = read_image(tmp_path / "red.png", channels=3)
    assert rgb[0, 0].tolist() == [200, 0, 0]
    paths = odd_format_images(tmp_path / "odd")
    for name, path in paths.items():
        for channels in (1, 3):
            image = read_image(path, channels=channels)
            assert image.dtype == np.uint8 and image.shape == (20, 30, channels), name
    grey = read_image(paths["grey"], channels=1)
    np.testing.assert_array_equal(read_image(paths["sixteen"], channels=1), grey)  # 16-bit scaled to 8


def test_loader_skips_every_kind_of_bad_file_and_reports_them_once(tmp_path):
    root = write_class_folders(tmp_path / "animals")
    good = sorted((root / "cats").glob("*.jpg"))[0]
    bad = add_bad_files(root / "dogs", good)
    paths, labels, names = list_labelled_images(root)
    assert len(paths) == 18 + len(bad)
    loader = SimpleDatasetLoader([SimplePreprocessor(16, 16)], progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data, label_names = loader.load(paths)
    assert data.shape == (18, 16, 16, 3) and len(label_names) == 18
    assert sorted(loader.skipped) == sorted(str(p) for p in bad)
    skip_warnings = [w for w in caught if issubclass(w.category, SkippedImagesWarning)]
    assert len(skip_warnings) == 1 and f"skipped {len(bad)} unreadable image file(s)" in str(skip_warnings[0].message)


def test_parallel_and_sequential_loading_agree(tmp_path):
    root = write_class_folders(tmp_path / "animals")
    paths, _, _ = list_labelled_images(root)
    chain = [SimplePreprocessor(16, 16)]
    parallel = SimpleDatasetLoader(chain, workers=4, progress=False).load(paths)
    sequential = SimpleDatasetLoader(chain, workers=1, progress=False).load(paths)
    np.testing.assert_array_equal(parallel[0], sequential[0])
    np.testing.assert_array_equal(parallel[1], sequential[1])


def test_loader_prints_progress_every_verbose_images(tmp_path, capsys):
    paths, _, _ = list_labelled_images(write_class_folders(tmp_path / "a"))
    SimpleDatasetLoader([SimplePreprocessor(8, 8)], progress=False).load(paths, verbose=5)
    assert capsys.readouterr().out.count("[INFO] processed") == 3


@pytest.mark.parametrize("setup, message", [
    (lambda p: p / "missing", "dataset folder not found"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no images found under"),
    (lambda p: write_class_folders(p / "one", classes=("cats",)), r"holds one class \('cats'\)"),
])
def test_folder_errors_are_one_line(tmp_path, setup, message):
    with pytest.raises(DlcvError, match=message) as caught:
        list_labelled_images(setup(tmp_path))
    assert "\n" not in str(caught.value)


# ---- built-in datasets from local files --------------------------------------------------------------


def test_mnist_from_a_local_npz(tmp_path):
    arrays = write_mnist_npz(tmp_path / "mnist.npz")
    for path in (tmp_path / "mnist.npz", tmp_path):  # the file itself, or the folder holding it
        data = load_mnist(str(path))
        assert data.images.shape == (40, 28, 28, 1) and data.official_test.sum() == 10
        np.testing.assert_array_equal(data.images[:30, ..., 0], arrays["x_train"])
        np.testing.assert_array_equal(data.labels[30:], arrays["y_test"])


@pytest.mark.parametrize("archive", [True, False])
def test_cifar10_from_the_archive_or_the_extracted_folder(tmp_path, archive):
    path, batches = write_cifar(tmp_path, archive=archive)
    data = load_cifar10(str(path))
    assert data.images.shape == (60, 32, 32, 3) and data.official_test.sum() == 10
    first = batches["data_batch_1"][b"data"][0]
    # RGB, height x width: pixel (0, 1) is (R[1], G[1], B[1]) of the row-major planes
    assert data.images[0, 0, 1].tolist() == [first[1], first[1024 + 1], first[2048 + 1]]
    assert data.labels[-1] == batches["test_batch"][b"labels"][-1]
    assert data.class_names[0] == "airplane" and len(data.class_names) == 10


def test_missing_dataset_offline_says_where_to_put_it(tmp_path, monkeypatch):
    import keras

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))

    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(DlcvError, match="put mnist.npz in datasets/"):
        load_mnist(None)
    with pytest.raises(DlcvError, match="put cifar-10-python.tar.gz in datasets/"):
        load_cifar10(None)


def test_datasets_folder_is_searched(tmp_path, monkeypatch):
    (tmp_path / "datasets").mkdir()
    write_mnist_npz(tmp_path / "datasets" / "mnist.npz")
    monkeypatch.chdir(tmp_path)
    assert len(load_dataset(DatasetConfig(name="mnist")).labels) == 40


def test_corrupt_cifar_archive_is_a_clear_error(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b" + bytes(50))
    with pytest.raises(DlcvError, match="cannot read"):
        load_cifar10(str(tmp_path))


# ---- splits ------------------------------------------------------------------------------------------


def test_split_is_stratified_and_deterministic():
    labels = np.repeat(np.arange(3), 40)
    first = split_indices(labels, 0.25, 0.1, seed=7)
    again = split_indices(labels, 0.25, 0.1, seed=7)
    other = split_indices(labels, 0.25, 0.1, seed=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[2], other[2])
    train, val, test = first
    assert len(np.intersect1d(train, test)) == 0 and len(np.intersect1d(val, test)) == 0
    assert len(train) + len(val) + len(test) == 120
    assert np.bincount(labels[test]).tolist() == [10, 10, 10]


def test_official_split_uses_the_published_test_set(tmp_path):
    write_mnist_npz(tmp_path / "mnist.npz", train=50, test=20)
    data = load_mnist(str(tmp_path))
    train, val, test = split_indices(data.labels, "official", 0.2, seed=0, official_test=data.official_test)
    assert len(test) == 20 and data.official_test[test].all()
    assert len(train) == 40 and not data.official_test[val].any()
    with pytest.raises(ConfigError, match="dataset.test_size: 'official' needs a dataset with an official"):
        split_indices(np.arange(10) % 2, "official", 0.2, seed=0, official_test=None)


# ---- HDF5 store --------------------------------------------------------------------------------------


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
    assert result.code == 2 and "expected an image folder or one of cifar10, digits, mnist" in result.err


# ---- tf.data pipelines -------------------------------------------------------------------------------


def test_seeded_pipelines_shuffle_reproducibly_and_scale_to_the_model_input(keras):
    from dlcv.data import ImageSet
    from dlcv.pipeline import make_pipeline

    data = ImageSet(np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1), np.arange(40), ["a"])

    def epoch(pipeline):
        batches = [pipeline[i] for i in range(len(pipeline))] if hasattr(pipeline, "__getitem__") else list(pipeline)
        return (np.concatenate([keras.ops.convert_to_numpy(x) for x, _ in batches]),
                np.concatenate([keras.ops.convert_to_numpy(y) for _, y in batches]).tolist())

    first = epoch(make_pipeline(data, 8, shuffle=True, seed=3))
    again = epoch(make_pipeline(data, 8, shuffle=True, seed=3))
    assert first[1] == again[1] and first[1] != list(range(40)) and sorted(first[1]) == list(range(40))
    x, order = epoch(make_pipeline(data, 8))
    assert order == list(range(40))
    np.testing.assert_allclose(x.ravel(), np.arange(40) / 255.0, rtol=1e-6)  # uint8 -> [0, 1]


# ---- configs can name every source -------------------------------------------------------------------


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
