"""Decode once: a folder dataset's preprocessed images, kept on disk as an HDF5 store that later epochs
and later runs read instead of decoding the photos again.

A cache is keyed by the folder's listing (every path with its size and modification time), the
preprocessing, the decode mode and the split's grouping, so a changed, added or removed photo or another
recipe makes a new one. It is written
chunk by chunk and becomes valid only by an atomic rename at the end: a killed build is never used, and
a cache that is damaged is rebuilt. If the disk fills up while caching, the run says so and goes on
reading the photos directly. A build killed part-way leaves its temporary file; the next build in the
folder removes those no process has written to for :data:`STALE_SECONDS` (a live build writes a chunk
every few seconds; another run's build in progress is left alone).

    source = cached(folder_source("datasets/animals", recipe), Path("output/cache"))
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from .. import files
from ..errors import DlcvError, WriteFailed
from .sources import FolderSource, ImageSource
from .store import StoreSource, write_store

log = logging.getLogger(__name__)

STALE_SECONDS = 600
"""A cache's temporary file untouched this long is a killed build's, removed at the next build."""


def cache_path(source: FolderSource, folder: Path, key: str) -> Path:
    height, width, channels = source.shape
    name = Path(os.path.commonpath([source.paths[0], source.paths[-1]])).name or "images"  # the dataset's folder
    return folder / f"{name}-{width}x{height}x{channels}-{source.decode}-{key[:16]}.h5"


def cached(source: FolderSource, folder: Path, progress: bool = True) -> ImageSource:
    """A store of ``source``'s decoded images (reused when it matches, else built), or ``source``
    itself when the cache cannot be written."""
    key = source.listing_key()
    path = cache_path(source, folder, key)
    if path.is_file():
        try:
            store = StoreSource(path)
            if store.listing_key == key:
                log.info(f"cache: reading the decoded images from {path}")
                return _with_paths(store, source)
            store.close()
        except DlcvError:
            pass
        log.info(f"cache: {path} is damaged or from another listing; building it again")
        path.unlink(missing_ok=True)
    _remove_killed_builds(folder)
    log.info(f"cache: decoding {len(source):,} images once into {path}")
    try:
        write_store(source, path, source.preprocessing, progress="decoding" if progress else None,
                    listing_key=key)
    except WriteFailed as exc:
        log.warning(f"{exc}; no cache, so the photos are decoded each time they are read")
        return source
    return _with_paths(StoreSource(path), source)


def _remove_killed_builds(folder: Path) -> None:
    stale = []
    for path in folder.glob(f"{files.TEMP_PREFIX}*.h5"):
        try:
            if time.time() - path.stat().st_mtime > STALE_SECONDS:
                path.unlink()
                stale.append(path)
        except FileNotFoundError:  # its build finished (renamed) or another run removed it meanwhile
            continue
    if stale:
        log.info(f"cache: removed {len(stale)} temporary file(s) of builds killed part-way in {folder}/")


def _with_paths(store: StoreSource, source: FolderSource) -> StoreSource:
    """The cache's rows are the listing's readable files, in order: each row's file, for the report."""
    store.paths = [source.paths[row] for row in store.stored_rows]
    return store
