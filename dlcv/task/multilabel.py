"""Any number of classes per image (:class:`MultiLabel`): a sigmoid per class, binary cross-entropy, a
threshold per class chosen on validation, and the scores of label sets (mean average precision, F1, exact
match).

A sigmoid per class gives each class a probability; which classes an image *has* depends on a threshold,
and 0.5 for every class is rarely right (a rare class's probabilities seldom reach it). Each class gets
the threshold that maximises its F1 on the validation split — never the test split — or 0.5 where the
validation split has fewer than :data:`MIN_POSITIVES` images of it.

    task = MultiLabel(class_names).choose(val_probabilities, val_targets)     # each class's threshold
    evaluation = task.score(test_probabilities, test_targets)
    evaluation.summary      # "mAP 0.8123 (3 classes), F1 micro 0.80, macro 0.78, exact match 0.61, loss 0.2341"
"""
from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import files
from ..errors import DlcvError
from .base import DEFAULT_SEPARATOR, LabelSet, Task
from .calibration import (
    MIN_MISTAKES,
    expected_calibration_error_per_label,
    fit_sigmoid_temperatures,
    sigmoid_at,
    sigmoid_mistakes,
)

log = logging.getLogger(__name__)

MIN_POSITIVES = 5
"""Validation images of a class below which its threshold stays 0.5 (too few to choose one on)."""
DEFAULT_THRESHOLD = 0.5


def labels_at(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The rule: an image has every class whose probability is at or above that class's threshold."""
    return np.asarray(probabilities) >= np.asarray(thresholds)


@dataclass(frozen=True)
class Thresholds:
    values: np.ndarray
    """One threshold per class, in the classes' order."""
    class_names: list[str]
    defaulted: list[str]
    """Classes left at 0.5: fewer than :data:`MIN_POSITIVES` validation images."""
    chosen_on: str = "validation"
    """The images they were chosen on: a run's validation split, or a k-fold run's out-of-fold scores."""

    def to_dict(self) -> dict[str, Any]:
        return {"thresholds": {name: float(t) for name, t in zip(self.class_names, self.values)},
                "chosen_on": self.chosen_on, "rule": "the largest F1 of each class",
                "defaulted_to_0.5": self.defaulted, "min_positives": MIN_POSITIVES}

    def write(self, run) -> Path:
        files.write_json(run.thresholds_file, self.to_dict())
        return run.thresholds_file


def read_thresholds(path: str | Path, class_names: list[str]) -> np.ndarray:
    """The thresholds a run folder holds (thresholds.json), in ``class_names``' order."""
    import json

    try:
        saved = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DlcvError(f"{path}: not readable JSON ({type(exc).__name__}); expected the thresholds.json dlcv "
                        "train wrote") from None
    return thresholds_of(saved.get("thresholds") if isinstance(saved, dict) else None, class_names, path)


def thresholds_of(saved: Any, class_names: list[str], where: str | Path) -> np.ndarray:
    """``saved`` ({class: threshold}) in ``class_names``' order: every class, each a number in [0, 1]."""
    if not isinstance(saved, dict):
        raise DlcvError(f"{where}: thresholds: expected an object of one threshold per class")
    values = []
    for name in class_names:
        value = saved.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise DlcvError(f"{where}: thresholds.{name}: {value!r}; expected a number from 0 to 1")
        values.append(float(value))
    return np.array(values, np.float32)


def choose_thresholds(probabilities: np.ndarray, targets: np.ndarray, class_names: list[str],
                      chosen_on: str = "validation") -> Thresholds:
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
        log.info(f"thresholds: 0.5 for {', '.join(defaulted)} (fewer than {MIN_POSITIVES} {chosen_on} images "
                 f"each); the others chosen on {chosen_on}")
    return Thresholds(values, list(class_names), defaulted, chosen_on)


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
    calibration: dict[str, float] = field(default_factory=dict)
    """test_ece (over every image and class), and for a calibrated run test_ece_uncalibrated and
    test_nll_calibrated."""
    """The true multi-hot rows."""

    @property
    def count(self) -> int:
        return len(self.labels)

    @property
    def predictions(self) -> np.ndarray:
        """The predicted multi-hot rows (each class at or above its threshold)."""
        return labels_at(self.probabilities, self.thresholds).astype(np.uint8)

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
                "test_unscored_classes": self.unscored, "test_classes": self.per_class, **self.calibration}

    def write(self, run) -> dict[str, Path]:
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
    predicted = labels_at(probabilities, thresholds).astype(np.uint8)
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


