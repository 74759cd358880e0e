"""The built-in datasets: scikit-learn's digits (bundled), and MNIST and CIFAR-10 from local files when
present, else through ``keras.datasets`` (which downloads once into ~/.keras/datasets).

Local files are looked for, in order: the config's ``dataset.path`` (a file or a folder holding it),
``datasets/``, then Keras's cache. The formats are the official ones:

- MNIST: ``mnist.npz`` (``x_train``, ``y_train``, ``x_test``, ``y_test``), as Keras distributes it.
- CIFAR-10: ``cifar-10-python.tar.gz``, or its extracted ``cifar-10-batches-py/`` folder.

    mnist = read_mnist(None)      # ImageSet of 70,000 28x28x1 images; official_test marks the 10,000
"""
from __future__ import annotations

import os
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..config import DatasetConfig, PreprocessingConfig
from ..errors import DlcvError
from ..preprocessing import preprocess_images
from .memory import check_fits
from .registry import register_dataset
from .sources import ArraySource
from .types import ImageSet

MNIST_FILE = "mnist.npz"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _search_dirs(path: str | None) -> list[Path]:
    dirs = [Path(path).expanduser()] if path else []
    return dirs + [Path("datasets"), Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"]


def _find(path: str | None, names: list[str]) -> Path | None:
    if path and Path(path).expanduser().name in names:
        return Path(path).expanduser()
    for folder in _search_dirs(path):
        for name in names:
            if (folder / name).exists():
                return folder / name
    return None


def _combine(x_train, y_train, x_test, y_test, class_names) -> ImageSet:
    images = np.concatenate([x_train, x_test])
    if images.ndim == 3:
        images = images[..., None]
    labels = np.concatenate([y_train, y_test]).astype(np.int64).ravel()
    official_test = np.zeros(len(labels), dtype=bool)
    official_test[len(x_train):] = True
    return ImageSet(images.astype(np.uint8), labels, class_names, official_test)


def _download(what: str, fetch: Callable[[], tuple], where: str) -> tuple:
    try:
        return fetch()
    except Exception as exc:  # no network, a proxy, a half-downloaded cache: all end the same way
        raise DlcvError(f"{what} not found locally and the download failed ({type(exc).__name__}); "
                        f"put {where} in datasets/ or point dataset.path at it") from None


def read_mnist(path: str | None) -> ImageSet:
    """70,000 handwritten digits, 28x28 grey; official split 60,000 train / 10,000 test."""
    found = _find(path, [MNIST_FILE])
    if found is None:
        import keras

        (x_train, y_train), (x_test, y_test) = _download("MNIST", keras.datasets.mnist.load_data, MNIST_FILE)
    else:
        with np.load(found) as f:
            x_train, y_train, x_test, y_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    return _combine(x_train, y_train, x_test, y_test, [str(d) for d in range(10)])


def read_cifar10(path: str | None) -> ImageSet:
    """60,000 32x32 RGB images in 10 classes; official split 50,000 train / 10,000 test."""
    found = _find(path, [CIFAR10_FOLDER, CIFAR10_ARCHIVE])
    if found is None:
        import keras

        (x_train, y_train), (x_test, y_test) = _download("CIFAR-10", keras.datasets.cifar10.load_data,
                                                         CIFAR10_ARCHIVE)
        return _combine(x_train, y_train, x_test, y_test, CIFAR10_CLASSES)
    batches = _read_cifar_batches(found)
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    x_train = np.concatenate([b[0] for b in train])
    y_train = np.concatenate([b[1] for b in train])
    x_test, y_test = batches["test_batch"]
    return _combine(x_train, y_train, x_test, y_test, CIFAR10_CLASSES)


def _read_cifar_batches(found: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The six pickled batches, from the folder or straight out of the archive; images as RGB HWC."""
    wanted = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    raw: dict[str, bytes] = {}
    if found.is_dir():
        for name in wanted:
            if not (found / name).is_file():
                raise DlcvError(f"{found} is missing {name}; expected the extracted {CIFAR10_ARCHIVE}")
            raw[name] = (found / name).read_bytes()
    else:
        try:
            with tarfile.open(found, "r:gz") as archive:
                for member in archive.getmembers():
                    name = Path(member.name).name
                    if name in wanted:
                        raw[name] = archive.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DlcvError(f"cannot read {found}: {exc}; expected the official {CIFAR10_ARCHIVE}") from None
        missing = sorted(set(wanted) - set(raw))
        if missing:
            raise DlcvError(f"{found} is missing {', '.join(missing)}; expected the official {CIFAR10_ARCHIVE}")
    batches = {}
    for name, payload in raw.items():
        batch = pickle.loads(payload, encoding="bytes")  # the official files are Python 2 pickles
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        batches[name] = (data, np.asarray(batch[b"labels"], dtype=np.int64))
    return batches


def read_digits() -> ImageSet:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, works offline)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Pixel intensities are 0..16; stretch them to 0..255 so the images look (and save) like photos.
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return ImageSet(images, digits.target.astype(np.int64), [str(d) for d in range(10)])


@register_dataset("digits")
def load_digits(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> ArraySource:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, works offline)."""
    return _preprocessed(read_digits(), dataset, preprocessing)


@register_dataset("mnist", official_split=True)
def load_mnist(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> ArraySource:
    """MNIST: 70,000 handwritten digits, 28x28 grey (official split 60,000 / 10,000)."""
    return _preprocessed(read_mnist(dataset.path), dataset, preprocessing)


@register_dataset("cifar10", official_split=True)
def load_cifar10(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> ArraySource:
    """CIFAR-10: 60,000 32x32 RGB images in 10 classes (official split 50,000 / 10,000)."""
    return _preprocessed(read_cifar10(dataset.path), dataset, preprocessing)


def _preprocessed(data: ImageSet, dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> ArraySource:
    """The images resized and converted as the config asks, once they are known to fit in memory."""
    height, width, channels = data.images.shape[1:]
    p = preprocessing
    width, height = p.width or p.height or width, p.height or p.width or height  # as preprocessors_for resizes
    check_fits(len(data.images), (height, width, p.channels or channels), dataset, dataset.name)
    return ArraySource(data.with_images(preprocess_images(data.images, p)))
