"""A dataset before it is decoded: every item's label, and a way to read any subset of its images.

Splitting needs only the labels, so a split is made on the listing (the same split whether the images
are then held in memory or streamed from disk). Reading is what differs:

- :class:`ArraySource` — arrays already in memory (digits, MNIST, CIFAR-10).
- :class:`FolderSource` — image files, decoded (in parallel, by the one decoder) when read.
- :class:`~dlcv.data.store.StoreSource` — an HDF5 store (``dlcv data build``, or the decode-once cache of a
  folder), read where it is written (:mod:`dlcv.data.store`).

    source = folder_source("datasets/animals", PreprocessingConfig(width=32, height=32))   # data.folder
    train = source.load(train_rows)                      # an ImageSet held in memory
    streamed = StreamedSet(source, train_rows)           # or read batch by batch while training
    images, labels = streamed.batch(np.arange(32))
"""
from __future__ import annotations

import abc
import copy
import json
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..config import Decode, PreprocessingConfig
from ..images import UnreadableImage
from ..preprocessing import PIXELS_REVISION, decode_file, preprocessors_for
from .types import ImageSet

ROW_ARRAYS = ("official_test", "given_split", "groups")
"""What an ImageSource may say about each row besides its label; a store keeps them."""
LOAD_CHUNK = 1024  # files decoded at a time when a folder is loaded into memory (a progress bar step)


def aligned_empty(shape: tuple[int, ...], alignment: int = 64) -> np.ndarray:
    """An uninitialised uint8 array whose data starts on a 64-byte boundary: TensorFlow (through DLPack)
    and JAX then use it in place on the CPU instead of copying it (NumPy's own start is 16-byte aligned)."""
    size = int(np.prod(shape))
    buffer = np.empty(size + alignment, np.uint8)
    start = (-buffer.ctypes.data) % alignment
    return buffer[start:start + size].reshape(shape)


