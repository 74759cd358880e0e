"""A dataset on disk as ``<root>/<class_name>/<image>``: the label is the parent folder's name.

A folder may also come split, as most published datasets and Ultralytics' classify mode ship them:
``<root>/train/<class>/...``, ``<root>/val/<class>/...`` (or ``valid/``, ``validation/``) and
``<root>/test/<class>/...``, every part with the same class folders. ``dataset.splits: auto`` uses such a
layout as given (``folders`` insists on it, ``random`` pools its images and splits them anew).

    paths, labels, class_names = list_labelled_images("datasets/animals")
    labels[:3], class_names       # array([0, 0, 0]), ['cats', 'dogs', 'panda']
    source = folder_source("datasets/flowers", PreprocessingConfig(width=64, height=64))
    source.given_split            # None, or 0 (train) / 1 (validation) / 2 (test) for every image
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..config import DatasetConfig, Decode, PreprocessingConfig
from ..errors import ConfigError, DlcvError
from ..images import check_inside, list_images, real_folder
from .loader import label_of
from .registry import register_dataset
from .sources import FolderSource
from .split import TEST, TRAIN, VALIDATION

SPLIT_FOLDERS = {"train": TRAIN, "val": VALIDATION, "valid": VALIDATION, "validation": VALIDATION, "test": TEST}
"""Sub-folder names of a pre-split dataset and the part each is."""
PART_NAMES = ("train", "validation", "test")
"""The parts by number (TRAIN, VALIDATION, TEST)."""


def list_labelled_images(root: str | os.PathLike) -> tuple[list[str], np.ndarray, list[str]]:
    """Image paths (sorted), integer labels and sorted class names; one-line errors for unusable roots."""
    root = _existing_folder(root)
    paths = list_images(root, say_others=True)
    if not paths:
        raise DlcvError(f"no images found under {str(root)!r}; expected <class>/<image>.jpg|png|... files")
    inside = real_folder(root)
    for path in paths:
        check_inside(path, inside, "")
    names = [label_of(p) for p in paths]
    class_names = sorted(set(names))
    if len(class_names) < 2:
        raise DlcvError(f"{str(root)!r} holds one class ({class_names[0]!r}); a classifier needs at least "
                        "two class folders")
    index = {name: i for i, name in enumerate(class_names)}
    return paths, np.array([index[n] for n in names], dtype=np.int64), class_names


def split_folders(root: str | os.PathLike) -> dict[str, Path] | None:
    """The part folders of a pre-split dataset (``train`` and some of ``val``/``valid``/``validation``,
    ``test``, and nothing else at the top), by folder name; None for a plain ``<class>/<image>`` tree."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return None
    children = {child.name: child for child in root.iterdir() if child.is_dir() and not child.name.startswith(".")}
    if "train" not in children or not set(children) <= set(SPLIT_FOLDERS):
        return None
    validation = sorted(name for name in children if SPLIT_FOLDERS[name] == 1)
    if len(validation) > 1:
        raise DlcvError(f"{str(root)!r} has {' and '.join(n + '/' for n in validation)}; expected one "
                        "validation folder")
    return children


def list_split_images(root: str | os.PathLike, parts: dict[str, Path]
                      ) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """Paths, labels and class names of a pre-split folder, and each image's part (0/1/2); the parts
    must hold the same classes."""
    listed = {name: list_labelled_images(folder) for name, folder in sorted(parts.items(),
                                                                         key=lambda item: SPLIT_FOLDERS[item[0]])}
    check_same_classes(root, {name: part[2] for name, part in listed.items()})
    class_names = listed["train"][2]
    paths = [path for part in listed.values() for path in part[0]]
    labels = np.concatenate([part[1] for part in listed.values()])
    given = np.concatenate([np.full(len(part[0]), SPLIT_FOLDERS[name], np.int8) for name, part in listed.items()])
    return paths, labels, class_names, given


