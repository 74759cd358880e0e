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


def structured_photo(rng: np.random.Generator, size=(160, 120), tint=(120, 120, 120), grain: float = 6) -> np.ndarray:
    """A BGR "photo" with shapes, edges and a gradient (what resizing and perceptual hashing see in real
    photos; pure noise has no low frequencies to keep), tinted towards a class colour."""
    width, height = size
    ramp = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    image = (np.array(tint, np.float32) * (0.6 + 0.4 * ramp)).repeat(height, 0)
    for _ in range(6):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(width // 10, width // 3)), int(rng.integers(height // 10, height // 3)))
        cv2.ellipse(image, centre, axes, float(rng.integers(0, 180)), 0, 360, colour, -1)
    noisy = image + rng.normal(0, grain, image.shape)  # grain: fine detail, as a real photo's texture
    return np.clip(noisy, 0, 255).astype(np.uint8)


def write_photo_folders(root: Path, classes=("cats", "dogs", "panda"), per_class=10, seed=0,
                        size=(160, 120), prefix="") -> Path:
    """<class>/<name>.jpg structured photos, each class tinted its own colour (learnable in a few epochs)."""
    rng = np.random.default_rng(seed)
    tints = [(60, 60, 200), (60, 200, 60), (200, 60, 60), (200, 200, 60)]
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photo = structured_photo(rng, size, tints[c % 4])
            cv2.imwrite(str(root / name / f"{prefix}{name}_{i:03d}.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return root


def opencv_client(path, width: int, height: int, channels: int = 3) -> np.ndarray:
    """What serving.json tells a client to do (decode.steps for resize: simple), written out by hand."""
    image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if channels == 1:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA).reshape(height, width, channels)


def write_oriented_jpegs(folder: Path, upright: np.ndarray) -> dict[int, Path]:
    """The BGR ``upright`` picture stored turned, with the EXIF orientation (3, 6, 8) that turns it back,
    as a phone writes it; orientation 1 is stored as is."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    stored = {1: upright, 3: cv2.rotate(upright, cv2.ROTATE_180),
              6: cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE),  # shown after turning 90° clockwise
              8: cv2.rotate(upright, cv2.ROTATE_90_CLOCKWISE)}
    paths = {}
    for orientation, pixels in stored.items():
        picture = Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))
        exif = Image.Exif()
        exif[0x0112] = orientation
        paths[orientation] = folder / f"orientation{orientation}.jpg"
        picture.save(paths[orientation], quality=95, exif=exif.tobytes())
    return paths


def write_png_bomb(path: Path, side: int = 30000) -> Path:
    """A grey PNG of side x side black pixels: under a megabyte on disk, side**2 bytes once decoded (a
    decompression bomb). Written a row at a time, so making it costs no such memory."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    compressor, row, parts = zlib.compressobj(9), b"\0" * (side + 1), []  # filter byte 0, then the row
    rows_at_once = max(1, (1 << 24) // len(row))
    for start in range(0, side, rows_at_once):
        parts.append(compressor.compress(row * min(rows_at_once, side - start)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts))
                     + chunk(b"IEND", b""))
    return path
