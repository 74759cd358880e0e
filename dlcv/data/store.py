"""An HDF5 store of a preprocessed dataset: decode the JPEGs once, reload the arrays in milliseconds.

Layout (h5py): ``images`` uint8 (N, H, W, C) in row chunks, ``labels`` int64 (N,), and attributes
``class_names``, ``preprocessing`` (the recipe, as JSON), ``format_version`` and ``complete``.

A build writes to a temporary file beside the target, sets ``complete`` last, then renames it into
place, so a killed build never leaves a store under the final name; a store without ``complete`` (or
a file cut short) is refused by :func:`load_store` rather than silently used.

    info = build_store("datasets/animals", "datasets/animals-32.h5",
                       PreprocessingConfig(width=32, height=32, channels=3))
    data = load_store("datasets/animals-32.h5")       # ImageSet, ready to split
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from .. import files
from ..config import DatasetConfig, PreprocessingConfig
from ..errors import DlcvError
from ..preprocessing import preprocessors_for
from .folder import list_labelled_images
from .loader import SimpleDatasetLoader, SkippedImagesWarning
from .registry import get_dataset, register_dataset
from .types import ImageSet

FORMAT_VERSION = 1


@dataclass(frozen=True)
class StoreInfo:
    path: Path
    count: int
    shape: tuple[int, int, int]
    class_names: list[str]
    skipped: list[str]


def build_store(source: str, output: str | os.PathLike, preprocessing: PreprocessingConfig,
                chunk_size: int = 1024, progress: bool = True) -> StoreInfo:
    """Write ``source`` (a class-folder tree, or a dataset name such as ``mnist``) to an HDF5 store."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    output = Path(output)
    if Path(source).is_dir():
        if preprocessing.width is None and preprocessing.height is None:
            raise DlcvError("--width/--height: required for a folder of photos (they differ in size)")
        writer = _write_folder
    else:
        writer = _write_dataset
    with files.atomic_path(output) as tmp:
        with h5py.File(tmp, "w") as store:
            info = writer(store, source, preprocessing, chunk_size, progress and f"building {output.name}")
            store.attrs["format_version"] = FORMAT_VERSION
            store.attrs["complete"] = True  # last: its absence marks an interrupted build
    return StoreInfo(output, info[0], info[1], info[2], info[3])


def _write_folder(store: h5py.File, source: str, preprocessing: PreprocessingConfig, chunk_size: int,
                  progress: str | bool):
    paths, labels, class_names = list_labelled_images(source)
    loader = SimpleDatasetLoader(preprocessors_for(preprocessing), channels=preprocessing.channels or 3,
                                 progress=False)
    images_ds = labels_ds = None
    written, skipped = 0, []
    bar = tqdm(total=len(paths), unit="img", desc=progress or "", disable=not progress)
    for start in range(0, len(paths), chunk_size):
        chunk_paths = paths[start:start + chunk_size]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedImagesWarning)  # reported once, for the whole build
            images, _ = loader.load(chunk_paths)
        skipped += loader.skipped
        unreadable = set(loader.skipped)
        keep = np.array([p not in unreadable for p in chunk_paths], dtype=bool)
        chunk_labels = labels[start:start + chunk_size][keep]
        if len(images):
            if images_ds is None:
                images_ds, labels_ds = _create(store, images.shape[1:], chunk_size, class_names, preprocessing)
            images_ds.resize(written + len(images), axis=0)
            labels_ds.resize(written + len(images), axis=0)
            images_ds[written:] = images
            labels_ds[written:] = chunk_labels
            written += len(images)
        bar.update(len(chunk_paths))
    bar.close()
    if images_ds is None:
        raise DlcvError(f"no readable images under {source!r}")
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image file(s): {', '.join(skipped[:20])}",
                      SkippedImagesWarning, stacklevel=3)
    return written, tuple(images_ds.shape[1:]), class_names, skipped


