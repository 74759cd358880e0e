"""A dataset on disk as ``<root>/<class_name>/<image>``: the label is the parent folder's name.

    paths, labels, class_names = list_labelled_images("datasets/animals")
    labels[:3], class_names       # array([0, 0, 0]), ['cats', 'dogs', 'panda']
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..config import DatasetConfig, PreprocessingConfig
from ..errors import DlcvError
from ..images import list_images
from .loader import label_of
from .registry import register_dataset
from .sources import FolderSource


def list_labelled_images(root: str | os.PathLike) -> tuple[list[str], np.ndarray, list[str]]:
    """Image paths (sorted), integer labels and sorted class names; one-line errors for unusable roots."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DlcvError(f"dataset folder not found: {str(root)!r}")
    if not root.is_dir():
        raise DlcvError(f"{str(root)!r} is a file; expected a folder of <class>/<image> sub-folders")
    paths = list_images(root)
    if not paths:
        raise DlcvError(f"no images found under {str(root)!r}; expected <class>/<image>.jpg|png|... files")
    names = [label_of(p) for p in paths]
    class_names = sorted(set(names))
    if len(class_names) < 2:
        raise DlcvError(f"{str(root)!r} holds one class ({class_names[0]!r}); a classifier needs at least "
                        "two class folders")
    index = {name: i for i, name in enumerate(class_names)}
    return paths, np.array([index[n] for n in names], dtype=np.int64), class_names


def folder_source(root: str | os.PathLike, preprocessing: PreprocessingConfig) -> FolderSource:
    """The listed images of a <class>/<image> folder, decoded only when read."""
    paths, labels, class_names = list_labelled_images(root)
    return FolderSource(paths, labels, class_names, preprocessing)


@register_dataset("folder", needs_path=True, needs_size=True, streams=True)
def load_folder(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> FolderSource:
    """Your photos as <class>/<image> files, decoded on every core; unreadable files are skipped."""
    return folder_source(dataset.path, preprocessing)
