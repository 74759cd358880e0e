"""Scoring predictions on held-out data: accuracy, loss and scikit-learn's classification report.

    evaluation = score(*route.predict(model, splits.test), class_names, loss=model.loss)
    print(evaluation.report_text)
    evaluation.write(RunFolder("output/run"))   # classification_report.txt / .json, confusion_matrix.png
"""
from __future__ import annotations

from dataclasses import dataclass
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
    report_text: str
    report: dict[str, Any]
    confusion: np.ndarray
    class_names: list[str]

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


def score(probabilities: np.ndarray, labels: np.ndarray, class_names: list[str], loss: Any) -> Evaluation:
    """Loss, accuracy and report of one prediction pass (``loss``: the model's compiled loss, a Keras loss
    name or object, so the test loss is the one the model trained on)."""
    import keras

    probabilities = np.asarray(probabilities, dtype=np.float32)
    value = keras.ops.mean(keras.losses.get(loss)(labels, probabilities))
    predictions = probabilities.argmax(axis=1)
    classes = list(range(len(class_names)))
    kwargs = dict(labels=classes, target_names=list(class_names), digits=4, zero_division=0)
    return Evaluation(
        loss=float(keras.ops.convert_to_numpy(value)),
        accuracy=float(np.mean(predictions == labels)),
        predictions=predictions,
        report_text=classification_report(labels, predictions, **kwargs),
        report=classification_report(labels, predictions, output_dict=True, **kwargs),
        confusion=confusion_matrix(labels, predictions, labels=classes),
        class_names=list(class_names),
    )
