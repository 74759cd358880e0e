"""What every task is asked (:class:`Task`), and the prediction records it makes (:class:`TopLabel`,
:class:`LabelSet`): one record per image, used by ``predict`` in every format, ``evaluate`` and the report."""
from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .. import files
from ..config.schema import DEFAULT_SEPARATOR
from .calibration import MIN_MISTAKES, Calibration, Reject

log = logging.getLogger(__name__)

TASK_NAMES = ("single", "multilabel")
"""The tasks a run can be trained for (the config's ``task`` adds ``auto``: decided by the data)."""


@dataclass(frozen=True)
class TopLabel:
    """A single-label prediction: the most probable class, and with ``top`` the next ones."""

    path: str
    label: str
    probability: float
    top: tuple[tuple[str, float], ...] = ()
    """The ``top`` most probable (label, probability) pairs, best first (empty unless asked for)."""
    unknown: bool = False
    """The run's reject rule turned it away: ``label`` is the rule's (``unknown``), ``probability`` still the
    top class's."""

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"path": self.path, "label": self.label, "probability": round(self.probability, 6)}
        if self.unknown:
            record["unknown"] = True
        return _with_top(record, self)

    def cells(self, digits: int) -> list[str]:
        """path, label, probability[, label_2, probability_2, ...] for text and CSV."""
        pairs = self.top or ((self.label, self.probability),)
        return [self.path] + [cell for name, p in pairs for cell in (name, f"{p:.{digits}f}")]

    @staticmethod
    def header(top: int) -> list[str]:
        return ["path", "label", "probability"] + [f"{key}_{rank}" for rank in range(2, top + 1)
                                                   for key in ("label", "probability")]


@dataclass(frozen=True)
class LabelSet:
    """A multi-label prediction: every class at or above its threshold, each with its own probability."""

    path: str
    labels: tuple[tuple[str, float], ...]
    """The image's labels and their probabilities, in the classes' order (empty: no class passed)."""
    probabilities: dict[str, float]
    """Every class's probability."""
    separator: str = DEFAULT_SEPARATOR
    top: tuple[tuple[str, float], ...] = ()
    """The ``top`` most probable classes, best first, whatever the thresholds say (the label set stays)."""

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.labels)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"path": self.path, "labels": list(self.label_names),
                                  "probabilities": {name: round(p, 6) for name, p in self.probabilities.items()}}
        return _with_top(record, self)

    def cells(self, digits: int) -> list[str]:
        """path, the labels joined, their probabilities joined in the same order[, label_1, probability_1, ...]."""
        return [self.path, self.separator.join(self.label_names),
                self.separator.join(f"{p:.{digits}f}" for _, p in self.labels)] + \
            [cell for name, p in self.top for cell in (name, f"{p:.{digits}f}")]

    @staticmethod
    def header(top: int) -> list[str]:
        return ["path", "labels", "probabilities"] + ([f"{key}_{rank}" for rank in range(1, top + 1)
                                                       for key in ("label", "probability")] if top > 1 else [])


Prediction = TopLabel | LabelSet


def _with_top(record: dict[str, Any], prediction: Prediction) -> dict[str, Any]:
    if prediction.top:
        record["top"] = [{"label": name, "probability": round(p, 6)} for name, p in prediction.top]
    return record


