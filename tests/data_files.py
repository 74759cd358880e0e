"""Tiny synthetic datasets on disk, in the exact formats the loaders read (no network, no ../shared)."""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import cv2
import numpy as np


def write_class_folders(root: Path, classes=("cats", "dogs", "panda"), per_class=6, seed=0,
                        size=(24, 40)) -> Path:
    """JPEG/PNG photos of varied sizes; each class has its own dominant colour so models can learn."""
    rng = np.random.default_rng(seed)
    colours = [(40, 40, 200), (40, 200, 40), (200, 40, 40), (200, 200, 40)]
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            h, w = size[0] + int(rng.integers(0, 9)), size[1] + int(rng.integers(0, 9))
            image = np.clip(np.array(colours[c % 4]) + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
            suffix = ".jpg" if i % 2 else ".png"
            cv2.imwrite(str(root / name / f"{name}_{i:03d}{suffix}"), image)
    return root


def add_bad_files(folder: Path, good_jpeg: Path) -> list[Path]:
    """Every kind of unreadable file the loader must skip."""
    png = cv2.imencode(".png", np.full((12, 12, 3), 90, np.uint8))[1].tobytes()
    bad = {
        "zero_bytes.jpg": b"",
        "truncated.jpg": good_jpeg.read_bytes()[: len(good_jpeg.read_bytes()) // 3],
        "truncated.png": png[: len(png) // 2],
        "text_named.jpg": b"this is a text file, not a JPEG\n",
        "random_bytes.png": np.random.default_rng(7).integers(0, 256, 2048, dtype=np.uint8).tobytes(),
        "unsupported.tiff": b"%PDF-1.4 not an image format OpenCV decodes\n" * 10,
    }
    for name, payload in bad.items():
        (folder / name).write_bytes(payload)
    (folder / "broken_link.jpg").symlink_to(folder / "deleted-long-ago.jpg")
    return [folder / name for name in bad] + [folder / "broken_link.jpg"]


def odd_format_images(folder: Path) -> dict[str, Path]:
    """Greyscale, RGBA and 16-bit files (readable, but not 8-bit 3-channel)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    paths = {"grey": folder / "grey.png", "rgba": folder / "rgba.png", "sixteen": folder / "sixteen.png"}
    cv2.imwrite(str(paths["grey"]), grey)
    cv2.imwrite(str(paths["rgba"]), np.dstack([grey, grey, grey, np.full_like(grey, 128)]))
    cv2.imwrite(str(paths["sixteen"]), grey.astype(np.uint16) * 257)
    return paths


def write_mnist_npz(path: Path, train=30, test=10, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
              "y_train": np.arange(train) % 10, "x_test": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
              "y_test": np.arange(test) % 10}
    np.savez(path, **arrays)
    return arrays


def cifar_batches(per_batch=10, seed=0) -> dict[str, dict]:
    """The official pickled batch dicts (bytes keys, rows of 3072 = R plane, G plane, B plane)."""
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {name: {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                   b"labels": [int(v) for v in rng.integers(0, 10, per_batch)]} for name in names}


def write_cifar(root: Path, archive: bool, per_batch=10) -> tuple[Path, dict]:
    batches = cifar_batches(per_batch)
    if archive:
        path = root / "cifar-10-python.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            for name, batch in batches.items():
                payload = pickle.dumps(batch, protocol=2)
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        return path, batches
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, batch in batches.items():
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    return folder, batches


def tiny_split(classes=3, train=48, val=24, seed=0):
    """Two ImageSets of 8x8x1 uint8 images whose class is the brightness band (learnable in one epoch)."""
    from dlcv.data import ImageSet

    rng = np.random.default_rng(seed)

    def part(count):
        labels = np.arange(count) % classes
        images = (labels[:, None, None, None] * (200 // classes) + 20
                  + rng.integers(0, 30, (count, 8, 8, 1))).astype(np.uint8)
        return ImageSet(images, labels.astype(np.int64), [f"c{i}" for i in range(classes)])
    return part(train), part(val)
