"""Multi-label classification's own parts: a threshold per class chosen on validation, and the scores of
label sets (mean average precision, F1, exact match).

A sigmoid per class gives each class a probability; which classes an image *has* depends on a threshold,
and 0.5 for every class is rarely right (a rare class's probabilities seldom reach it). Each class gets
the threshold that maximises its F1 on the validation split — never the test split — or 0.5 where the
validation split has fewer than :data:`MIN_POSITIVES` images of it.

    thresholds = choose_thresholds(val_probabilities, val_targets, class_names)
    evaluation = score_multilabel(test_probabilities, test_targets, class_names, thresholds.values)
    evaluation.summary      # "mAP 0.8123 (3 classes), F1 micro 0.80, macro 0.78, exact match 0.61, loss 0.2341"
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import files
from .runs import RunFolder

log = logging.getLogger(__name__)

MIN_POSITIVES = 5
"""Validation images of a class below which its threshold stays 0.5 (too few to choose one on)."""
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Thresholds:
    values: np.ndarray
    """One threshold per class, in the classes' order."""
    class_names: list[str]
    defaulted: list[str]
    """Classes left at 0.5: fewer than :data:`MIN_POSITIVES` validation images."""

    def to_dict(self) -> dict[str, Any]:
        return {"thresholds": {name: float(t) for name, t in zip(self.class_names, self.values)},
                "chosen_on": "validation", "rule": "the largest F1 of each class",
                "defaulted_to_0.5": self.defaulted, "min_positives": MIN_POSITIVES}

    def write(self, run: RunFolder) -> Path:
        files.write_json(run.thresholds_file, self.to_dict())
        return run.thresholds_file


def read_thresholds(path: str | Path, class_names: list[str]) -> np.ndarray:
    """The thresholds a run folder (or an export) holds, in ``class_names``' order."""
    import json

    saved = json.loads(Path(path).read_text(encoding="utf-8"))["thresholds"]
    return np.array([float(saved[name]) for name in class_names], np.float32)


def choose_thresholds(probabilities: np.ndarray, targets: np.ndarray, class_names: list[str]) -> Thresholds:
    """Each class's threshold where its F1 on these (validation) images is largest: scikit-learn's
    precision-recall curve, every distinct probability a candidate."""
    from sklearn.metrics import precision_recall_curve

    values, defaulted = np.full(len(class_names), DEFAULT_THRESHOLD, np.float32), []
    for k, name in enumerate(class_names):
        truth = np.asarray(targets)[:, k] >= 0.5
        if truth.sum() < MIN_POSITIVES:
            defaulted.append(name)
            continue
        precision, recall, candidates = precision_recall_curve(truth, probabilities[:, k])
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        values[k] = candidates[int(np.argmax(f1))]
    if defaulted:
        log.info(f"thresholds: 0.5 for {', '.join(defaulted)} (fewer than {MIN_POSITIVES} validation images "
                 "each); the others chosen on validation")
    return Thresholds(values, list(class_names), defaulted)


@dataclass(frozen=True)
class MultilabelEvaluation:
    loss: float
    average_precision: float
    """mAP: the mean over classes of scikit-learn's average precision (classes without a test image left out)."""
    f1_micro: float
    f1_macro: float
    exact_match: float
    """The share of images whose predicted label set is exactly their true one."""
    per_class: dict[str, dict[str, float]]
    unscored: list[str]
    """Classes without a positive test image: no average precision, left out of the mean."""
    class_names: list[str]
    thresholds: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray
    """The true multi-hot rows."""

    multilabel = True

    @property
    def count(self) -> int:
        return len(self.labels)

    @property
    def predictions(self) -> np.ndarray:
        """The predicted multi-hot rows (each class at or above its threshold)."""
        return (self.probabilities >= self.thresholds).astype(np.uint8)

    @property
    def accuracy(self) -> float:
        """The exact-match ratio: a multi-label run's "accuracy" (every label of the image right)."""
        return self.exact_match

    @property
    def summary(self) -> str:
        left_out = f", without {', '.join(self.unscored)}" if self.unscored else ""
        return (f"mAP {self.average_precision:.4f} ({len(self.class_names) - len(self.unscored)} classes{left_out}), "
                f"F1 micro {self.f1_micro:.4f}, macro {self.f1_macro:.4f}, exact match {self.exact_match:.4f} "
                f"({self.count} images), loss {self.loss:.4f}")

    @property
    def report_text(self) -> str:
        width = max(len(name) for name in self.class_names)
        lines = [f"{'':>{width}}  precision  recall  f1-score  average-precision  threshold  support"]
        for name, row in self.per_class.items():
            ap = f"{row['average_precision']:.4f}" if row["average_precision"] is not None else "-"
            lines.append(f"{name:>{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:8.4f}  "
                         f"{ap:>17}  {row['threshold']:9.4f}  {int(row['support']):7d}")
        return "\n".join(lines) + f"\n\n{self.summary}\n"

    def results(self) -> dict[str, Any]:
        """What results.json records of it."""
        return {"test_map": self.average_precision, "test_f1_micro": self.f1_micro, "test_f1_macro": self.f1_macro,
                "test_exact_match": self.exact_match, "test_loss": self.loss, "test_images": self.count,
                "test_unscored_classes": self.unscored, "test_classes": self.per_class}

    def write(self, run: RunFolder) -> dict[str, Path]:
        """The per-class report as text and JSON (classification_report.txt / .json)."""
        files.write_text(run.report_text_file, self.report_text)
        files.write_json(run.report_json_file, {"classes": self.per_class, **{
            key.removeprefix("test_"): value for key, value in self.results().items() if key != "test_classes"}})
        return {"report_text": run.report_text_file, "report_json": run.report_json_file}


def score_multilabel(probabilities: np.ndarray, targets: np.ndarray, class_names: list[str],
                     thresholds: np.ndarray | None = None) -> MultilabelEvaluation:
    """mAP, F1 (micro, macro), exact match and each class's precision / recall / F1 / AP, with each class's
    label at or above its threshold (default 0.5); the loss is the binary cross-entropy of the true rows."""
    import keras
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, precision_recall_fscore_support

    probabilities = np.asarray(probabilities, np.float32)
    truth = (np.asarray(targets) >= 0.5).astype(np.uint8)
    thresholds = np.full(len(class_names), DEFAULT_THRESHOLD, np.float32) if thresholds is None else thresholds
    predicted = (probabilities >= thresholds).astype(np.uint8)
    loss = float(keras.ops.convert_to_numpy(keras.ops.mean(keras.losses.binary_crossentropy(
        truth.astype(np.float32), probabilities))))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, zero_division=0)
    per_class, scored, unscored = {}, [], []
    for k, name in enumerate(class_names):
        ap = float(average_precision_score(truth[:, k], probabilities[:, k])) if truth[:, k].any() else None
        (scored if ap is not None else unscored).append(ap if ap is not None else name)
        per_class[name] = {"precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k]),
                           "average_precision": ap, "threshold": float(thresholds[k]), "support": int(support[k])}
    return MultilabelEvaluation(
        loss=loss, average_precision=float(np.mean(scored)) if scored else float("nan"),
        f1_micro=float(f1_score(truth, predicted, average="micro", zero_division=0)),
        f1_macro=float(f1_score(truth, predicted, average="macro", zero_division=0)),
        exact_match=float(accuracy_score(truth, predicted)), per_class=per_class, unscored=unscored,
        class_names=list(class_names), thresholds=np.asarray(thresholds, np.float32), probabilities=probabilities,
        labels=truth)