class Task(ABC):
    """A task over ``class_names``: subclasses say what the head, the loss, the decision, the scores and
    the records are."""

    name: ClassVar[str]
    activation: ClassVar[str]
    """The head's activation, passed to every model builder as ``classifier_activation``."""
    primary_metric: ClassVar[str]
    """results.json's key of the score runs are compared by (what ``dlcv runs`` shows first)."""
    primary_name: ClassVar[str]
    """That score's name in a sentence ("accuracy", "mAP")."""
    search_metrics: ClassVar[tuple[str, ...]]
    """The validation metrics ``dlcv tune`` may maximise; the first is its default."""
    needs_label_table: ClassVar[bool] = False
    """Only a label table can give its images' labels (several per image)."""
    balances_classes: ClassVar[bool] = True
    """Each image has one class, which class weights and balanced sampling can count."""
    chooses_on_validation: ClassVar[str | None] = None
    """What it chooses on the validation split after training (None: nothing)."""
    agreement: ClassVar[str]
    """What two models must agree on to give the same predictions ("top-1 labels", "label sets")."""
    record_type: ClassVar[type]

    def __init__(self, class_names: Sequence[str], separator: str = DEFAULT_SEPARATOR) -> None:
        self.class_names, self.separator = [str(name) for name in class_names], separator
        self.calibration: Calibration | None = None
        """The temperature (and reject rule) chosen on validation; None: the network's own probabilities."""

    def renamed(self, class_names: Sequence[str]) -> Task:
        """The same task with other names for its classes (a bare model file's numbered outputs, named)."""
        if len(class_names) != len(self.class_names):
            raise ValueError(f"{len(class_names)} names for {len(self.class_names)} classes")
        return self._with(class_names=[str(name) for name in class_names])

    def _with(self, **changes) -> Task:
        """A copy with ``changes`` (tasks are not changed in place: a loaded run's task stays as read)."""
        import copy

        changed = copy.copy(self)
        changed.__dict__.update(changes)
        return changed

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.class_names)} classes)"

    # -- reading back ---------------------------------------------------------------------------------
    @classmethod
    def read(cls, folder, class_names: list[str], separator: str = DEFAULT_SEPARATOR) -> Task:
        """The task as a run folder holds it (what it chose on validation included)."""
        return cls(class_names, separator)

    @classmethod
    def from_spec(cls, spec: dict[str, Any], class_names: list[str], where: Path) -> Task:
        """The task as an export's serving.json holds it."""
        return cls(class_names, spec.get("separator", DEFAULT_SEPARATOR))

    # -- training -------------------------------------------------------------------------------------
    @abstractmethod
    def loss_and_metrics(self, label_smoothing: float = 0.0, soft_labels: bool = False, focal: bool = False,
                         keras_only: bool = False) -> tuple:
        """(loss, metrics) to compile the model with; ``keras_only``: Keras's own objects (a saved file's)."""

    def class_counts(self, labels: np.ndarray) -> np.ndarray:
        """Images of each class among ``labels`` (class indexes; a multi-label task counts its rows' 1s)."""
        return np.bincount(np.asarray(labels, np.int64), minlength=len(self.class_names))

    def class_weights(self, labels: np.ndarray, how: str) -> np.ndarray | None:
        """One loss weight per class (None: "none")."""
        if how == "none":
            return None
        from sklearn.utils.class_weight import compute_class_weight

        return compute_class_weight(how, classes=np.arange(len(self.class_names)), y=labels)

    # -- after training -------------------------------------------------------------------------------
    def choose(self, probabilities: np.ndarray, labels: np.ndarray, chosen_on: str = "validation") -> Task:
        """This task with what it chooses on the validation split's predictions, or on a k-fold run's
        out-of-fold ones (nothing, by default)."""
        return self

    def write(self, run) -> dict[str, Path]:
        """What it chose, in the run folder (its name -> file)."""
        if self.calibration is None:
            return {}
        files.write_json(run.calibration_file, self.calibration.to_dict(self.class_names))
        return {"calibration": run.calibration_file}

    # -- deciding and scoring -------------------------------------------------------------------------
    @abstractmethod
    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """The labels the rule gives: class indexes (N,), or multi-hot rows (N, classes)."""

    def same_decisions(self, a: np.ndarray, b: np.ndarray) -> float:
        """The share of images two sets of probabilities (or decisions and true labels) label the same."""
        a, b = np.asarray(a), np.asarray(b)
        return float(np.mean(a == b)) if a.ndim == 1 else float(np.mean((a == b).all(axis=1)))

    def truth(self, labels: np.ndarray) -> np.ndarray:
        """True labels in the form :meth:`decide` gives."""
        return np.asarray(labels)

    # -- calibration ----------------------------------------------------------------------------------
    per_class_temperature: ClassVar[bool] = False
    """One temperature a class (independent sigmoids), or one for all (a softmax)."""
    rejects: ClassVar[bool] = True
    """A reject rule can turn an image away (``unknown``): it has one top label to withhold."""

    def calibrated(self, probabilities: np.ndarray) -> np.ndarray:
        """The probabilities at the run's temperature (unchanged for an uncalibrated run)."""
        if self.calibration is None:
            return np.asarray(probabilities, np.float32)
        return self._at_temperature(probabilities, self.calibration.temperature)

    def calibrate(self, probabilities: np.ndarray, labels: np.ndarray) -> Task:
        """This task with the temperature(s) of least NLL on these (validation) probabilities, said in one line
        with the ECE before and after, or why a temperature could not be learnt (too few mistakes)."""
        task = self._with(calibration=Calibration(self._fit_temperature(probabilities, labels)))
        temperature, few = np.asarray(task.calibration.temperature), self._too_few_mistakes(probabilities, labels)
        if few and np.all(temperature == 1):
            log.info(f"calibration: temperature 1, the network's own probabilities: a temperature is learnt from at "
                     f"least {MIN_MISTAKES} validation mistakes, and {few}")
            return task
        before, after = self.ece(probabilities, labels), task.ece(task.calibrated(probabilities), labels)
        chosen = f"{float(temperature):.3f}" if temperature.ndim == 0 else \
            f"{temperature.min():.3f}-{temperature.max():.3f} (per class)"
        log.info(f"calibration: temperature {chosen} chosen on validation (ECE {before:.4f} -> {after:.4f})"
                 + (f"; 1 where {few}" if few else ""))
        return task

    def with_reject(self, reject: Reject) -> Task:
        return self._with(calibration=dataclasses.replace(self.calibration, reject=reject))

    def with_calibration(self, calibration: Calibration | None) -> Task:
        return self._with(calibration=calibration)

    def calibration_fields(self) -> dict[str, Any]:
        """serving.json's ``calibration`` (nothing for an uncalibrated run)."""
        return {} if self.calibration is None else {"calibration": self.calibration.to_dict(self.class_names)}

    @abstractmethod
    def _at_temperature(self, probabilities: np.ndarray, temperature: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _fit_temperature(self, probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _too_few_mistakes(self, probabilities: np.ndarray, labels: np.ndarray) -> str:
        """Where these (validation) images hold fewer than :data:`MIN_MISTAKES` mistakes to learn a temperature
        from, in words ("" where they hold enough)."""

    @abstractmethod
    def ece(self, probabilities: np.ndarray, labels: np.ndarray) -> float:
        """The expected calibration error (15 equal-width bins) of these probabilities."""

    @abstractmethod
    def reliability_points(self, probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(confidence, outcome) pairs a reliability diagram bins."""

    def classes_of(self, label) -> list[int]:
        """The class indexes of one image's label."""
        return [int(label)]

    def explained_classes(self, probabilities: np.ndarray) -> list[int]:
        """The classes one image's heatmaps explain (``dlcv explain``): the label(s) decided for it."""
        return self.classes_of(self.decide(np.asarray(probabilities)[None])[0])

    def shown_class(self, probabilities: np.ndarray) -> int:
        """The one class a report's heatmap of an image explains: its most probable decided label (the most
        probable class where none is decided)."""
        decided = self.explained_classes(probabilities)
        return max(decided, key=lambda k: probabilities[k]) if decided else int(np.argmax(probabilities))

    def label_text(self, label) -> str:
        """One image's label as its class names (several joined by the separator)."""
        return self.separator.join(self.class_names[k] for k in self.classes_of(label))

    def differences(self, given, decided) -> tuple[str, str]:
        """What a decision adds to a label and what it drops (multi-label: missed and extra classes); a
        single label is replaced whole: nothing to list."""
        return "", ""

    def parse_label(self, text: str):
        """:meth:`label_text` read back (an unknown name: ValueError)."""
        return self._index_of(text)

    def _index_of(self, name: str) -> int:
        try:
            return self.class_names.index(name)
        except ValueError:
            raise ValueError(f"unknown class {name!r}") from None

    def score(self, probabilities: np.ndarray, labels: np.ndarray):
        """The scores of one prediction pass on held-out images (an evaluation with ``results()``), from the
        network's probabilities: decided and scored at the run's temperature; its loss is the network's own
        (``test_loss``), and the calibration's effect is beside it (``test_ece``, ``test_ece_uncalibrated``,
        ``test_nll_calibrated``)."""
        calibrated = self.calibrated(probabilities)
        evaluation = self._score(calibrated, labels)
        scores = {"test_ece": self.ece(calibrated, labels)}
        if self.calibration is not None:
            raw = self._score(probabilities, labels)
            scores.update(test_ece_uncalibrated=self.ece(probabilities, labels), test_nll_calibrated=evaluation.loss)
            evaluation = dataclasses.replace(evaluation, loss=raw.loss)
        return dataclasses.replace(evaluation, calibration=scores)

    @abstractmethod
    def _score(self, probabilities: np.ndarray, labels: np.ndarray):
        """The task's scores of these probabilities."""

    def label_issues(self, labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Confident learning (cleanlab) on out-of-sample ``probabilities``: the rows whose given label is
        probably wrong, most likely first, and every row's label-quality score (0 = surely wrong)."""
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores

        labels = np.asarray(labels, np.int64)
        ranked = find_label_issues(labels, probabilities, return_indices_ranked_by="self_confidence")
        return np.asarray(ranked, np.int64), get_label_quality_scores(labels, probabilities)

    def primary(self, scores: dict[str, Any]) -> dict[str, Any]:
        """results.json's ``primary_metric``: ``{name, value, direction}`` ({} without test scores)."""
        if self.primary_metric not in scores:
            return {}
        return {"primary_metric": {"name": self.primary_metric, "value": scores[self.primary_metric],
                                   "direction": "maximize"}}

    @abstractmethod
    def headline(self, results: dict[str, Any]) -> str:
        """A run's scores in one line of text, from results.json."""

    # -- predicting -----------------------------------------------------------------------------------
    @abstractmethod
    def record(self, path: str, probabilities: np.ndarray, top: int = 1, unknown: str | None = None) -> Prediction:
        """One image's prediction record (``top``: with the ``top`` most probable classes; ``unknown``: the label
        of an image the run's reject rule turned away)."""

    def ranked(self, probabilities: np.ndarray, top: int) -> tuple[tuple[str, float], ...]:
        order = np.argsort(-probabilities, kind="stable")[:max(top, 1)]
        return tuple((self.class_names[i], float(probabilities[i])) for i in order)

    def header(self, top: int) -> list[str]:
        """The CSV header of its records."""
        return self.record_type.header(top)

    @abstractmethod
    def serving_fields(self) -> dict[str, Any]:
        """Its fields in an export's serving.json (``task`` among them)."""

    # -- the report -----------------------------------------------------------------------------------
    @abstractmethod
    def report_sections(self, evaluation, mistakes_html) -> list[str]:
        """The report's per-class section(s) and its mistakes (``mistakes_html(cards, count, total)``)."""

    @abstractmethod
    def saved_sections(self, saved: dict[str, Any]) -> list[str]:
        """The per-class section(s) from a saved classification_report.json (no predictions at hand)."""
