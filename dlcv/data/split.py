"""Train / validation / test rows of a dataset: as the dataset gives them, or a seeded stratified split.

A folder that comes split (``train/``, ``val/``, ``test/``) or a store built from one is used as given; a
part it lacks is split off its training images. Otherwise the split is stratified and seeded
(scikit-learn's ``train_test_split``, twice), and with ``dataset.group_by`` the files of one group
(burst shots, crops of one photo) stay together on one side (``StratifiedGroupKFold``), so that
near-identical images cannot sit on both sides of it.

    >>> labels = np.repeat([0, 1, 2], 20)
    >>> train, val, test = split_indices(labels, test_size=0.25, val_size=0.1, seed=42)   # row indexes
    >>> len(train), len(val), len(test), np.bincount(labels[test]).tolist()
    (40, 5, 15, [5, 5, 5])
    >>> np.array_equal(test, split_indices(labels, 0.25, 0.1, seed=42)[2])   # same seed, same split
    True
    >>> groups = np.arange(60) // 3                                # bursts of three shots
    >>> train, val, test = split_indices(labels, 0.25, 0.1, seed=42, groups=groups)
    >>> set(groups[test]) & set(groups[train]) | set(groups[test]) & set(groups[val])
    set()

Multi-label data (labels of shape (N, classes), several 1s per row) is split with iterative
stratification (Sechidis et al., the ``iterative-stratification`` package), each label's share kept in
every part; with ``group_by`` too, groups are kept whole and the split is then not stratified (said once).

``split_source(source, config.dataset, seed)`` chooses between the two for an ImageSource.

k-fold cross-validation (``dataset.folds``) partitions the training part (training and validation rows)
into folds by the same rules: stratified (``StratifiedKFold``), whole groups (``StratifiedGroupKFold``),
multi-label by iterative stratification (``MultilabelStratifiedKFold``), multi-label groups whole and not
stratified. A fold's run trains on the rest, and carves its validation from the rest, never from the fold
it is scored on:

    >>> parts = fold_parts(labels, folds=4, seed=42)
    >>> sorted(np.concatenate(parts).tolist()) == list(range(60)), [np.bincount(labels[p]).tolist() for p in parts][0]
    (True, [5, 5, 5])
"""
from __future__ import annotations

import logging

import numpy as np

from ..config import DatasetConfig
from ..errors import ConfigError

TRAIN, VALIDATION, TEST = 0, 1, 2

log = logging.getLogger(__name__)


def split_source(source, dataset: DatasetConfig, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test rows of an :class:`~dlcv.data.sources.ImageSource` as ``dataset`` asks."""
    given = None if dataset.splits == "random" else source.given_split
    if dataset.splits == "folders" and given is None:
        raise ConfigError(f"dataset.splits: folders: the {dataset.name} dataset does not come split; expected "
                          "a folder (or a store built from one) with train/, val/ and test/ sub-folders")
    if given is not None:
        return given_splits(source.labels, given, dataset.test_size, dataset.val_size, seed)
    return split_indices(source.labels, dataset.test_size, dataset.val_size, seed, source.official_test,
                         source.groups)


def given_splits(labels: np.ndarray, given: np.ndarray, test_size: float | str, val_size: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The parts a dataset came in; a missing test or validation part is split off the training part."""
    index = np.arange(len(labels))
    train, val, test = (index[given == part] for part in (TRAIN, VALIDATION, TEST))
    if not len(test):
        if test_size == "official":
            raise ConfigError("dataset.test_size: 'official': the split folder has no test/ part; expected a "
                              "fraction such as 0.25, or a test/ folder")
        train, test = _stratified(train, labels[train], test_size, seed, "dataset.test_size")
    if not len(val):
        train, val = _stratified(train, labels[train], val_size, seed, "dataset.val_size")
    return train, val, test


def split_indices(labels: np.ndarray, test_size: float | str, val_size: float, seed: int,
                  official_test: np.ndarray | None = None, groups: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test indexes; ``test_size="official"`` uses the ``official_test`` mask, and
    ``groups`` (a group number per row) keeps each group on one side of both splits."""
    index = np.arange(len(labels))
    if test_size == "official":
        if official_test is None:
            raise ConfigError("dataset.test_size: 'official' needs a dataset with an official test split "
                              "(mnist, cifar10, or a store built from one); expected a fraction such as 0.25")
        rest, test = index[~official_test], index[official_test]
    else:
        rest, test = _stratified(index, labels, test_size, seed, "dataset.test_size", groups)
    train, val = _stratified(rest, labels[rest], val_size, seed, "dataset.val_size",
                             None if groups is None else groups[rest])
    return train, val, test


def _stratified(index: np.ndarray, labels: np.ndarray, size: float, seed: int, key: str,
                groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    if labels.ndim == 2:
        return _per_label(index, labels, size, seed, key, groups)
    if groups is not None:
        return _grouped(index, labels, size, seed, key, groups)
    try:
        from sklearn.model_selection import train_test_split  # a second to import: here, not at startup

        return train_test_split(index, test_size=size, stratify=labels, random_state=seed)
    except ValueError as exc:  # scikit-learn says exactly which count is too small; keep its words
        raise ConfigError(f"{key}={size}: cannot split {len(index)} images of {len(np.unique(labels))} "
                          f"classes with every class in both parts (scikit-learn, calling the held-out part "
                          f"test_size: {exc}); use more images per class or a larger fraction") from None


def _per_label(index: np.ndarray, labels: np.ndarray, size: float, seed: int, key: str,
                groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot rows: iterative stratification, or (with groups) whole groups held out at random."""
    if groups is not None:
        log.info(f"{key}: dataset.group_by keeps each group whole; a multi-label split of whole groups is not "
                 "stratified per label")
        from sklearn.model_selection import GroupShuffleSplit  # a second to import: here, not at startup

        kept, held = next(GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed).split(index, groups=groups))
        return index[kept], index[held]
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    if len(index) < 2:
        raise ConfigError(f"{key}={size}: cannot split {len(index)} image(s); use more images")
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=size, random_state=seed)
    kept, held = next(splitter.split(np.zeros(len(index)), labels))
    return index[kept], index[held]


