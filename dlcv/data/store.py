"""An HDF5 store of a preprocessed dataset: decode the images once, read them back in milliseconds.

Layout (h5py, format 2): ``images`` uint8 (N, H, W, C), contiguous (any row is one read, which is what
streaming needs), ``labels`` int64 (N,) (a store built from a multi-label table: (N, classes) 0/1 rows),
``valid`` bool (N,) (false for a file that could not be decoded: the size is fixed before decoding),
optionally ``official_test``; attributes ``class_names``, ``preprocessing`` (the recipe, as JSON), ``skipped``
(the unreadable files), ``listing_key`` (for the decode-once cache), ``format_version`` and ``complete``.
Stores of format 1 (chunked, no ``valid``) still read.

A build writes chunk by chunk to a temporary file beside the target, sets ``complete`` last, then
renames it into place, so a killed build never leaves a store under the final name; a store without
``complete`` (or a file cut short) is refused rather than used.

    info = build_store("datasets/animals", "datasets/animals-32.h5",
                       PreprocessingConfig(width=32, height=32, channels=3))
    data = load_store("datasets/animals-32.h5")       # ImageSet, in memory

Reading and writing live together here, as the format they share: :func:`write_store` writes it,
:class:`StoreSource` reads it (streamed or loaded).
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .. import files
from ..config import DatasetConfig, Decode, PreprocessingConfig
from ..errors import DlcvError
from ..progress import Progress
from .folder import folder_source
from .registry import get_dataset, register_dataset
from .sources import ROW_ARRAYS, ImageSource, aligned_empty
from .types import ImageSet

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
READ_WINDOW = 256
"""Rows read at a time from a chunked store (format 1) in one pass over the file."""


@dataclass(frozen=True)
class StoreInfo:
    path: Path
    count: int
    shape: tuple[int, int, int]
    class_names: list[str]
    skipped: list[str]


def write_store(source: ImageSource, output: str | os.PathLike, preprocessing: PreprocessingConfig,
                chunk_size: int = 1024, progress: str | None = None, listing_key: str | None = None) -> StoreInfo:
    """Decode ``source`` chunk by chunk into a store at ``output`` (atomically): `dlcv data build` and the
    decode-once cache both write with this."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    output = Path(output)
    count = len(source)
    with files.atomic_path(output) as tmp, h5py.File(tmp, "w") as store:
        images = store.create_dataset("images", shape=(count, *source.shape), dtype=np.uint8)
        store.create_dataset("labels", data=np.asarray(source.labels, np.int64))
        valid = store.create_dataset("valid", shape=(count,), dtype=bool)
        for name in ROW_ARRAYS:
            if getattr(source, name) is not None:
                store.create_dataset(name, data=getattr(source, name))
        buffer = np.empty((min(chunk_size, count), *source.shape), np.uint8)
        with Progress(count, progress or "", enabled=bool(progress)) as bar:
            for start in range(0, count, chunk_size):
                rows = np.arange(start, min(start + chunk_size, count))
                decoded, ok = source.read(rows, out=buffer[:len(rows)])
                images[start:start + len(rows)] = decoded
                valid[start:start + len(rows)] = ok
                bar.update(len(rows))
        written = int(valid[:].sum())
        if not written:
            raise DlcvError("none of the images could be read; expected JPEG/PNG/... files")
        height, width, channels = source.shape
        recipe = preprocessing.model_copy(update={"width": width, "height": height, "channels": channels})
        store.attrs["class_names"] = json.dumps(list(source.class_names))
        store.attrs["preprocessing"] = recipe.model_dump_json()
        store.attrs["skipped"] = json.dumps(list(source.skipped))
        store.attrs["decode"] = source.decode
        if listing_key:
            store.attrs["listing_key"] = listing_key
        store.attrs["format_version"] = FORMAT_VERSION
        store.attrs["complete"] = True  # last: its absence marks an interrupted build
    return StoreInfo(output, written, tuple(source.shape), list(source.class_names), list(source.skipped))


def check_build_source(source: str) -> None:
    """What ``dlcv data build`` can read: a folder, a label table or a dataset that needs no path."""
    from .registry import DATASETS
    from .table import is_table

    named = [name for name, spec in sorted(DATASETS.items()) if not spec.needs_path]
    if not Path(source).is_dir() and not is_table(source) and source not in named:
        raise DlcvError(f"source {source!r}: expected an image folder, a label table (.csv, .jsonl) or one of "
                        f"{', '.join(named)}")


