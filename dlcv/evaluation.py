"""Scoring a single-label model's predictions on held-out data: accuracy with its 95% interval, loss and
scikit-learn's classification report (a task's ``score`` calls it: :mod:`dlcv.task`).

    evaluation = score_single_label(*route.predict(model, splits.test), class_names)
    print(evaluation.report_text)                  # ends "accuracy 0.6800, 95% interval 0.5679-0.7746 ..."
    evaluation.write(RunFolder("output/run"))   # classification_report.txt / .json, confusion_matrix.png

A saved model re-scored on a test split (``dlcv evaluate``, ``dlcv report``) goes through
:func:`dlcv.inference.evaluate_model`: load, check its classes, predict, its task's score.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay, classification_report, confusion_matrix

from . import files
from .plotting import new_figure, save_figure
from .runs import RunFolder


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    predictions: np.ndarray
    classes_text: str
    """scikit-learn's classification report as text: each class's precision, recall and F1, and the averages."""
    report: dict[str, Any]
    confusion: np.ndarray
    class_names: list[str]
    accuracy_interval: tuple[float, float]
    """95% Wilson score interval of the accuracy: where the accuracy on unlimited data of this kind lies."""
    probabilities: np.ndarray
    labels: np.ndarray
    calibration: dict[str, float] = field(default_factory=dict)
    """test_ece, and for a calibrated run test_ece_uncalibrated and test_nll_calibrated (its task's score)."""

    @property
    def count(self) -> int:
        return len(self.predictions)

    @property
    def report_text(self) -> str:
        """The classes' table, then the summary: drawn from the fields, so a loss replaced afterwards (a
        calibrated run reports the network's own) is the one it says."""
        return f"{self.classes_text}\n{self.summary}\n"

    @property
    def balanced_accuracy(self) -> float:
        """The mean of the classes' recalls (scikit-learn's ``balanced_accuracy_score``: classes without a test
        image left out): a rare class counts as much as a common one."""
        import warnings

        from sklearn.metrics import balanced_accuracy_score

        with warnings.catch_warnings():  # "y_pred contains classes not in y_true": those are left out, as said
            warnings.simplefilter("ignore", UserWarning)
            return float(balanced_accuracy_score(self.labels, self.predictions))

    @property
    def macro_f1(self) -> float:
        """The mean of the classes' F1 scores (scikit-learn's ``average="macro"``)."""
        return float(self.report["macro avg"]["f1-score"])

    @property
    def summary(self) -> str:
        return _summary(self.accuracy, self.accuracy_interval, self.count, self.loss)

    def results(self) -> dict[str, Any]:
        """What results.json records of it."""
        return {"test_accuracy": self.accuracy, "test_accuracy_interval": list(self.accuracy_interval),
                "test_balanced_accuracy": self.balanced_accuracy, "test_macro_f1": self.macro_f1,
                "test_images": self.count, "test_loss": self.loss, **self.calibration}

    def write(self, run: RunFolder) -> dict[str, Path]:
        """The classification report as text and JSON (with the confusion matrix), and the matrix drawn."""
        written = {"report_text": run.report_text_file, "report_json": run.report_json_file,
                   "confusion_matrix": run.confusion_matrix_file}
        files.write_text(written["report_text"], self.report_text)
        files.write_json(written["report_json"], {**self.report, "confusion_matrix": self.confusion.tolist()})
        size = max(5.0, 0.6 * len(self.class_names) + 2)
        figure, axes = new_figure(figsize=(size, size))
        ConfusionMatrixDisplay(self.confusion, display_labels=self.class_names).plot(
            ax=axes, colorbar=False, xticks_rotation=45)
        axes.set_title(f"Test confusion matrix (accuracy {self.accuracy:.4f})")
        save_figure(figure, written["confusion_matrix"])
        return written


def score_single_label(probabilities: np.ndarray, labels: np.ndarray, class_names: list[str]) -> Evaluation:
    """Loss, accuracy (with its interval) and report of one prediction pass. The loss is the cross-entropy
    of the true labels (:data:`~dlcv.model_objects.LOSS`), whatever smoothing or mixing trained the model,
    so runs compare."""
    import keras

    from .model_objects import LOSS

    probabilities = np.asarray(probabilities, dtype=np.float32)
    value = keras.ops.mean(keras.losses.get(LOSS)(labels, probabilities))
    predictions = probabilities.argmax(axis=1)
    correct = int(np.sum(predictions == labels))
    classes = list(range(len(class_names)))
    kwargs = dict(labels=classes, target_names=list(class_names), digits=4, zero_division=0)
    loss = float(keras.ops.convert_to_numpy(value))
    accuracy, interval = correct / len(labels), wilson_interval(correct, len(labels))
    return Evaluation(
        loss=loss,
        accuracy=accuracy,
        predictions=predictions,
        classes_text=classification_report(labels, predictions, **kwargs),  # balanced accuracy: the macro recall
        report=_report_dict(labels, predictions, class_names, interval),
        confusion=confusion_matrix(labels, predictions, labels=classes),
        class_names=list(class_names),
        accuracy_interval=interval,
        probabilities=probabilities,
        labels=np.asarray(labels),
    )


def _report_dict(labels: np.ndarray, predictions: np.ndarray, class_names: list[str],
                 interval: tuple[float, float]) -> dict[str, Any]:
    """scikit-learn's report as a dict, each class's scores under ``classes`` by name: at its top level,
    a class called ``accuracy`` or ``macro avg`` would take the averages' places (or they its)."""
    report = classification_report(labels, predictions, labels=list(range(len(class_names))), output_dict=True,
                                   zero_division=0)
    classes = {name: report.pop(str(index)) for index, name in enumerate(class_names)}  # keyed "0", "1", ...
    return {"classes": classes, **report, "accuracy_interval": list(interval)}


def _summary(accuracy: float, interval: tuple[float, float], count: int, loss: float) -> str:
    return (f"accuracy {accuracy:.4f}, 95% interval {interval[0]:.4f}-{interval[1]:.4f} (Wilson, {count} images), "
            f"loss {loss:.4f}")


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (SciPy's), e.g. 51 correct of 75 -> (0.568, 0.775).

        >>> [round(v, 3) for v in wilson_interval(51, 75)]
        [0.568, 0.775]
    """
    from scipy.stats import binomtest

    interval = binomtest(successes, trials).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)
