"""Image preprocessors (the book's, ch. 7 and 12), the chain a config describes, and the one decoder.

Every image file dlcv reads — for training in memory or streamed, for the decode-once cache, for
``dlcv data build`` and for ``dlcv predict`` — goes through :func:`decode_file`, so a model sees the same
bytes whichever path fed it; by default they are the bytes a client gets from OpenCV's ``imread`` and
``resize(..., interpolation=INTER_AREA)`` (:func:`client_recipe` spells it out for a client;
``serving.json`` carries it). Arrays already in memory (MNIST, CIFAR-10, a captcha crop, a video frame) go
through the same chain with :func:`apply_chain` / :func:`preprocess_images`.

    >>> chain = preprocessors_for(PreprocessingConfig(width=32, height=32, channels=3))
    >>> apply_chain(np.zeros((375, 500), np.uint8), chain).shape             # grey 500x375 -> RGB 32x32
    (32, 32, 3)
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = cv2.imwrite(f"{folder}/photo.png", np.full((375, 500, 3), (255, 0, 0), np.uint8))  # blue: BGR
    ...     decode_file(f"{folder}/photo.png", channels=3, chain=chain)[0, 0].tolist()            # uint8 RGB
    [0, 0, 255]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

from .config import Decode, PreprocessingConfig
from .images import decode_image, read_image, to_uint8_channels


class Preprocessor(Protocol):
    def preprocess(self, image: np.ndarray) -> np.ndarray: ...


class SimplePreprocessor:
    """Resize to exactly ``width`` x ``height``, ignoring the aspect ratio."""

    def __init__(self, width: int, height: int, inter: int = cv2.INTER_AREA) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"width and height must be >= 1, got {width}x{height}")
        self.width, self.height, self.inter = width, height, inter

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        resized = cv2.resize(image, (self.width, self.height), interpolation=self.inter)
        return resized.reshape(self.height, self.width, -1)  # cv2 drops a single channel axis


PIXELS_REVISION = 2
"""Raised whenever a resize starts giving other pixels (2: aspect_aware without imutils' truncation), so
that decoded-image caches built before are built again (:meth:`dlcv.data.sources.FolderSource.listing_key`)."""


class AspectAwarePreprocessor(SimplePreprocessor):
    """Resize the shorter side to the target, centre-crop the longer one, then resize exactly."""

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        # Not imutils.resize, as the book: it truncates the other side (a 499x499 photo at 32 becomes
        # 32x31), and the crop then kept a single column of pixels, stretched into stripes.
        h, w = image.shape[:2]
        scale = max(self.width / w, self.height / h)
        size = (max(self.width, round(w * scale)), max(self.height, round(h * scale)))
        image = cv2.resize(image, size, interpolation=self.inter)
        top, left = (size[1] - self.height) // 2, (size[0] - self.width) // 2
        return super().preprocess(image[top:top + self.height, left:left + self.width])


class PadPreprocessor(SimplePreprocessor):
    """Fit the image inside the target, pad the short side with replicated border pixels, then resize
    exactly: a crop keeps its shape whatever its aspect ratio (the captcha digits of ch. 21)."""

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        scale = min(self.width / width, self.height / height)
        fitted = cv2.resize(image, (max(round(width * scale), 1), max(round(height * scale), 1)),
                            interpolation=self.inter)
        pad_x, pad_y = self.width - fitted.shape[1], self.height - fitted.shape[0]
        padded = cv2.copyMakeBorder(fitted, pad_y // 2, pad_y - pad_y // 2, pad_x // 2, pad_x - pad_x // 2,
                                    cv2.BORDER_REPLICATE)
        return super().preprocess(padded)


class ImageToArrayPreprocessor:
    """Image -> float32 array laid out in a Keras data format (the book's wrapper of ``img_to_array``).

    ``data_format=None`` follows Keras's configured ``image_data_format`` (Keras is imported only then).
    """

    def __init__(self, data_format: str | None = None) -> None:
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"data_format must be channels_last, channels_first or None, got {data_format!r}")
        self.data_format = data_format

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        array = np.asarray(image, dtype=np.float32)
        if array.ndim == 2:
            array = array[:, :, None]
        data_format = self.data_format
        if data_format is None:
            import keras

            data_format = keras.config.image_data_format()
        return array.transpose(2, 0, 1) if data_format == "channels_first" else array


class ChannelPreprocessor:
    """Convert to ``channels`` channels (1 = grey, 3 = RGB) and uint8, whatever the input."""

    def __init__(self, channels: int) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.channels = channels

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        return to_uint8_channels(image, self.channels)


def preprocessors_for(config: PreprocessingConfig) -> list[Preprocessor]:
    """The chain a config describes: channel conversion, then resizing."""
    chain: list[Preprocessor] = []
    if config.channels is not None:
        chain.append(ChannelPreprocessor(config.channels))
    if config.width is not None or config.height is not None:
        width = config.width or config.height
        height = config.height or config.width
        resizer = {"simple": SimplePreprocessor, "aspect_aware": AspectAwarePreprocessor,
                   "pad": PadPreprocessor}[config.resize]
        chain.append(resizer(width, height))
    return chain


def apply_chain(image: np.ndarray, chain: Sequence[Preprocessor]) -> np.ndarray:
    for step in chain:
        image = step.preprocess(image)
    return image


def preprocess_images(images: np.ndarray | Sequence[np.ndarray], config: PreprocessingConfig) -> np.ndarray:
    """Apply the config's chain to each image; returns uint8 (N, H, W, C)."""
    chain = preprocessors_for(config)
    if not chain and isinstance(images, np.ndarray):
        return images
    return np.stack([apply_chain(image, chain) for image in images])


def decode_file(path: str, channels: int, chain: Sequence[Preprocessor], channel_order: str = "rgb",
                decode: Decode = "exact", pixel_limit: int | None = None) -> np.ndarray:
    """Read one file and prepare it with ``chain``: the decoder every file path in dlcv shares.

    ``decode="exact"`` (the default) is a full decode, as a client's ``cv2.imread`` gives. ``"fast"``: when
    the chain starts by shrinking to a fixed size, a large JPEG is decoded directly at 1/2, 1/4 or 1/8
    scale (still at least that size) — several times less work, a few grey levels from the exact pixels.
    ``channel_order="bgr"``: OpenCV's order, as the book's loader had it (dlcv itself uses RGB). A file of more
    than ``pixel_limit`` pixels (:func:`~dlcv.images.max_pixels`) is unreadable."""
    image = read_image(path, channels, reduce_to=resize_target(chain) if decode == "fast" else None,
                       pixel_limit=pixel_limit)
    if channel_order == "bgr" and image.shape[2] == 3:
        image = np.ascontiguousarray(image[:, :, ::-1])
    return apply_chain(image, chain)


def decode_upload(data: bytes, name: str, channels: int, chain: Sequence[Preprocessor], decode: Decode = "exact",
                  pixel_limit: int | None = None) -> np.ndarray:
    """:func:`decode_file` of a file's bytes (an HTTP upload): the same decode, then the same chain."""
    image = decode_image(data, name, channels, reduce_to=resize_target(chain) if decode == "fast" else None,
                         pixel_limit=pixel_limit)
    return apply_chain(image, chain)


def resize_target(chain: Sequence[Preprocessor]) -> tuple[int, int] | None:
    """(width, height) the chain first resizes to, when nothing before it changes the geometry."""
    for step in chain:
        if isinstance(step, ChannelPreprocessor):
            continue
        return (step.width, step.height) if isinstance(step, SimplePreprocessor) else None
    return None


_DECODE_CALL = ("image = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)  # 8-bit RGB, "
                "EXIF orientation applied, alpha dropped")
_GREY_CALL = "image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)"
_RESIZE_CALLS = {
    "simple": ["image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)"],
    "aspect_aware": ["scale = max(width / w, height / h); image = cv2.resize(image, (max(width, round(w * "
                     "scale)), max(height, round(h * scale))), interpolation=cv2.INTER_AREA)",
                     "centre-crop the longer side to height x width (offset = excess // 2)",
                     "image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)"],
    "pad": ["scale = min(width / w, height / h); image = cv2.resize(image, (max(round(w * scale), 1), "
            "max(round(h * scale), 1)), interpolation=cv2.INTER_AREA)",
            "cv2.copyMakeBorder(image, dy // 2, dy - dy // 2, dx // 2, dx - dx // 2, cv2.BORDER_REPLICATE) "
            "with dx, dy the missing width and height",
            "image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)"],
}


def client_recipe(config: PreprocessingConfig, decode: Decode = "exact") -> dict:
    """How a client turns an image file into exactly the uint8 pixels dlcv fed the model (``serving.json``).

    The steps are OpenCV calls because they are dlcv's own: with ``decode: exact`` a client that runs them
    gets the same pixels to the bit. INTER_AREA averages pixel areas when shrinking; when enlarging,
    OpenCV's INTER_AREA repeats pixels (blending where a pixel edge falls inside an output pixel), and the
    same call gives the same result. Pillow's BOX filter is area averaging too but rounds differently."""
    steps = [_DECODE_CALL]
    if config.channels == 1:
        steps.append(_GREY_CALL)
    if config.width is not None or config.height is not None:
        steps.extend(_RESIZE_CALLS[config.resize])
    recipe = {"library": "OpenCV (opencv-python or opencv-python-headless), as dlcv itself",
              "steps": steps, "send": "the uint8 array, RGB (or grey), height x width x channels; no scaling",
              "exact": decode == "exact",
              "pillow": "ImageOps.exif_transpose(Image.open(path)).convert('RGB').resize((width, height), "
                        "Image.Resampling.BOX) is close, not equal: BOX rounds differently from INTER_AREA "
                        "(0.6-2 grey levels on photos)"}
    if decode == "fast":
        recipe["skew"] = ("the model was trained with dataset.decode: fast: a JPEG at least twice the target "
                          "size was decoded at 1/2, 1/4 or 1/8 scale (cv2.IMREAD_REDUCED_COLOR_2/4/8) before "
                          "the resize, 2-7 grey levels from the pixels these steps give")
    return recipe