def build_store(source: str, output: str | os.PathLike, preprocessing: PreprocessingConfig,
                chunk_size: int = 1024, progress: bool = True, decode: Decode = "exact",
                images: str | None = None) -> StoreInfo:
    """Write ``source`` (a class-folder tree, pre-split or not, a label table whose paths are under ``images``,
    or a dataset name such as ``mnist``) to an HDF5 store; a pre-split folder's or table's parts are kept
    (training on the store uses them)."""
    from .table import is_table, table_source

    if is_table(source):
        if preprocessing.width is None and preprocessing.height is None:
            raise DlcvError("--width/--height: required for a label table's photos (they differ in size)")
        images_source: ImageSource = table_source(
            DatasetConfig(name="labels", path=str(source), images=images, decode=decode), preprocessing)
        return write_store(images_source, output, preprocessing, chunk_size,
                           progress and f"building {Path(output).name}")
    if Path(source).is_dir():
        if preprocessing.width is None and preprocessing.height is None:
            raise DlcvError("--width/--height: required for a folder of photos (they differ in size)")
        images: ImageSource = folder_source(source, preprocessing, decode)
    else:
        images = get_dataset(source).load(DatasetConfig(name=source), preprocessing)
    return write_store(images, output, preprocessing, chunk_size, progress and f"building {Path(output).name}")


class StoreSource(ImageSource):
    """A complete HDF5 store; reads are thread-safe (h5py serialises them). Its file handles open on the
    first read and close with :meth:`close` (or ``with``, or when the source is garbage-collected); a read
    after closing opens them again.

        with StoreSource("datasets/animals-32.h5") as store:
            images, ok = store.read(np.arange(8))
    """

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        self.path = Path(path)
        with open_store(self.path) as store:
            self.labels = store["labels"][:]
            valid = store["valid"][:] if "valid" in store else np.ones(len(self.labels), bool)
            self.class_names = json.loads(store.attrs["class_names"])
            self.shape = tuple(store["images"].shape[1:])
            self.preprocessing = PreprocessingConfig.model_validate_json(store.attrs["preprocessing"])
            names = json.loads(store.attrs.get("skipped", "[]"))
            self.listing_key = store.attrs.get("listing_key")
            self.decode = str(store.attrs.get("decode", "fast"))  # stores before dlcv decoded exactly: fast
            # Rows a build could not decode stay in the file (its size was fixed up front), not in the data.
            self._rows = np.flatnonzero(valid)
            self.labels = self.labels[self._rows]
            for name in ROW_ARRAYS:
                setattr(self, name, store[name][:][self._rows] if name in store else None)
            images = store["images"]
            contiguous = images.chunks is None and images.compression is None
            # format 2: rows read from the file directly (positional reads need no lock, so reader threads
            # run in parallel); format 1's chunks go through h5py
            self._offset = images.id.get_offset() if contiguous else None
        self._skipped = {-1 - i: name for i, name in enumerate(names)}  # found by the build, before any row
        self._handles = _Handles(self.path)
        weakref.finalize(self, self._handles.close)

    def close(self) -> None:
        """Close the h5py file and the raw descriptor (a later read opens them again)."""
        self._handles.close()

    def __enter__(self) -> StoreSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def stored_rows(self) -> np.ndarray:
        """The store's rows that hold an image (a build could not decode the others), in order."""
        return self._rows

    def read(self, rows, out=None):
        stored = self._rows[np.asarray(rows)]
        images = out if out is not None else aligned_empty((len(stored), *self.shape))
        if self._offset is not None:
            descriptor, offset = self._handles.descriptor(), self._offset
            row_bytes = int(np.prod(self.shape))
            # one read per run of consecutive rows (a whole split loads in few reads, a shuffled batch row
            # by row), each straight into the output array
            breaks = np.flatnonzero(np.diff(stored) != 1) + 1
            for start, stop in zip(np.r_[0, breaks], np.r_[breaks, len(stored)]):
                size = (stop - start) * row_bytes
                target = images[start:stop].reshape(-1)
                done = 0
                while done < size:  # a large read may return in parts
                    got = os.preadv(descriptor, [target[done:]], offset + int(stored[start]) * row_bytes + done)
                    if got <= 0:
                        raise DlcvError(f"HDF5 store {str(self.path)!r} ends early: it is damaged; rebuild it "
                                        "with dlcv data build")
                    done += got
            return images, np.ones(len(stored), bool)
        if len(stored) > READ_WINDOW:  # many rows: one pass in order over the file, a window at a time
            order = np.argsort(stored, kind="stable")
            ordered = stored[order]
            for start in range(int(ordered[0]), int(ordered[-1]) + 1, READ_WINDOW):
                lo, hi = np.searchsorted(ordered, [start, start + READ_WINDOW])
                if lo < hi:
                    window = self._handles.images()[start:start + READ_WINDOW]
                    images[order[lo:hi]] = window[ordered[lo:hi] - start]
        elif len(stored):
            order = np.argsort(stored, kind="stable")  # h5py reads increasing indexes
            unique, inverse = np.unique(stored[order], return_inverse=True)
            images[order] = self._handles.images()[unique][inverse]
        return images, np.ones(len(stored), bool)