def _grouped(index: np.ndarray, labels: np.ndarray, size: float, seed: int, key: str,
             groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hold out about ``size`` of the rows, whole groups at a time, stratified: one fold of
    scikit-learn's StratifiedGroupKFold with round(1 / size) folds (0.25: 4 folds, a quarter held out)."""
    folds = max(2, round(1 / size))
    if len(np.unique(groups)) < folds:
        raise ConfigError(f"{key}={size}: dataset.group_by leaves {len(np.unique(groups))} groups, too few to "
                          f"hold out about {size:g} of them whole; expected at least {folds} groups")
    from sklearn.model_selection import StratifiedGroupKFold  # a second to import: here, not at startup

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    kept, held = next(splitter.split(index, labels, groups))
    return index[kept], index[held]


def fold_rows(source, dataset: DatasetConfig, seed: int, train: np.ndarray, val: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fold ``dataset.fold``'s training, validation and held-out rows: the training part (``train`` and
    ``val``) folded, the fold held out, the validation part carved anew from the rest."""
    pool = np.sort(np.concatenate([train, val]))
    labels, groups = source.labels, source.groups
    held = pool[fold_parts(labels[pool], dataset.folds, seed, None if groups is None else groups[pool],
                           source.class_names)[dataset.fold - 1]]
    rest = np.setdiff1d(pool, held)
    train, val = _stratified(rest, labels[rest], dataset.val_size, seed, "dataset.val_size",
                             None if groups is None else groups[rest])
    return train, val, held


def fold_parts(labels: np.ndarray, folds: int, seed: int, groups: np.ndarray | None = None,
               class_names: list[str] | None = None) -> list[np.ndarray]:
    """The ``folds`` held-out parts of the rows of ``labels`` (each row in one), seeded."""
    index = np.arange(len(labels))
    _check_foldable(labels, folds, groups, class_names)
    if labels.ndim == 2 and groups is not None:
        log.info("dataset.folds: dataset.group_by keeps each group whole; multi-label folds of whole groups are "
                 "not stratified per label")
        from sklearn.model_selection import GroupKFold  # a second to import: here, not at startup

        splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    elif labels.ndim == 2:
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

        splitter = MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    elif groups is not None:
        from sklearn.model_selection import StratifiedGroupKFold  # a second to import: here, not at startup

        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        from sklearn.model_selection import StratifiedKFold  # a second to import: here, not at startup

        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [np.sort(held) for _, held in splitter.split(index, labels, groups)]


def fold_rule(labels: np.ndarray, grouped: bool) -> str:
    """How :func:`fold_parts` draws the folds of these labels (cv.json's ``rule``)."""
    if labels.ndim == 2:
        return "whole groups, not stratified" if grouped else "iterative stratification (per label)"
    return "stratified, whole groups" if grouped else "stratified"


def _check_foldable(labels: np.ndarray, folds: int, groups: np.ndarray | None, class_names: list[str] | None
                    ) -> None:
    """Every fold must be able to hold each class (single-label) or each group: else one line."""
    if groups is not None and len(np.unique(groups)) < folds:
        raise ConfigError(f"dataset.folds: {folds} folds of whole groups, but dataset.group_by leaves "
                          f"{len(np.unique(groups))} groups; expected at most that many folds")
    counts = labels.sum(axis=0) if labels.ndim == 2 else np.bincount(labels)
    present = np.flatnonzero(counts)
    rarest = present[np.argmin(counts[present])]
    if labels.ndim == 1 and counts[rarest] < folds:
        name = class_names[rarest] if class_names else str(rarest)
        raise ConfigError(f"dataset.folds: {folds} folds, but class {name!r} has {counts[rarest]} training "
                          f"image(s), too few to be in every fold; expected at most {counts[rarest]} folds")
    if len(labels) < folds:
        raise ConfigError(f"dataset.folds: {folds} folds of {len(labels)} training images; expected at most "
                          f"{len(labels)} folds")