def check_same_classes(root: str | os.PathLike, classes: dict[str, list[str]]) -> None:
    """Every part folder holds the classes ``train/`` holds (``classes``: the class names of each part)."""
    expected = set(classes["train"])
    problems = []
    for name, found in classes.items():
        missing, extra = sorted(expected - set(found)), sorted(set(found) - expected)
        if missing:
            problems.append(f"{name}/ lacks {', '.join(missing)}")
        if extra:
            problems.append(f"{name}/ has {', '.join(extra)} that train/ lacks")
    if problems:
        order = sorted(classes, key=lambda name: SPLIT_FOLDERS[name])
        raise DlcvError(f"{str(root)!r}: {'; '.join(problems)}; expected the same class folders in every split "
                        f"folder ({', '.join(n + '/' for n in order)})")


def folder_layout(root: str | os.PathLike, splits: str = "auto", group_by: str | None = None
                  ) -> dict[str, Path] | None:
    """The part folders a folder dataset is used with (None: split at random), as ``dataset.splits`` and
    ``group_by`` ask; refused in one line where they cannot apply or the parts' class folders differ.
    Only folder names are listed, so the checks before a run call this too."""
    parts = None if splits == "random" else split_folders(root)
    if splits == "folders" and parts is None:
        raise ConfigError(f"dataset.splits: folders: {str(root)!r} is not split; expected train/, val/ (or "
                          "valid/) and test/ sub-folders, each holding the class folders")
    if parts is not None and group_by is not None:
        raise ConfigError(f"dataset.group_by: {str(root)!r} comes split (train/, ...), so nothing is split "
                          "at random; expected group_by: null, or splits: random")
    if parts is not None:
        check_same_classes(root, {name: sorted(child.name for child in folder.iterdir() if child.is_dir())
                                  for name, folder in parts.items()})
    return parts


def file_groups(paths: list[str], pattern: str) -> np.ndarray:
    """A group number per path: files whose names give the same match of ``pattern`` (its first group
    if it has one) share a group; a name it does not match is a group of its own."""
    compiled = re.compile(pattern)
    keys: dict[str, int] = {}
    groups = np.empty(len(paths), np.int64)
    for row, path in enumerate(paths):
        name = os.path.basename(path)
        found = compiled.search(name)
        key = (found.group(1) if compiled.groups else found.group(0)) if found else None
        key = f"{label_of(path)}/{key}" if key is not None else f"\0{row}"
        groups[row] = keys.setdefault(key, len(keys))
    return groups


def folder_source(root: str | os.PathLike, preprocessing: PreprocessingConfig, decode: Decode = "exact",
                  splits: str = "auto", group_by: str | None = None, max_pixels: int | None = None) -> FolderSource:
    """The listed images of a folder, decoded only when read: pre-split folders as given (``splits``),
    a plain one with its files grouped by ``group_by`` for the split."""
    root = _existing_folder(root)
    parts = folder_layout(root, splits, group_by)
    if parts is not None:
        paths, labels, class_names, given = list_split_images(root, parts)
        return FolderSource(paths, labels, class_names, preprocessing, decode=decode, given_split=given,
                            max_pixels=max_pixels)
    paths, labels, class_names = list_labelled_images(root)
    groups = file_groups(paths, group_by) if group_by is not None else None
    return FolderSource(paths, labels, class_names, preprocessing, decode=decode, groups=groups,
                        group_by=group_by, max_pixels=max_pixels)


@register_dataset("folder", needs_path=True, needs_size=True, streams=True)
def load_folder(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> FolderSource:
    """Your photos as <class>/<image> files (or train/, val/, test/ of them), decoded on every core."""
    return folder_source(dataset.path, preprocessing, dataset.decode, dataset.splits, dataset.group_by,
                         dataset.max_pixels)


def _existing_folder(root: str | os.PathLike) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise DlcvError(f"dataset folder not found: {str(root)!r}")
    if not root.is_dir():
        raise DlcvError(f"{str(root)!r} is a file; expected a folder of <class>/<image> sub-folders")
    return root