class _Handles:
    """A store's open files, kept apart from the :class:`StoreSource` so that a finalizer can close them."""

    def __init__(self, path: Path) -> None:
        self.path, self._lock = path, threading.Lock()
        self._file: h5py.File | None = None
        self._descriptor: int | None = None

    def images(self) -> h5py.Dataset:
        with self._lock:
            if self._file is None:
                self._file = h5py.File(self.path, "r")
            return self._file["images"]

    def descriptor(self) -> int:
        with self._lock:
            if self._descriptor is None:
                self._descriptor = os.open(self.path, os.O_RDONLY)
            return self._descriptor

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._descriptor is not None:
                os.close(self._descriptor)
                self._descriptor = None


def check_store_shape(source: StoreSource, expect: PreprocessingConfig) -> None:
    height, width, channels = source.shape
    for key, have in (("width", width), ("height", height), ("channels", channels)):
        wanted = getattr(expect, key)
        if wanted is not None and wanted != have:
            raise DlcvError(f"preprocessing.{key}: the store {str(source.path)!r} was built with {key} {have}, "
                            f"the config asks for {wanted}; rebuild the store or set it to null")


@contextlib.contextmanager
def open_store(path: str | os.PathLike) -> Iterator[h5py.File]:
    """A complete store of a readable format, opened for reading; a one-line error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DlcvError(f"HDF5 store not found: {str(path)!r}")
    try:
        store = h5py.File(path, "r")
    except OSError as exc:
        raise DlcvError(f"cannot open HDF5 store {str(path)!r} ({str(exc).splitlines()[0][:120]}); "
                        "it may be truncated: rebuild it with dlcv data build") from None
    with store:
        complete = bool(store.attrs.get("complete", False))
        counts_agree = "images" in store and "labels" in store and len(store["images"]) == len(store["labels"])
        if not (complete and counts_agree):
            raise DlcvError(f"HDF5 store {str(path)!r} is incomplete (its build was interrupted); "
                            "rebuild it with dlcv data build")
        if store.attrs.get("format_version") not in READABLE_VERSIONS:
            raise DlcvError(f"HDF5 store {str(path)!r} has format version {store.attrs.get('format_version')}; "
                            f"this dlcv reads versions {', '.join(map(str, READABLE_VERSIONS))}")
        yield store


def store_holds_label_sets(path: str | os.PathLike) -> bool:
    """Whether the store's labels are multi-hot rows (built from a multi-label table), read from its header."""
    with open_store(path) as store:
        return store["labels"].ndim == 2


@register_dataset("hdf5", needs_path=True, official_split=True, streams=True)  # official: if built from one
def load_hdf5(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> StoreSource:
    """An HDF5 store written by dlcv data build (decoded and preprocessed once)."""
    source = StoreSource(dataset.path)
    check_store_shape(source, preprocessing)
    return source


def load_store(path: str | os.PathLike, expect: PreprocessingConfig | None = None) -> ImageSet:
    """Read a complete store into memory; ``expect`` must agree with the recipe it was built with."""
    with StoreSource(path) as source:
        if expect is not None:
            check_store_shape(source, expect)
        return source.load(np.arange(len(source)))
