"""A k-fold run's files: each fold's scores on the images it did not train on, and the parent's summary.

    output/<name>/                 the parent: config.yaml, cv.json, oof.csv, results.json, report.html
    output/<name>/folds/<k>/       fold k (from 1): an ordinary run folder, plus held_out.csv (its
                                   held-out images' probabilities) and test_predictions.npz

``oof.csv`` holds one row per training image: its path (relative to the data set's folder, ``#row`` for
a built-in set without files), its given label(s), its fold and one ``p_<class>`` column per class, each
image scored by the one model that did not train on it. Everything here reads and writes files; training
the folds is :mod:`dlcv.training.kfold`'s (what uses a finished k-fold run never imports the trainer).

    >>> mean_interval([0.8, 0.9, 0.85])           # mean, standard deviation, 95% t-interval
    {'mean': 0.85, 'std': 0.05, 'interval': [0.7258, 0.9742]}
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import files
from .errors import DlcvError
from .runs import RunFolder
from .task import Task

PROBABILITY_PREFIX = "p_"
FIXED_COLUMNS = ("path", "label", "fold")


def fold_folder(parent: str | Path, fold: int) -> RunFolder:
    """Fold ``fold``'s run folder under a k-fold parent."""
    return RunFolder(Path(parent) / RunFolder.folds.name / str(fold))


def is_parent(folder: str | Path) -> bool:
    """Whether ``folder`` is a k-fold run's parent (it holds cv.json, or folds/)."""
    run = RunFolder(folder)
    return run.cv_file.is_file() or run.folds.is_dir()


def mean_interval(values: Sequence[float], confidence: float = 0.95, bounds: tuple[float, float] = (0.0, 1.0)
                  ) -> dict[str, object]:
    """Mean, sample standard deviation and Student's t-interval of the mean of per-fold scores (clipped to
    the score's ``bounds``: a proportion's interval stays within [0, 1])."""
    from scipy.stats import t

    values = np.asarray(values, float)
    mean, std = float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
    half = float(t.ppf((1 + confidence) / 2, len(values) - 1)) * std / math.sqrt(len(values)) if std else 0.0
    low, high = max(mean - half, bounds[0]), min(mean + half, bounds[1])
    return {"mean": round(mean, 6), "std": round(std, 6), "interval": [round(low, 4), round(high, 4)]}


NOT_PROPORTIONS = ("loss", "nll_calibrated")
"""Held-out scores that are negative log-likelihoods, not proportions: their interval has no upper bound."""


def summarise_held_out(per_fold: Sequence[dict[str, float]]) -> dict[str, dict[str, object]]:
    """Each held-out score's :func:`mean_interval` over the folds, with the folds' values (``images`` left out).

    >>> summarise_held_out([{"loss": 1.05, "images": 50}, {"loss": 1.09, "images": 50}])["loss"]["interval"]
    [0.8159, 1.3241]
    """
    return {key: {**mean_interval([scores[key] for scores in per_fold],
                                  bounds=(0.0, math.inf) if key in NOT_PROPORTIONS else (0.0, 1.0)),
                  "folds": [scores[key] for scores in per_fold]}
            for key in per_fold[0] if key != "images"}


@dataclass(frozen=True)
class OutOfFold:
    """Out-of-fold scores: each image's name, given label, fold and class probabilities."""

    paths: list[str]
    labels: np.ndarray
    """Class indexes (N,), or multi-hot rows (N, classes)."""
    folds: np.ndarray
    probabilities: np.ndarray

    def write(self, path: str | Path, task: Task) -> None:
        """As CSV (temporary file, then renamed)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*FIXED_COLUMNS, *(PROBABILITY_PREFIX + name for name in task.class_names)])
        for name, label, fold, row in zip(self.paths, self.labels, self.folds, self.probabilities):
            writer.writerow([name, task.label_text(label), int(fold), *(f"{p:.8g}" for p in row)])
        files.write_text(path, buffer.getvalue())

    @classmethod
    def read(cls, path: str | Path, task: Task) -> OutOfFold:
        """A file :meth:`write` wrote for ``task``'s classes; anything else is one line naming the file."""
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
        except (OSError, UnicodeDecodeError) as exc:
            raise DlcvError(f"{path}: not readable ({type(exc).__name__}); expected the file a k-fold run "
                            "wrote") from None
        expected = [*FIXED_COLUMNS, *(PROBABILITY_PREFIX + name for name in task.class_names)]
        if not rows or rows[0] != expected:
            raise DlcvError(f"{path}: its header is not {','.join(expected)[:200]}; expected the file a k-fold "
                            "run of these classes wrote")
        paths, labels, folds, probabilities = [], [], [], []
        for line, row in enumerate(rows[1:], start=2):
            try:
                if len(row) != len(expected):
                    raise ValueError(f"{len(row)} cells")
                values = [float(cell) for cell in row[3:]]
                if not all(0.0 <= value <= 1.0 for value in values):
                    raise ValueError("a probability outside [0, 1]")
                labels.append(task.parse_label(row[1]))
                folds.append(int(row[2]))
            except ValueError as exc:
                raise DlcvError(f"{path}: line {line}: {exc}; expected the file a k-fold run wrote") from None
            paths.append(row[0])
            probabilities.append(values)
        return cls(paths, np.array(labels), np.array(folds, np.int64),
                   np.array(probabilities, np.float32).reshape(len(paths), len(task.class_names)))

    @classmethod
    def joined(cls, parts: Sequence[OutOfFold]) -> OutOfFold:
        return cls([p for part in parts for p in part.paths], np.concatenate([part.labels for part in parts]),
                   np.concatenate([part.folds for part in parts]),
                   np.concatenate([part.probabilities for part in parts]))


def image_names(paths: Sequence[str] | None, rows: np.ndarray, root: str | None) -> list[str]:
    """How oof.csv names images: the path under the data set's folder, else ``#row`` (no files)."""
    import os

    if paths is None:
        return [f"#{int(row)}" for row in rows]
    names = []
    for path in paths:
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root)) if root else path
        names.append(path if relative.startswith(os.pardir) else relative)
    return names


def held_out_scores(evaluation) -> dict[str, float]:
    """A fold's scores on its held-out images: its evaluation's numbers, named without ``test_``."""
    return {key.removeprefix("test_"): value for key, value in evaluation.results().items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def write_test_predictions(run: RunFolder, probabilities: np.ndarray, labels: np.ndarray) -> Path:
    """A fold's test-split probabilities (the parent averages them: the ensemble's test scores)."""
    with files.atomic_path(run.test_predictions_file) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, probabilities=probabilities, labels=labels)
    return run.test_predictions_file


def read_test_predictions(run: RunFolder) -> tuple[np.ndarray, np.ndarray]:
    with np.load(run.test_predictions_file, allow_pickle=False) as saved:
        return saved["probabilities"], saved["labels"]
