"""One class per image: a softmax head, sparse cross-entropy, the most probable class, accuracy with its
interval (:class:`~dlcv.evaluation.Evaluation`), the confusion matrix and the misclassified images.

    task = SingleLabel(["cats", "dogs"])
    task.record("a.jpg", np.array([0.2, 0.8]))      # TopLabel(path='a.jpg', label='dogs', probability=0.8)
"""
from __future__ import annotations

import html
from typing import Any

import numpy as np

from .base import Task, TopLabel
from .calibration import MIN_MISTAKES, expected_calibration_error, fit_softmax_temperature, softmax_at, softmax_mistakes


class SingleLabel(Task):
    name = "single"
    activation = "softmax"
    primary_metric = "test_accuracy"
    primary_name = "accuracy"
    search_metrics = ("val_accuracy",)
    agreement = "top-1 labels"
    record_type = TopLabel

    def loss_and_metrics(self, label_smoothing: float = 0.0, soft_labels: bool = False, focal: bool = False,
                         keras_only: bool = False) -> tuple:
        from ..model_objects import loss_and_metrics

        if keras_only:  # a saved file's: unsmoothed, unmixed, Keras's own
            return loss_and_metrics()
        return loss_and_metrics(label_smoothing, soft_labels=soft_labels, focal=focal)

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        return np.asarray(probabilities).argmax(axis=-1)

    def _score(self, probabilities: np.ndarray, labels: np.ndarray):
        from ..evaluation import score_single_label

        return score_single_label(probabilities, labels, self.class_names)

    def _at_temperature(self, probabilities: np.ndarray, temperature: np.ndarray) -> np.ndarray:
        return softmax_at(probabilities, float(temperature))

    def _fit_temperature(self, probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return np.array(fit_softmax_temperature(probabilities, np.asarray(labels, np.int64)), np.float32)

    def _too_few_mistakes(self, probabilities: np.ndarray, labels: np.ndarray) -> str:
        mistakes = softmax_mistakes(probabilities, np.asarray(labels, np.int64))
        return f"only {mistakes} of {len(labels)} validation images were misclassified" \
            if mistakes < MIN_MISTAKES else ""

    def ece(self, probabilities: np.ndarray, labels: np.ndarray) -> float:
        return expected_calibration_error(probabilities, labels)

    def reliability_points(self, probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probabilities = np.asarray(probabilities)
        return probabilities.max(axis=1), (probabilities.argmax(axis=1) == np.asarray(labels)).astype(float)

    def headline(self, results: dict[str, Any]) -> str:
        low, high = results.get("test_accuracy_interval") or (float("nan"), float("nan"))
        line = (f"test accuracy {results['test_accuracy']:.4f} (95% interval {low:.4f}-{high:.4f}, Wilson, "
                f"{results.get('test_images', '?')} images), loss {results.get('test_loss', float('nan')):.4f}")
        if "test_balanced_accuracy" in results:  # runs before these were recorded have none
            line += (f"; balanced accuracy {results['test_balanced_accuracy']:.4f}, macro F1 "
                     f"{results['test_macro_f1']:.4f}")
        return line

    def record(self, path: str, probabilities: np.ndarray, top: int = 1, unknown: str | None = None) -> TopLabel:
        ranked = self.ranked(probabilities, top)
        return TopLabel(path, unknown or ranked[0][0], ranked[0][1], ranked if top > 1 else (), unknown is not None)

    def serving_fields(self) -> dict[str, Any]:
        return {"task": self.name,
                "output": {"dtype": "float32", "shape": [None, len(self.class_names)],
                           "meaning": "class probabilities (softmax), in the order of labels"},
                "how_to_label": "the class with the largest probability", **self.calibration_fields()}

    # -- the report -----------------------------------------------------------------------------------
    def report_sections(self, evaluation, mistakes_html) -> list[str]:
        probabilities, labels = evaluation.probabilities, evaluation.labels
        predicted = probabilities.argmax(axis=1)
        wrong = np.flatnonzero(predicted != labels)
        order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")]  # most confident first
        names = self.class_names
        cards, seen = [], set()
        for i in order:
            pair = (int(labels[i]), int(predicted[i]))
            cards.append((int(i), f"true <b>{html.escape(names[pair[0]])}</b>, predicted <b>"
                                  f"{html.escape(names[pair[1]])}</b> ({probabilities[i, pair[1]]:.3f})",
                          f"m-{pair[0]}-{pair[1]}" if pair not in seen else None))
            seen.add(pair)
        section, shown = mistakes_html(cards, "misclassified", "most confident")
        shown_pairs = {(int(labels[i]), int(predicted[i])) for i in shown}
        return [_per_class(evaluation.report, names), _confusion(evaluation.confusion, names, shown_pairs), section]

    def saved_sections(self, saved: dict[str, Any]) -> list[str]:
        if "confusion_matrix" not in saved:
            return []
        return [_per_class(saved, self.class_names),
                _confusion(np.asarray(saved["confusion_matrix"]), self.class_names, set())]


def _per_class(report: dict, names: list[str]) -> str:
    report = report.get("classes", report)  # runs written before the classes had a section of their own
    rows = "".join(f"<tr><td>{html.escape(n)}</td>" + "".join(f"<td>{report[n][k]:.3f}</td>" for k in
                                                                ("precision", "recall", "f1-score"))
                   + f"<td>{int(report[n]['support'])}</td></tr>" for n in names if n in report)
    return ("<h2>Per class</h2><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>"
            f"<th>test images</th></tr>{rows}</table>")


def _confusion(matrix: np.ndarray, names: list[str], shown: set[tuple[int, int]]) -> str:
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for t, name in enumerate(names):
        cells = []
        for p in range(len(names)):
            count = int(matrix[t, p])
            text = f'<a href="#m-{t}-{p}">{count}</a>' if (t, p) in shown else str(count)
            cells.append(f'<td class="{"hit" if t == p else "miss" if count else ""}">{text}</td>')
        rows.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
    return ("<h2>Confusion matrix</h2><p class=note>Rows: the true class; columns: the predicted one. A linked "
            f"count opens its mistakes.</p><table class=matrix><tr><th></th>{head}</tr>{''.join(rows)}</table>")