class ImageSource(abc.ABC):
    """Labels of every item, and images read by row number (uint8 (H, W, C), RGB for colour)."""

    labels: np.ndarray
    class_names: list[str]
    shape: tuple[int, int, int]
    official_test: np.ndarray | None = None
    """Boolean per row: the dataset's published test split (MNIST, CIFAR-10), where it has one."""
    given_split: np.ndarray | None = None
    """0 (train), 1 (validation) or 2 (test) per row: a folder that came split (train/, val/, test/)."""
    groups: np.ndarray | None = None
    """A group number per row (``dataset.group_by``): rows of one group go to one split."""
    decode: str = "exact"
    """How the image files were (or are) decoded: ``dataset.decode``."""
    paths: list[str] | None = None
    """Each row's image file, where the rows are files (a folder, or the decode-once cache of one)."""
    decodes_files: bool = False
    """Whether reading decodes image files (slow enough to load in chunks, with a progress bar)."""

    def __init__(self) -> None:
        self._skipped: dict[int, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def skipped(self) -> tuple[str, ...]:
        """What could not be read so far (file paths), in row order."""
        with self._lock:
            return tuple(self._skipped[row] for row in sorted(self._skipped))

    def _skip(self, row: int, name: str) -> None:
        with self._lock:
            self._skipped[row] = name

    def with_labels(self, labels: np.ndarray) -> ImageSource:
        """This source with other labels for the same rows (a copy: this one keeps the labels it was read with)."""
        if len(labels) != len(self.labels):
            raise ValueError(f"{len(labels)} labels for {len(self.labels)} rows")
        relabelled = copy.copy(self)
        relabelled.labels = labels
        return relabelled

    def nbytes(self, rows: int | None = None) -> int:
        """Bytes of ``rows`` decoded images (all of them by default)."""
        return (len(self) if rows is None else rows) * int(np.prod(self.shape))

    @abc.abstractmethod
    def read(self, rows: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The images of ``rows`` in that order (into ``out`` if given), and a mask of the readable ones:
        ``(images, ok)``; an unreadable row's image is left as zeros and recorded in :attr:`skipped`."""

    def load(self, rows: np.ndarray, progress: str | None = None) -> ImageSet:
        """The readable images of ``rows``, held in memory in one array (no other copy is kept), read a
        chunk at a time (with a progress bar named ``progress``)."""
        from ..progress import Progress

        rows = np.asarray(rows, dtype=np.int64)
        images = aligned_empty((len(rows), *self.shape))
        ok = np.ones(len(rows), bool)
        step = LOAD_CHUNK if self.decodes_files else max(len(rows), 1)
        enabled = bool(progress) and self.decodes_files  # only decoding takes long enough for progress
        with Progress(len(rows), progress or "", enabled=enabled, minimum=LOAD_CHUNK) as bar:
            for start in range(0, len(rows), step):
                _, ok[start:start + step] = self.read(rows[start:start + step], out=images[start:start + step])
                bar.update(len(rows[start:start + step]))
        if not ok.all():  # compact in place: the rows after a gap move up, the array is cut
            keep = np.flatnonzero(ok)
            for target, source in enumerate(keep):
                if target != source:
                    images[target] = images[source]
            images = images[:len(keep)]
        official = None if self.official_test is None else self.official_test[rows][ok]
        paths = None if self.paths is None else tuple(self.paths[row] for row in rows[ok])
        return ImageSet(images, self.labels[rows][ok], list(self.class_names), official, paths=paths)


class ArraySource(ImageSource):
    def __init__(self, data: ImageSet) -> None:
        super().__init__()
        self.data, self.labels, self.class_names = data, data.labels, list(data.class_names)
        self.shape, self.official_test = tuple(data.images.shape[1:]), data.official_test

    def read(self, rows, out=None):
        images = self.data.images[np.asarray(rows)]
        if out is not None:
            out[...] = images
            images = out
        return images, np.ones(len(rows), bool)


class FolderSource(ImageSource):
    """Image files listed with their labels; each read decodes them on every core."""

    decodes_files = True

    def __init__(self, paths: Sequence[str], labels: np.ndarray, class_names: list[str],
                 preprocessing: PreprocessingConfig, workers: int | None = None, decode: Decode = "exact",
                 given_split: np.ndarray | None = None, groups: np.ndarray | None = None,
                 group_by: str | None = None, max_pixels: int | None = None, labelling: str | None = None) -> None:
        super().__init__()
        self.decode, self.given_split, self.groups, self.group_by = decode, given_split, groups, group_by
        self.max_pixels = max_pixels
        self.labelling = labelling
        """What identifies labels that the paths do not imply (a label table's), for the cache's key."""
        if preprocessing.width is None and preprocessing.height is None:
            raise ValueError("a folder of photos needs a target size (preprocessing width / height)")
        self.paths, self.labels, self.class_names = list(paths), np.asarray(labels), list(class_names)
        self.preprocessing = preprocessing
        self.channels = preprocessing.channels or 3
        width = preprocessing.width or preprocessing.height
        height = preprocessing.height or preprocessing.width
        self.shape = (height, width, self.channels)
        self.chain = preprocessors_for(preprocessing)
        self.workers = workers or os.cpu_count() or 1
        self._pool: ThreadPoolExecutor | None = None

    def listing_key(self) -> str:
        """What identifies this decoded dataset: every path with its size and modification time, the
        preprocessing, the decode mode and how it is split (a changed, added or removed file, or another
        recipe, gives another key)."""
        import hashlib

        recipe = [self.preprocessing.model_dump_json(), self.decode, self.given_split is not None, self.group_by,
                  PIXELS_REVISION] + ([self.max_pixels] if self.max_pixels is not None else []) \
            + ([self.labelling] if self.labelling is not None else [])
        digest = hashlib.sha256(json.dumps(recipe).encode())
        for path in self.paths:
            try:
                stat = os.stat(path)
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            except OSError:
                digest.update(f"{path}\0missing\n".encode())
        return digest.hexdigest()

    def _decode(self, row: int) -> np.ndarray | None:
        try:
            return decode_file(self.paths[row], self.channels, self.chain, decode=self.decode,
                               pixel_limit=self.max_pixels)
        except UnreadableImage:
            self._skip(row, self.paths[row])
            return None

    def read(self, rows, out=None):
        rows = np.asarray(rows)
        images = out if out is not None else aligned_empty((len(rows), *self.shape))
        ok = np.ones(len(rows), bool)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="dlcv-decode")
        for i, image in enumerate(self._pool.map(self._decode, rows.tolist())):  # OpenCV releases the GIL
            if image is None:
                ok[i] = False
                images[i] = 0
            else:
                images[i] = image
        return images, ok


@dataclass
class StreamedSet:
    """Rows of a source, read batch by batch while training instead of held in memory."""

    source: ImageSource
    rows: np.ndarray
    reads_from_disk = True

    @property
    def labels(self) -> np.ndarray:
        """The listing's labels of these rows (a file found unreadable later drops out of its batch)."""
        return self.source.labels[self.rows]

    @property
    def class_names(self) -> list[str]:
        return self.source.class_names

    @property
    def paths(self) -> tuple[str, ...] | None:
        """Each row's image file, where the source has files."""
        return None if self.source.paths is None else tuple(self.source.paths[row] for row in self.rows)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.source.shape

    @property
    def nbytes(self) -> int:
        return self.source.nbytes(len(self.rows))

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The readable images of these positions (of ``rows``) and their labels."""
        rows = self.rows[np.asarray(positions)]
        images, ok = self.source.read(rows)  # 64-byte aligned: the CPU's tensors use it in place
        if ok.all():  # the usual case: no copy (a window of a streamed epoch is tens of MiB)
            return images, self.source.labels[rows]
        return images[ok], self.source.labels[rows][ok]
