"""Reading image files into arrays with one channel convention for the whole project.

OpenCV decodes to BGR; Keras's datasets (CIFAR-10) and ``tf.io.decode_image`` give RGB. dlcv uses **RGB**
everywhere, so an image read here, a CIFAR-10 array and a tf.data-decoded file agree pixel for pixel.
Greyscale, RGBA and 16-bit files are converted to the requested channel count and to uint8.

    image = read_image("cats/cats_00039.jpg", channels=3)   # uint8, (H, W, 3), RGB
"""
from __future__ import annotations

import os
from typing import Iterable

import cv2
import numpy as np

from .errors import DlcvError

# A damaged file is reported once, by whoever skips it; OpenCV's own "[ WARN ]" lines would repeat it.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class UnreadableImage(DlcvError):
    """The file exists but is not an image OpenCV can decode."""


def read_image(path: str | os.PathLike, channels: int | None = 3) -> np.ndarray:
    """Decode one file to uint8 (H, W, C), RGB for C=3; ``channels=None`` keeps the file's own (1 or 3)."""
    try:
        data = np.fromfile(path, dtype=np.uint8) if os.path.getsize(path) else np.empty(0, np.uint8)
    except OSError as exc:  # a broken link, no read permission, a file deleted since it was listed
        raise UnreadableImage(f"cannot read image {os.fspath(path)!r} ({exc.strerror or exc})") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise UnreadableImage(f"cannot decode image {os.fspath(path)!r}; expected a JPEG/PNG/BMP/TIFF file")
    return to_uint8_channels(image, channels, bgr=True)


def to_uint8_channels(image: np.ndarray, channels: int | None, bgr: bool = False) -> np.ndarray:
    """Convert any 2-D/3-D image array to uint8 with ``channels`` (1 or 3) channels, RGB order."""
    if image.dtype == np.uint16:
        image = (image / 257.0).round().astype(np.uint8)  # 65535 -> 255
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = image[:, :, None]
    have = image.shape[2]
    if have == 4:  # drop alpha
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR if bgr else cv2.COLOR_RGBA2RGB)
        have = 3
    elif have == 3 and bgr:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    want = have if channels is None else channels
    if want == have:
        return image
    if want == 1:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
    return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2RGB)


def list_images(folder: str | os.PathLike) -> list[str]:
    """Image files below ``folder`` (recursively), sorted so that runs are reproducible."""
    paths = []
    for root, _dirs, files in os.walk(folder):
        paths.extend(os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(paths)


def expand_image_paths(inputs: Iterable[str]) -> list[str]:
    """Files as given, folders expanded to the images below them; a missing path is an error."""
    paths: list[str] = []
    for item in inputs:
        if os.path.isdir(item):
            found = list_images(item)
            if not found:
                raise DlcvError(f"folder {item!r} holds no images; expected .jpg/.png/... files")
            paths.extend(found)
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise DlcvError(f"image path not found: {item!r}")
    return paths