def _write_dataset(store: h5py.File, source: str, preprocessing: PreprocessingConfig, chunk_size: int,
                   progress: str | bool):
    data = get_dataset(source).load(DatasetConfig(name=source), preprocessing)
    images_ds, labels_ds = _create(store, data.images.shape[1:], chunk_size, data.class_names, preprocessing)
    n = len(data.labels)
    images_ds.resize(n, axis=0)
    labels_ds.resize(n, axis=0)
    for start in tqdm(range(0, n, chunk_size), unit="chunk", desc=progress or "", disable=not progress):
        images_ds[start:start + chunk_size] = data.images[start:start + chunk_size]
        labels_ds[start:start + chunk_size] = data.labels[start:start + chunk_size]
    if data.official_test is not None:
        store.create_dataset("official_test", data=data.official_test)
    return n, tuple(data.images.shape[1:]), data.class_names, []


def _create(store: h5py.File, shape: tuple, chunk_size: int, class_names: list[str],
            preprocessing: PreprocessingConfig):
    height, width, channels = shape
    store.attrs["class_names"] = json.dumps(class_names)
    recipe = preprocessing.model_copy(update={"width": width, "height": height, "channels": channels})
    store.attrs["preprocessing"] = recipe.model_dump_json()
    images = store.create_dataset("images", shape=(0, *shape), maxshape=(None, *shape), dtype=np.uint8,
                                  chunks=(min(chunk_size, 256), *shape))
    labels = store.create_dataset("labels", shape=(0,), maxshape=(None,), dtype=np.int64,
                                  chunks=(min(chunk_size, 4096),))
    return images, labels


@register_dataset("hdf5", needs_path=True, official_split=True)  # official: if built from one
def load_hdf5(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> ImageSet:
    """An HDF5 store written by dlcv data build (decoded and preprocessed once)."""
    return load_store(dataset.path, expect=preprocessing)


def load_store_metadata(path: str | os.PathLike) -> dict:
    """Shape, count, class names, labels and recipe of a complete store, without reading the images."""
    with _open(path) as store:
        return {"shape": tuple(store["images"].shape[1:]), "count": len(store["labels"]),
                "labels": store["labels"][:], "class_names": json.loads(store.attrs["class_names"]),
                "official_test": store["official_test"][:] if "official_test" in store else None,
                "preprocessing": PreprocessingConfig.model_validate_json(store.attrs["preprocessing"])}


def load_store(path: str | os.PathLike, expect: PreprocessingConfig | None = None) -> ImageSet:
    """Read a complete store into memory; ``expect`` must agree with the recipe it was built with."""
    with _open(path) as store:
        recipe = PreprocessingConfig.model_validate_json(store.attrs["preprocessing"])
        if expect is not None:
            _check_recipe(path, recipe, expect)
        official = store["official_test"][:] if "official_test" in store else None
        return ImageSet(store["images"][:], store["labels"][:], json.loads(store.attrs["class_names"]), official)


def _check_recipe(path, recipe: PreprocessingConfig, expect: PreprocessingConfig) -> None:
    for key in ("width", "height", "channels"):
        wanted = getattr(expect, key)
        if wanted is not None and wanted != getattr(recipe, key):
            raise DlcvError(f"preprocessing.{key}: the store {str(path)!r} was built with {key} "
                            f"{getattr(recipe, key)}, the config asks for {wanted}; rebuild the store "
                            "or set it to null")


def _open(path: str | os.PathLike) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise DlcvError(f"HDF5 store not found: {str(path)!r}")
    try:
        store = h5py.File(path, "r")
    except OSError as exc:
        raise DlcvError(f"cannot open HDF5 store {str(path)!r} ({str(exc).splitlines()[0][:120]}); "
                        "it may be truncated: rebuild it with dlcv data build") from None
    complete = bool(store.attrs.get("complete", False))
    counts_agree = "images" in store and "labels" in store and len(store["images"]) == len(store["labels"])
    if not (complete and counts_agree):
        store.close()
        raise DlcvError(f"HDF5 store {str(path)!r} is incomplete (its build was interrupted); "
                        "rebuild it with dlcv data build")
    if store.attrs.get("format_version") != FORMAT_VERSION:
        store.close()
        raise DlcvError(f"HDF5 store {str(path)!r} has format version {store.attrs.get('format_version')}; "
                        f"this dlcv reads version {FORMAT_VERSION}")
    return store
