"""Scoring a trained model on held-out data: accuracy, loss and scikit-learn's classification report.

    evaluation = evaluate_model(model, splits.test, batch_size=128)
    print(evaluation.report_text)
    evaluation.write(run_dir)     # classification_report.txt / .json
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import classification_report

from . import files
from .data import ImageSet
from .pipeline import make_pipeline


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    predictions: np.ndarray
    report_text: str
    report: dict[str, Any]

    def write(self, run_dir: str | Path) -> dict[str, Path]:
        run_dir = Path(run_dir)
        written = {"report_text": run_dir / "classification_report.txt",
                   "report_json": run_dir / "classification_report.json"}
        files.write_text(written["report_text"], self.report_text)
        files.write_json(written["report_json"], self.report)
        return written


def evaluate_model(model, data: ImageSet, batch_size: int = 128) -> Evaluation:
    pipeline = make_pipeline(data.images, data.labels, batch_size)
    results = model.evaluate(pipeline, verbose=0, return_dict=True)
    probabilities = model.predict(make_pipeline(data.images, None, batch_size), verbose=0)
    predictions = probabilities.argmax(axis=1)
    labels = list(range(len(data.class_names)))
    kwargs = dict(labels=labels, target_names=data.class_names, digits=4, zero_division=0)
    return Evaluation(
        loss=float(results["loss"]),
        accuracy=float(results.get("accuracy", np.mean(predictions == data.labels))),
        predictions=predictions,
        report_text=classification_report(data.labels, predictions, **kwargs),
        report=classification_report(data.labels, predictions, output_dict=True, **kwargs),
    )
