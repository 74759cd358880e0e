"""SimpleDatasetLoader (ch. 7): image files in, preprocessed arrays and their labels out.

The book's API, plus what a real folder needs: decoding on every core (OpenCV releases the GIL, so
threads run in parallel), a progress bar, and files that cannot be decoded — empty, truncated, not an
image at all — skipped and reported together in one warning instead of crashing the load.

    loader = SimpleDatasetLoader(preprocessors=[SimplePreprocessor(32, 32)])
    data, labels = loader.load(paths, verbose=500)    # uint8 (N, 32, 32, 3) RGB, label strings
    loader.skipped                                    # paths that could not be read

Book caveat kept: the whole set is held in memory (see ``dlcv data build`` for an HDF5 store).
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..images import UnreadableImage
from ..preprocessing import decode_file
from ..progress import Progress


def label_of(path: str) -> str:
    """The class name of an image: the name of the folder it is in (the book's ``split(os.path.sep)[-2]``)."""
    return os.path.basename(os.path.dirname(path))


class SkippedImagesWarning(UserWarning):
    """Some files could not be decoded and were left out of the dataset."""


class SimpleDatasetLoader:
    """``channel_order="bgr"`` gives OpenCV's order, as the book's loader (``cv2.imread``) did; dlcv's own
    pipelines use RGB. ``decode="fast"`` decodes large JPEGs at a reduced scale (see
    :func:`~dlcv.preprocessing.decode_file`); the default is the book's full decode."""

    def __init__(self, preprocessors: Sequence | None = None, channels: int = 3, workers: int | None = None,
                 progress: bool = True, channel_order: str = "rgb", decode: str = "exact") -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        if channel_order not in ("rgb", "bgr"):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        self.channel_order = channel_order
        if decode not in ("exact", "fast"):
            raise ValueError(f"decode must be 'exact' or 'fast', got {decode!r}")
        self.decode = decode
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.preprocessors = list(preprocessors or [])
        self.channels = channels
        self.workers = workers or os.cpu_count() or 1
        self.progress = progress
        self.skipped: list[str] = []

    def load_image(self, path: str) -> np.ndarray:
        """One file through the decoder and every preprocessor, in order (:func:`~dlcv.preprocessing.decode_file`)."""
        return decode_file(path, self.channels, self.preprocessors, self.channel_order, self.decode)

    def _try_load(self, path: str) -> np.ndarray | None:
        try:
            return self.load_image(path)
        except UnreadableImage:
            return None

    def load(self, image_paths: Sequence[str], verbose: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """Load every readable image; ``verbose > 0`` also prints a line every ``verbose`` images."""
        image_paths = [os.fspath(p) for p in image_paths]
        images, labels, self.skipped = [], [], []
        with ThreadPoolExecutor(self.workers) as pool, \
                Progress(len(image_paths), "loading", enabled=self.progress) as bar:
            results = pool.map(self._try_load, image_paths)  # in order, decoded ahead by the pool
            for i, (path, image) in enumerate(zip(image_paths, results), start=1):
                bar.update(1)
                if image is None:
                    self.skipped.append(path)
                else:
                    images.append(image)
                    labels.append(label_of(path))
                if verbose > 0 and i % verbose == 0:
                    print(f"[INFO] processed {i}/{len(image_paths)}")
        if self.skipped:
            shown = ", ".join(self.skipped[:20]) + (", ..." if len(self.skipped) > 20 else "")
            warnings.warn(f"skipped {len(self.skipped)} unreadable image file(s): {shown}",
                          SkippedImagesWarning, stacklevel=2)
        if not images:
            return np.empty((0,), np.uint8), np.array(labels)
        shapes = {image.shape for image in images}
        if len(shapes) > 1:
            raise ValueError(f"images differ in size {sorted(shapes)[:3]}...; add a SimplePreprocessor or "
                             "AspectAwarePreprocessor so they can be stacked")
        return np.stack(images), np.array(labels)