class MultiLabel(Task):
    """Any number of classes per image, each at or above its threshold (0.5 until chosen on validation)."""

    name = "multilabel"
    activation = "sigmoid"
    primary_metric = "test_map"
    primary_name = "mAP"
    search_metrics = ("val_map", "val_f1_macro")
    agreement = "label sets"
    chooses_on_validation = "each class's threshold"
    needs_label_table = True
    balances_classes = False
    record_type = LabelSet

    def __init__(self, class_names, separator: str = DEFAULT_SEPARATOR, thresholds: Thresholds | None = None) -> None:
        super().__init__(class_names, separator)
        self.thresholds = thresholds or Thresholds(np.full(len(self.class_names), DEFAULT_THRESHOLD, np.float32),
                                                   self.class_names, list(self.class_names))

    @classmethod
    def read(cls, folder, class_names: list[str], separator: str = DEFAULT_SEPARATOR) -> MultiLabel:
        if not folder.thresholds_file.is_file():
            log.info(f"{folder.path.name}: no thresholds.json; 0.5 for every class")
            return cls(class_names, separator)
        values = read_thresholds(folder.thresholds_file, class_names)
        return cls(class_names, separator, Thresholds(values, list(class_names), []))

    @classmethod
    def from_spec(cls, spec: dict[str, Any], class_names: list[str], where: Path) -> MultiLabel:
        if "thresholds" not in spec:
            raise DlcvError(f"{where}: task: multilabel without thresholds; expected one threshold per class (the "
                            "serving.json dlcv export writes)")
        values = thresholds_of(spec["thresholds"], class_names, where)
        return cls(class_names, spec.get("separator", DEFAULT_SEPARATOR), Thresholds(values, list(class_names), []))

    def loss_and_metrics(self, label_smoothing: float = 0.0, soft_labels: bool = False, focal: bool = False,
                         keras_only: bool = False) -> tuple:
        """Keras's binary (focal) cross-entropy per class; as metrics :class:`MeanAveragePrecision` (``map``,
        logged each epoch; ``keras_only``: Keras's ``AUC``, which plain Keras loads and which counts a class
        without a positive as 0) and macro F1 at 0.5 (``f1_macro``: the thresholds come after training)."""
        import keras

        from ..model_objects import MeanAveragePrecision

        if keras_only:
            label_smoothing, focal = 0.0, False
        loss = (keras.losses.BinaryFocalCrossentropy(label_smoothing=label_smoothing) if focal
                else keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing))
        average_precision = (keras.metrics.AUC(curve="PR", multi_label=True, name="map") if keras_only
                             else MeanAveragePrecision())
        return loss, [average_precision, keras.metrics.F1Score(average="macro", threshold=0.5, name="f1_macro")]

    def class_counts(self, labels: np.ndarray) -> np.ndarray:
        return self.truth(labels).sum(axis=0)

    def class_weights(self, labels: np.ndarray, how: str) -> None:
        return None  # the checks refuse class_weight: balanced for multi-label data

    def choose(self, probabilities: np.ndarray, labels: np.ndarray, chosen_on: str = "validation") -> MultiLabel:
        return self._with(thresholds=choose_thresholds(probabilities, labels, self.class_names, chosen_on))

    def write(self, run) -> dict[str, Path]:
        return {**super().write(run), "thresholds": self.thresholds.write(run)}

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        return labels_at(probabilities, self.thresholds.values)

    def truth(self, labels: np.ndarray) -> np.ndarray:
        return np.asarray(labels) >= 0.5

    def label_issues(self, labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # cleanlab's multi-label functions take each image's labels as a list of class indexes
        from cleanlab.multilabel_classification.filter import find_label_issues
        from cleanlab.multilabel_classification.rank import get_label_quality_scores

        given = [self.classes_of(row) for row in labels]
        ranked = find_label_issues(given, probabilities, return_indices_ranked_by="self_confidence")
        return np.asarray(ranked, np.int64), get_label_quality_scores(given, probabilities)

    def classes_of(self, label) -> list[int]:
        return np.flatnonzero(np.asarray(label) >= 0.5).tolist()

    def differences(self, given, decided) -> tuple[str, str]:
        given, decided = set(self.classes_of(given)), set(self.classes_of(decided))
        return tuple(self.separator.join(self.class_names[k] for k in sorted(side))
                     for side in (decided - given, given - decided))

    def parse_label(self, text: str) -> np.ndarray:
        row = np.zeros(len(self.class_names), np.uint8)
        row[[self._index_of(name) for name in text.split(self.separator) if name]] = 1
        return row

    def _score(self, probabilities: np.ndarray, labels: np.ndarray) -> MultilabelEvaluation:
        return score_multilabel(probabilities, labels, self.class_names, self.thresholds.values)

    per_class_temperature = True
    rejects = False  # an image none of whose classes passes its threshold has no label already

    def _at_temperature(self, probabilities: np.ndarray, temperature: np.ndarray) -> np.ndarray:
        return sigmoid_at(probabilities, temperature)

    def _fit_temperature(self, probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return fit_sigmoid_temperatures(probabilities, labels)

    def _too_few_mistakes(self, probabilities: np.ndarray, labels: np.ndarray) -> str:
        few = [name for name, count in zip(self.class_names, sigmoid_mistakes(probabilities, labels))
               if count < MIN_MISTAKES]
        return f"{', '.join(few)} had fewer than {MIN_MISTAKES} validation images on the wrong side of 0.5" \
            if few else ""

    def ece(self, probabilities: np.ndarray, labels: np.ndarray) -> float:
        return expected_calibration_error_per_label(probabilities, labels)

    def reliability_points(self, probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(probabilities).ravel(), (np.asarray(labels) >= 0.5).ravel().astype(float)

    def headline(self, results: dict[str, Any]) -> str:
        return (f"test mAP {results['test_map']:.4f}, F1 micro {results['test_f1_micro']:.4f}, macro "
                f"{results['test_f1_macro']:.4f}, exact match {results['test_exact_match']:.4f} "
                f"({results.get('test_images', '?')} images), loss {results.get('test_loss', float('nan')):.4f}")

    def record(self, path: str, probabilities: np.ndarray, top: int = 1, unknown: str | None = None) -> LabelSet:
        # no reject rule for label sets (refused at training): an image no class passes has no label already
        chosen = np.flatnonzero(self.decide(probabilities[None])[0])
        return LabelSet(path, tuple((self.class_names[k], float(probabilities[k])) for k in chosen),
                        {name: float(p) for name, p in zip(self.class_names, probabilities)}, self.separator,
                        self.ranked(probabilities, top) if top > 1 else ())

    def serving_fields(self) -> dict[str, Any]:
        return {"task": self.name,
                "output": {"dtype": "float32", "shape": [None, len(self.class_names)],
                           "meaning": "one probability per class (a sigmoid each), in the order of labels"},
                "thresholds": {name: float(t) for name, t in zip(self.class_names, self.thresholds.values)},
                "separator": self.separator,
                "how_to_label": "an image has every class whose probability is at or above its threshold "
                                "(chosen on the validation split)", **self.calibration_fields()}

    # -- the report -----------------------------------------------------------------------------------
    def report_sections(self, evaluation, mistakes_html) -> list[str]:
        names, p = self.class_names, evaluation.probabilities
        predicted, truth = self.decide(p), self.truth(evaluation.labels)
        thresholds = self.thresholds.values
        found = []
        for i in np.flatnonzero((predicted != truth).any(axis=1)):
            wrong = np.flatnonzero(predicted[i] != truth[i])
            found.append((float(np.max(np.abs(p[i, wrong] - thresholds[wrong]))), int(i)))
        cards = []
        def listed(i: int, ks) -> str:
            return ", ".join(f"{html.escape(names[k])} {p[i, k]:.3f}" for k in ks) or "none"

        for _, i in sorted(found, key=lambda item: -item[0]):  # the surest mistake first (ties: split order)
            missed = np.flatnonzero(truth[i] & ~predicted[i])
            extra = np.flatnonzero(predicted[i] & ~truth[i])
            said = [f"missed <b>{listed(i, missed)}</b>" if len(missed) else "",
                    f"extra <b>{listed(i, extra)}</b>" if len(extra) else ""]
            cards.append((i, f"true {{{html.escape(', '.join(names[k] for k in np.flatnonzero(truth[i])))}}}, "
                             f"predicted {{{listed(i, np.flatnonzero(predicted[i]))}}}: "
                             + "; ".join(s for s in said if s), None))
        section, _ = mistakes_html(cards, "with a wrong label set (a class missed or one too many)", "surest")
        return [_per_class(evaluation.per_class), section]

    def saved_sections(self, saved: dict[str, Any]) -> list[str]:
        return [_per_class(saved["classes"])] if "classes" in saved else []


def _per_class(per_class: dict) -> str:
    def cell(value) -> str:
        return "–" if value is None else f"{value:.3f}"

    keys = ("average_precision", "threshold", "precision", "recall", "f1")
    rows = "".join(f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{cell(row[k])}</td>" for k in keys)
                   + f"<td>{int(row['support'])}</td></tr>" for name, row in per_class.items())
    return ("<h2>Per class</h2><p class=note>Each class's threshold was chosen on the validation split (the largest "
            "F1); average precision needs no threshold (–: no test image of the class).</p><table><tr><th>class</th>"
            "<th>average precision</th><th>threshold</th><th>precision</th><th>recall</th><th>F1</th>"
            f"<th>test images</th></tr>{rows}</table>")
