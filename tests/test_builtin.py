"""The built-in datasets read from local files: MNIST's npz, CIFAR-10's archive or folder, where they are
looked for, and what is said when they are missing or damaged."""
import numpy as np
import pytest
from data_files import write_cifar, write_mnist_npz

from dlcv.config import DatasetConfig
from dlcv.data import load_dataset
from dlcv.data.builtin import read_cifar10 as load_cifar10
from dlcv.data.builtin import read_mnist as load_mnist
from dlcv.errors import DlcvError


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
