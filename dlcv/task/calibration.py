"""Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", 2017), on probabilities.

A network's probabilities are overconfident; one temperature T, chosen to minimise the negative
log-likelihood on the validation split, fixes most of it. dlcv applies it to what every export and client
already has, the probabilities: a softmax's ``p^(1/T)`` normalised (the same as dividing its logits by T),
and for a multi-label sigmoid one T per class on its logit, ``sigmoid(logit(p) / T)``, probabilities
clipped to [1e-7, 1 - 1e-7] first. T > 1 softens, T < 1 sharpens, T = 1 changes nothing; the top label
never changes.

    >>> p = np.array([[0.9, 0.09, 0.01]])
    >>> np.round(softmax_at(p, 2.0).astype(float), 3).tolist()   # softer: sqrt(p) normalised (0.949, 0.3, 0.1) / 1.349
    [[0.703, 0.222, 0.074]]
    >>> float(sigmoid_at(np.array([[0.9]]), np.array([2.0]))[0, 0]).__round__(3)   # logit 2.197 -> 1.099
    0.75
    >>> expected_calibration_error(np.array([[0.8, 0.2]] * 10), np.array([0] * 8 + [1] * 2))   # 80% right at 0.8
    0.0
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

EPSILON = 1e-7
"""Probabilities are clipped to [EPSILON, 1 - EPSILON] before a logarithm or a logit."""
BINS = 15
"""Equal-width confidence bins of the expected calibration error (the usual 15)."""
LOG_T_RANGE = (-4.0, 4.0)
"""The temperatures searched: e^-4 (0.018) to e^4 (55)."""
MIN_MISTAKES = 3
"""Validation images the model gets wrong (the top class; for a multi-label class, the side of 0.5) below
which no temperature is fitted: T stays 1, the network's own probabilities. A temperature is learnt from the
mistakes: on images all classified right the likelihood only rises as T falls to 0, every probability pushed
to 1 (measured by ``benchmarks/calibration_size.py``; README, "Confidence and unknown photos")."""


def softmax_at(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax probabilities as at temperature ``temperature`` (``p^(1/T)`` normalised)."""
    logs = np.log(np.clip(np.asarray(probabilities, np.float64), EPSILON, 1.0)) / temperature
    logs -= logs.max(axis=1, keepdims=True)
    scaled = np.exp(logs)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def sigmoid_at(probabilities: np.ndarray, temperatures: np.ndarray) -> np.ndarray:
    """Each class's sigmoid probability as at its temperature."""
    p = np.clip(np.asarray(probabilities, np.float64), EPSILON, 1 - EPSILON)
    return (1 / (1 + np.exp(-np.log(p / (1 - p)) / np.asarray(temperatures, np.float64)))).astype(np.float32)


def softmax_mistakes(probabilities: np.ndarray, labels: np.ndarray) -> int:
    """How many of these images' top class is not their label."""
    return int(np.sum(np.argmax(probabilities, axis=1) != np.asarray(labels)))


