"""A small photo-like data set made on the spot (``dlcv data sample DIR``), so that every example that needs
a folder of photos runs on a fresh clone: ``<class>/<image>.jpg`` files of shapes drawn over textured,
shaded backgrounds, each class one kind of shape, in varied sizes, colours, positions and turns.

Each class has its shape and a range of hues of its own (overlapping the next class's), over backgrounds
drawn alike for every class, with clutter and grain: a small network learns it in a few epochs, better by
looking at outlines as well as colours.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     counts = write_sample(folder, per_class=4)
    >>> counts
    {'circles': 4, 'squares': 4, 'triangles': 4}
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .. import files
from ..config.schema import DEFAULT_SEPARATOR
from ..errors import DlcvError

CLASSES = ("circles", "squares", "triangles")
PER_CLASS = 100
TABLE_NAME = "labels.csv"
"""The label table ``--table`` writes beside the class folders (path, label: a labels dataset)."""
SIZES = ((80, 128), (64, 112))
"""The range of widths and of heights (photos come in many sizes; a run resizes them)."""


def write_sample(root: str | os.PathLike, per_class: int = PER_CLASS, seed: int = 0,
                 classes: tuple[str, ...] = CLASSES, table: bool = False) -> dict[str, int]:
    """Write ``per_class`` JPEGs of each class under ``root`` (which must be empty or new); the same files
    for the same seed; ``table``: also :data:`TABLE_NAME`, a label table naming each. Returns the count per
    class."""
    root = _new_folder(root)
    if per_class < 1:
        raise DlcvError(f"--per-class {per_class}; expected at least 1 image per class")
    rng = np.random.default_rng(seed)
    for kind, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(per_class):
            image = _picture(rng, kind % len(CLASSES))
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
            (folder / f"{name}_{index:04d}.jpg").write_bytes(encoded.tobytes())
    if table:
        rows = [f"{name}/{name}_{index:04d}.jpg,{name}" for name in classes for index in range(per_class)]
        files.write_text(root / TABLE_NAME, "\n".join(["path,label", *rows]) + "\n")
    return {name: per_class for name in classes}


def write_mosaics(root: str | os.PathLike, count: int = 3 * PER_CLASS, seed: int = 0, tile: int = 32,
                  empty: float = 0.6) -> dict[str, int]:
    """A multi-label data set under ``root`` (empty or new): ``count`` 2x2 mosaics of the sample's pictures
    and empty tiles (each tile empty with probability ``empty``), each labelled with every class it shows
    (none for an all-empty mosaic) in :data:`TABLE_NAME` (``circles|triangles``). Returns the images per class.

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     counts = write_mosaics(folder, count=20)
        >>> counts
        {'circles': 10, 'squares': 10, 'triangles': 12}
    """
    root = _new_folder(root)
    if count < 1:
        raise DlcvError(f"--per-class {count}; expected at least 1 image")
    rng = np.random.default_rng(seed)
    (root / "mosaics").mkdir(parents=True)
    rows, counts = [], {name: 0 for name in CLASSES}
    for index in range(count):
        mosaic = np.full((2 * tile, 2 * tile, 3), 110, np.uint8)
        shown = set()
        for cell in range(4):
            if rng.random() < empty:
                continue
            kind = int(rng.integers(len(CLASSES)))
            picture = cv2.resize(_picture(rng, kind), (tile, tile), interpolation=cv2.INTER_AREA)
            y, x = divmod(cell, 2)
            mosaic[y * tile:(y + 1) * tile, x * tile:(x + 1) * tile] = picture
            shown.add(CLASSES[kind])
        ok, encoded = cv2.imencode(".png", mosaic)
        (root / "mosaics" / f"{index:04d}.png").write_bytes(encoded.tobytes())
        rows.append(f"mosaics/{index:04d}.png,{DEFAULT_SEPARATOR.join(sorted(shown))}")
        for name in shown:
            counts[name] += 1
    files.write_text(root / TABLE_NAME, "\n".join(["path,labels", *rows]) + "\n")
    return counts


def _new_folder(root: str | os.PathLike) -> Path:
    """``root``, new or empty, made and proven writable (one line otherwise: under a file, read-only)."""
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DlcvError(f"{str(root)!r} is not an empty folder; expected a new folder for the sample data set")
    return files.ensure_writable_dir(root)


def _picture(rng: np.random.Generator, kind: int) -> np.ndarray:
    """One BGR picture: a shaded, grainy background, a few stripes, and one to three shapes of ``kind``."""
    width, height = (int(rng.integers(low, high + 1)) for low, high in SIZES)
    top, bottom = rng.integers(60, 160, 3), rng.integers(60, 160, 3)  # muted, as a background
    shade = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    image = (top * (1 - shade) + bottom * shade).repeat(width, axis=1)
    for _ in range(int(rng.integers(1, 4))):  # clutter that every class has
        start = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(image, start, end, _colour(rng), int(rng.integers(1, 3)))
    for _ in range(int(rng.integers(1, 3))):
        _draw(image, rng, kind)
    image += rng.normal(0, 8, image.shape)  # grain
    return cv2.GaussianBlur(np.clip(image, 0, 255).astype(np.uint8), (3, 3), 0)


def _draw(image: np.ndarray, rng: np.random.Generator, kind: int) -> None:
    height, width = image.shape[:2]
    radius = int(rng.integers(min(width, height) // 6, min(width, height) // 3))
    centre = np.array([rng.integers(radius, width - radius + 1), rng.integers(radius, height - radius + 1)])
    colour = _class_colour(rng, kind)
    if kind == 0:
        cv2.circle(image, tuple(int(c) for c in centre), radius, colour, -1, cv2.LINE_AA)
        return
    corners = 4 if kind == 1 else 3
    turn = rng.uniform(0, 2 * np.pi)
    angles = turn + np.arange(corners) * 2 * np.pi / corners
    points = centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    cv2.fillPoly(image, [points.round().astype(np.int32)], colour, cv2.LINE_AA)


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    return tuple(float(c) for c in rng.integers(0, 256, 3))


def _class_colour(rng: np.random.Generator, kind: int) -> tuple[float, float, float]:
    """A bright, saturated BGR colour whose hue lies within 50 degrees of the class's own (red, green or blue
    for the three kinds: neighbouring classes' hues overlap)."""
    hue = (kind * 120 + rng.uniform(-50, 50)) % 360
    pixel = np.array([[[hue / 2, rng.integers(170, 256), rng.integers(170, 256)]]], np.uint8)  # OpenCV's HSV
    return tuple(float(c) for c in cv2.cvtColor(pixel, cv2.COLOR_HSV2BGR)[0, 0])
