"""Reading image files into arrays with one channel convention for the whole project.

OpenCV decodes to BGR; Keras's datasets (CIFAR-10) and ``tf.io.decode_image`` give RGB. dlcv uses **RGB**
everywhere, so an image read here, a CIFAR-10 array and a tf.data-decoded file agree pixel for pixel.

The default decode is exactly what a client writes with OpenCV — ``cv2.imread(path)`` (8-bit colour:
EXIF orientation applied, grey replicated, CMYK converted, alpha dropped, 16 bits scaled to 8), then RGB
— so the pixels a model trains on are the pixels a serving client sends
(:func:`dlcv.preprocessing.client_recipe`).
``decode="fast"`` trades that for speed: a JPEG at least twice the target size is decoded at 1/2, 1/4 or
1/8 scale in the DCT domain (libjpeg's ``scale_denom``), which differs from a full decode + area resize
by a few grey levels.

    image = read_image("cats/cats_00039.jpg", channels=3)   # uint8, (H, W, 3), RGB, upright
"""
from __future__ import annotations

import collections
import io
import logging
import os
import threading
import warnings
from collections.abc import Iterable

import cv2
import numpy as np

from .errors import DlcvError

log = logging.getLogger(__name__)

# A damaged file is reported once, by whoever skips it, in dlcv's words; OpenCV's own lines would repeat it
# in its own ("[ERROR:0@6.9] global grfmt_png.cpp:297 readHeader IHDR chunk shall be first" for a damaged
# PNG). A failed decode or write is still seen: imdecode returns None and imencode False.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_FATAL)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")
"""The endings of the files a folder's listing takes as images (a GIF: its first frame, as Pillow's too)."""
IMAGE_FORMATS = "JPEG, PNG, BMP, TIFF, WebP, PPM/PGM or GIF"
"""What those endings hold, as a message names them."""
SYSTEM_FILES = ("thumbs.db", "desktop.ini")
"""Files an operating system leaves in photo folders: passed over unsaid, as hidden (dot) files are."""


class UnreadableImage(DlcvError):
    """The file exists but is not an image OpenCV can decode (or one too large to decode)."""


DEFAULT_MAX_PIXELS = 89_478_485
"""The most pixels an image file may have unless ``dataset.max_pixels`` or ``$DLCV_MAX_PIXELS`` says
otherwise: Pillow's ``Image.MAX_IMAGE_PIXELS`` (a 24-bit image of about 256 MiB)."""
MAX_PIXELS_VARIABLE = "DLCV_MAX_PIXELS"


