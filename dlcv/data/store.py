"""An HDF5 store of a preprocessed dataset: decode the images once, read them back in milliseconds.

Layout (h5py, format 2): ``images`` uint8 (N, H, W, C), contiguous (any row is one read, which is what
streaming needs), ``labels`` int64 (N,), ``valid`` bool (N,) (false for a file that could not be
decoded: the size is fixed before decoding), optionally ``official_test``; attributes ``class_names``,
``preprocessing`` (the recipe, as JSON), ``skipped`` (the unreadable files), ``listing_key`` (for the
decode-once cache), ``format_version`` and ``complete``. Stores of format 1 (chunked, no ``valid``)
still read.

A build writes chunk by chunk to a temporary file beside the target, sets ``complete`` last, then
renames it into place, so a killed build never leaves a store under the final name; a store without
``complete`` (or a file cut short) is refused rather than used.

    info = build_store("datasets/animals", "datasets/animals-32.h5",
                       PreprocessingConfig(width=32, height=32, channels=3))
    data = load_store("datasets/animals-32.h5")       # ImageSet, in memory
"""
from __future__ import annotations

import json
import os
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
from .sources import FORMAT_VERSION, ROW_ARRAYS, ImageSource, StoreSource, check_store_shape
from .types import ImageSet


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


def build_store(source: str, output: str | os.PathLike, preprocessing: PreprocessingConfig,
                chunk_size: int = 1024, progress: bool = True, decode: Decode = "exact") -> StoreInfo:
    """Write ``source`` (a class-folder tree, pre-split or not, or a dataset name such as ``mnist``) to an
    HDF5 store; a pre-split folder's parts are kept (training on the store uses them)."""
    if Path(source).is_dir():
        if preprocessing.width is None and preprocessing.height is None:
            raise DlcvError("--width/--height: required for a folder of photos (they differ in size)")
        images: ImageSource = folder_source(source, preprocessing, decode)
    else:
        images = get_dataset(source).load(DatasetConfig(name=source), preprocessing)
    return write_store(images, output, preprocessing, chunk_size, progress and f"building {Path(output).name}")


@register_dataset("hdf5", needs_path=True, official_split=True, streams=True)  # official: if built from one
def load_hdf5(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> StoreSource:
    """An HDF5 store written by dlcv data build (decoded and preprocessed once)."""
    source = StoreSource(dataset.path)
    check_store_shape(source, preprocessing)
    return source


def load_store(path: str | os.PathLike, expect: PreprocessingConfig | None = None) -> ImageSet:
    """Read a complete store into memory; ``expect`` must agree with the recipe it was built with."""
    source = StoreSource(path)
    if expect is not None:
        check_store_shape(source, expect)
    return source.load(np.arange(len(source)))