def sigmoid_mistakes(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per class, how many of these images are on the wrong side of 0.5."""
    return np.sum((np.asarray(probabilities) >= 0.5) != (np.asarray(targets) >= 0.5), axis=0)


def fit_softmax_temperature(probabilities: np.ndarray, labels: np.ndarray, min_mistakes: int = MIN_MISTAKES) -> float:
    """The temperature of least negative log-likelihood of ``labels`` (class indexes); 1 where fewer than
    ``min_mistakes`` of the images are misclassified."""
    if softmax_mistakes(probabilities, labels) < min_mistakes:
        return 1.0
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        return -float(np.mean(np.log(np.clip(softmax_at(probabilities, np.exp(log_t))[rows, labels], EPSILON, 1))))

    return _minimise(nll)


def fit_sigmoid_temperatures(probabilities: np.ndarray, targets: np.ndarray,
                             min_mistakes: int = MIN_MISTAKES) -> np.ndarray:
    """Each class's temperature of least binary negative log-likelihood of its 0/1 ``targets``; 1 for a class
    with fewer than ``min_mistakes`` images on the wrong side of 0.5, or with one side only."""
    temperatures, mistakes = [], sigmoid_mistakes(probabilities, targets)
    for k in range(probabilities.shape[1]):
        truth = np.asarray(targets)[:, k] >= 0.5
        if mistakes[k] < min_mistakes or not 0 < truth.sum() < len(truth):  # nothing to learn a temperature from
            temperatures.append(1.0)
            continue

        def nll(log_t: float, k=k, truth=truth) -> float:
            p = np.clip(sigmoid_at(probabilities[:, k:k + 1], np.array([np.exp(log_t)]))[:, 0], EPSILON, 1 - EPSILON)
            return -float(np.mean(np.where(truth, np.log(p), np.log(1 - p))))

        temperatures.append(_minimise(nll))
    return np.array(temperatures, np.float32)


def _minimise(nll) -> float:
    from scipy.optimize import minimize_scalar

    found = minimize_scalar(nll, bounds=LOG_T_RANGE, method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """ECE of single-label predictions: the top probability against being right, over equal-width bins,
    weighted by the share of images in each."""
    probabilities = np.asarray(probabilities)
    confidence = probabilities.max(axis=1)
    right = (probabilities.argmax(axis=1) == np.asarray(labels)).astype(float)
    return _ece(confidence, right, bins)


def expected_calibration_error_per_label(probabilities: np.ndarray, targets: np.ndarray, bins: int = BINS) -> float:
    """ECE of multi-label predictions: every (image, class) probability against that label being there."""
    return _ece(np.asarray(probabilities).ravel(), (np.asarray(targets) >= 0.5).ravel().astype(float), bins)


def _ece(confidence: np.ndarray, outcome: np.ndarray, bins: int) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(confidence[inside].mean() - outcome[inside].mean())
    return round(float(error), 6)


def reliability(confidence: np.ndarray, outcome: np.ndarray, bins: int = BINS) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) of each non-empty bin: the reliability diagram's points."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [(float(confidence[which == b].mean()), float(outcome[which == b].mean()), int((which == b).sum()))
            for b in range(bins) if (which == b).any()]


@dataclass(frozen=True)
class Reject:
    """``unknown`` below ``threshold`` of the familiarity ``score``, chosen so that ``keep`` of the
    validation images are kept."""

    score: str
    keep: float
    threshold: float
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "keep": self.keep, "threshold": self.threshold, "label": self.label}


@dataclass(frozen=True)
class Calibration:
    """What a run chose on its validation split to make its probabilities honest, and (optionally) to turn
    unfamiliar images away: calibration.json, and serving.json's ``calibration``."""

    temperature: np.ndarray
    """One temperature (shape ()), or one a class."""
    chosen_on: str = "validation"
    reject: Reject | None = None

    def to_dict(self, class_names: list[str]) -> dict[str, Any]:
        t = np.asarray(self.temperature)
        record = {"method": "temperature",
                  "temperature": round(float(t), 6) if t.ndim == 0 else
                  {name: round(float(v), 6) for name, v in zip(class_names, t)},
                  "chosen_on": self.chosen_on}
        if self.reject is not None:
            record["reject"] = self.reject.to_dict()
        return record


SCORES = ("confidence", "neighbours")


def calibration_of(saved: Any, class_names: list[str], per_class: bool, where: str | Path) -> Calibration:
    """A calibration record as dlcv wrote it (calibration.json, serving.json's ``calibration``); anything else
    is one line naming the file and the field."""
    from ..errors import DlcvError

    def bad(field: str, value: Any, expected: str) -> DlcvError:
        return DlcvError(f"{where}: {field}: {str(value)[:80]!r}; expected {expected}")

    def temperature(value: Any, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.001 <= value <= 1000:
            raise bad(field, value, "a temperature from 0.001 to 1000")
        return float(value)

    if not isinstance(saved, dict) or saved.get("method") != "temperature":
        raise bad("method", saved.get("method") if isinstance(saved, dict) else saved, "'temperature'")
    value = saved.get("temperature")
    if per_class:
        if not isinstance(value, dict):
            raise bad("temperature", value, "one temperature per class")
        temperatures = np.array([temperature(value.get(name), f"temperature.{name}") for name in class_names],
                                np.float32)
    else:
        temperatures = np.array(temperature(value, "temperature"), np.float32)
    reject = saved.get("reject")
    if reject is not None:
        if not isinstance(reject, dict) or reject.get("score") not in SCORES:
            raise bad("reject.score", reject.get("score") if isinstance(reject, dict) else reject,
                      " or ".join(SCORES))
        keep, threshold, label = reject.get("keep"), reject.get("threshold"), reject.get("label")
        if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep <= 1:
            raise bad("reject.keep", keep, "a share in (0, 1]")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1:
            raise bad("reject.threshold", threshold, "a score from -1 to 1")
        if not isinstance(label, str) or not label or label in class_names:
            raise bad("reject.label", label, "a name that is not one of the classes")
        reject = Reject(reject["score"], float(keep), float(threshold), label)
    return Calibration(temperatures, str(saved.get("chosen_on", "validation")), reject)


def read_calibration(path: Path, class_names: list[str], per_class: bool) -> Calibration:
    import json

    from ..errors import DlcvError

    try:
        saved = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DlcvError(f"{path}: not readable JSON ({type(exc).__name__}); expected the calibration.json dlcv "
                        "train wrote") from None
    return calibration_of(saved, class_names, per_class, path)


def keep_threshold(scores: np.ndarray, keep: float) -> float:
    """The score at or above which ``keep`` of ``scores`` lie.

        >>> keep_threshold(np.arange(100) / 100, 0.95)        # the top 95 of 0.00 ... 0.99
        0.05
    """
    ordered = np.sort(np.asarray(scores, np.float64))[::-1]
    kept = max(1, int(np.ceil(keep * len(ordered) - 1e-9)))
    return round(float(ordered[kept - 1]), 6)