def max_pixels(configured: int | None = None) -> int:
    """The pixel limit in force: ``configured`` (a config's ``dataset.max_pixels``), else
    ``$DLCV_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS`."""
    if configured is not None:
        return configured
    text = os.environ.get(MAX_PIXELS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise DlcvError(f"{MAX_PIXELS_VARIABLE}={text!r}; expected a whole number of pixels, e.g. "
                        f"{DEFAULT_MAX_PIXELS}")
    return value


def header_pixels(data: np.ndarray) -> int | None:
    """Width x height from the file's header, without decoding it (Pillow reads headers lazily); None for a
    format Pillow does not know (OpenCV's own limit, OPENCV_IO_MAX_IMAGE_PIXELS, still holds there)."""
    from PIL import Image

    try:
        return _header_size(Image, data)
    except Image.DecompressionBombError:  # Pillow's own refusal (over twice its limit): read the size anyway
        with _PILLOW_LIMIT:
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                return _header_size(Image, data)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except Exception:  # noqa: BLE001 (Pillow raises many types for what it cannot read; OpenCV decides then)
        return None


_PILLOW_LIMIT = threading.Lock()


def _header_size(Image, data: np.ndarray) -> int:  # noqa: N803 (the PIL.Image module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            width, height = image.size
    return width * height


# JPEG's DCT-domain scaling (libjpeg's scale_denom): decode at 1/2, 1/4 or 1/8 size for (colour, grey).
_REDUCED = {8: (cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
            4: (cv2.IMREAD_REDUCED_COLOR_4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
            2: (cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_REDUCED_GRAYSCALE_2)}
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def read_image(path: str | os.PathLike, channels: int | None = 3,
               reduce_to: tuple[int, int] | None = None, pixel_limit: int | None = None) -> np.ndarray:
    """Decode one file to uint8 (H, W, C), RGB for C=3, EXIF orientation applied; ``channels=None`` keeps
    the file's own (1 or 3). A file whose header says it has more than ``pixel_limit`` pixels
    (:func:`max_pixels`) is not decoded: :class:`UnreadableImage`.

    ``reduce_to=(width, height)`` (``decode: fast``): the caller will shrink the image to about this size,
    so a JPEG at least twice as large in both directions is decoded at 1/2, 1/4 or 1/8 of its size (still
    at least this large) — the inverse DCT and colour conversion then run on far fewer pixels.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8) if os.path.getsize(path) else np.empty(0, np.uint8)
    except OSError as exc:  # a broken link, no read permission, a file deleted since it was listed
        raise UnreadableImage(f"cannot read image {os.fspath(path)!r} ({exc.strerror or exc})") from None
    return decode_image(data, os.fspath(path), channels, reduce_to, pixel_limit)


def decode_image(data: np.ndarray | bytes, name: str, channels: int | None = 3,
                 reduce_to: tuple[int, int] | None = None, pixel_limit: int | None = None) -> np.ndarray:
    """:func:`read_image` of a file's bytes already in memory (an upload), called ``name`` in messages."""
    data = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    if not data.size:
        raise UnreadableImage(f"image {name!r} is empty (0 bytes); expected a {IMAGE_FORMATS} file")
    pixels, limit = header_pixels(data), max_pixels(pixel_limit)
    if pixels is not None and pixels > limit:
        raise UnreadableImage(f"image {name!r} has {pixels:,} pixels, more than the limit of {limit:,} "
                              "(dataset.max_pixels, $DLCV_MAX_PIXELS); not decoded")
    # Any flag but IMREAD_UNCHANGED applies the EXIF orientation, as cv2.imread and photo viewers do.
    flag = cv2.IMREAD_ANYCOLOR if channels is None else cv2.IMREAD_COLOR
    factor = _reduction(data, reduce_to) if reduce_to else 1
    if factor > 1:
        flag = _REDUCED[factor][channels == 1]
    image = cv2.imdecode(data, flag)
    if image is None:
        raise UnreadableImage(f"cannot decode image {name!r} ({data.size:,} bytes): damaged, or not a "
                              f"{IMAGE_FORMATS} file")
    return to_uint8_channels(image, channels, bgr=True)


def _reduction(data: np.ndarray, at_least: tuple[int, int]) -> int:
    """The largest JPEG scale-down (8, 4, 2) that keeps the image at least ``at_least`` either way up
    (an EXIF orientation may turn it); 1 for other files."""
    size = jpeg_size(data)
    if size is None:
        return 1
    short, long = sorted(size)
    for factor in (8, 4, 2):
        if short // factor >= max(at_least) and long // factor >= max(at_least):
            return factor
    return 1


def jpeg_size(data: np.ndarray | bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, without decoding; None if it is not a JPEG."""
    data = bytes(data[:65536]) if isinstance(data, np.ndarray) else data[:65536]
    if data[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 9 < len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        if marker in _SOF_MARKERS:
            height = int.from_bytes(data[position + 5:position + 7], "big")
            width = int.from_bytes(data[position + 7:position + 9], "big")
            return (width, height) if width and height else None
        position += 2 + length
    return None


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


def list_images(folder: str | os.PathLike, say_others: bool = False) -> list[str]:
    """Image files below ``folder`` (recursively), sorted so that runs are reproducible; ``say_others``: one
    warning counting the other files by their ending (a folder of .heic or .avif photos would otherwise lose
    them unsaid), hidden and system files left out."""
    paths, others = [], collections.Counter()
    for root, _dirs, files in os.walk(folder):
        for name in files:
            lower = name.lower()
            if lower.endswith(IMAGE_EXTENSIONS):
                paths.append(os.path.join(root, name))
            elif not name.startswith(".") and lower not in SYSTEM_FILES:
                others[os.path.splitext(lower)[1]] += 1
    if say_others and others:
        common = sorted(others.items(), key=lambda item: (-item[1], item[0]))[:5]
        counts = ", ".join(f"{ending or 'no ending'} {count:,}" for ending, count in common)
        more = ", ..." if len(others) > 5 else ""
        log.warning(f"{sum(others.values()):,} file(s) under {str(folder)!r} passed over, not images by their "
                    f"ending ({counts}{more}); expected {', '.join(IMAGE_EXTENSIONS)}")
    return sorted(paths)


def real_folder(folder: str | os.PathLike) -> str:
    """``folder``'s real path with a trailing separator: what :func:`check_inside` compares with."""
    return os.path.realpath(folder) + os.sep


def check_inside(path: str | os.PathLike, inside: str, where: str) -> None:
    """The one rule for links in a data set (a class folder or a label table's images folder): followed
    while they stay in it, refused in one line when they lead out of it (a shared folder of photos cannot
    make dlcv read /etc/passwd). ``inside``: :func:`real_folder` of the data set's folder."""
    target = os.path.realpath(path)
    if not target.startswith(inside):
        raise DlcvError(f"{where}{str(path)!r} is a link to {target!r}, outside the folder {inside.rstrip(os.sep)}; "
                        "expected files under it (links are followed only within it)")


def expand_image_paths(inputs: Iterable[str]) -> list[str]:
    """Files as given, folders expanded to the images below them; a missing path is an error."""
    paths: list[str] = []
    for item in inputs:
        if os.path.isdir(item):
            found = list_images(item, say_others=True)
            if not found:
                raise DlcvError(f"folder {item!r} holds no images; expected .jpg/.png/... files")
            paths.extend(found)
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise DlcvError(f"image path not found: {item!r}")
    return paths
