"""How familiar an image looks to a trained run: the score its ``reject`` rule thresholds.

- ``confidence``: the calibrated top probability (Hendrycks & Gimpel's baseline, after temperature scaling).
- ``neighbours``: the cosine similarity of the image's penultimate-layer features (the head's input,
  L2-normalised) to its 10th nearest training image (Sun et al., "Out-of-Distribution Detection with Deep
  Nearest Neighbors", 2022, k = 10). The training images' normalised features are kept in the run folder
  (``features.npy``, float16); an export outputs probabilities only, so this score needs the run's Keras
  model.

Higher is more familiar; an image scoring below the run's threshold is ``unknown``.

    scorer = FamiliarityScorer.of_run(classifier, run_folder)
    scores = scorer.scores(images, probabilities)          # one per image
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DlcvError

NEIGHBOURS = 10
"""k of the k-th nearest training image."""
HEAD_LAYERS = ("class_scores", "head")
"""The head's Dense layer, whose input is the penultimate features (:mod:`dlcv.models.heads`); a network
without one (fastnet): its last Dense layer."""


def feature_model(model):
    """A Keras model from the run's input to its penultimate features (the head Dense layer's input)."""
    import keras

    named = [layer for layer in model.layers if layer.name in HEAD_LAYERS]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    head = (named or dense[-1:] or [None])[0]  # the scores layer; else the last Dense (fastnet's logits)
    if head is None:
        raise DlcvError(f"model {model.name!r} has no Dense output layer whose input are its features; "
                        "reject.score: neighbours needs one (reject.score: confidence does not)")
    return keras.Model(model.inputs, head.input)


def normalised(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, np.float32).reshape(len(features), -1)
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def features_of(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Normalised penultimate features of uint8 images."""
    from .pipeline import predict_probabilities

    extractor = feature_model(model)
    return normalised(predict_probabilities(extractor, images, batch_size))


def set_features(model, data, batch_size: int = 256) -> np.ndarray:
    """Normalised penultimate features of every image of a data set (in memory or streamed), a batch at a time."""
    parts = [features_of(model, data.batch(np.arange(start, min(start + batch_size, len(data.labels))))[0])
             for start in range(0, len(data.labels), batch_size)]
    return np.concatenate(parts) if parts else np.empty((0, 0), np.float32)


def kth_similarity(queries: np.ndarray, bank: np.ndarray, k: int = NEIGHBOURS, block: int = 1024) -> np.ndarray:
    """Each query's cosine similarity to its k-th most similar row of ``bank`` (both normalised).

        >>> bank = normalised(np.eye(3))
        >>> [round(float(s), 3) for s in kth_similarity(normalised(np.array([[1.0, 0, 0], [1, 1, 0]])), bank, k=1)]
        [1.0, 0.707]
    """
    k = min(k, len(bank))
    bank = np.asarray(bank, np.float32)
    out = []
    for start in range(0, len(queries), block):
        similarity = np.asarray(queries[start:start + block], np.float32) @ bank.T
        out.append(np.partition(similarity, -k, axis=1)[:, -k])
    return np.concatenate(out) if out else np.empty(0, np.float32)


@dataclass
class FamiliarityScorer:
    score: str
    model: object = None
    bank: np.ndarray | None = None

    def scores(self, images: np.ndarray | None, probabilities: np.ndarray) -> np.ndarray:
        """One familiarity score per image (``images`` are needed by ``neighbours`` alone)."""
        if self.score == "confidence":
            return np.asarray(probabilities).max(axis=1)
        return kth_similarity(features_of(self.model, images), self.bank)

    def set_scores(self, data, probabilities: np.ndarray) -> np.ndarray:
        """:meth:`scores` of a data set's images, read a batch at a time."""
        if self.score == "confidence":
            return self.scores(None, probabilities)
        return kth_similarity(set_features(self.model, data), self.bank)

    @classmethod
    def for_run(cls, score: str, model=None, features_file: Path | None = None) -> FamiliarityScorer:
        if score == "confidence":
            return cls(score)
        if model is None or features_file is None or not Path(features_file).is_file():
            raise DlcvError("reject.score: neighbours needs the run's Keras model and its features.npy (an export "
                            "outputs probabilities only); predict with the run folder or its model file, or pass "
                            "--no-reject")
        return cls(score, model, np.load(features_file).astype(np.float32))


def selective(scores: np.ndarray, threshold: float, correct: np.ndarray) -> dict[str, float]:
    """Coverage (the share kept) and the accuracy on the kept images (selective accuracy)."""
    kept = np.asarray(scores) >= threshold
    return {"coverage": round(float(kept.mean()), 6),
            "selective_accuracy": round(float(np.asarray(correct)[kept].mean()), 6) if kept.any() else float("nan")}


def stranger_figures(known: np.ndarray, strangers: np.ndarray, threshold: float, threshold_95: float) -> dict:
    """How a folder of photos of none of the classes fares against the test split's images: the share turned
    away at ``threshold``, the AUROC of telling them apart by the score, and the share let in at the threshold
    that keeps 95% of validation.

        >>> stranger_figures(np.array([0.9, 0.8, 0.7]), np.array([0.6, 0.75]), 0.72, 0.72)
        {'images': 2, 'rejected': 0.5, 'auroc': 0.833333, 'false_accept_at_95': 0.5, 'threshold': 0.72}
    """
    from sklearn.metrics import roc_auc_score

    known, strangers = np.asarray(known, np.float64), np.asarray(strangers, np.float64)
    truth = np.concatenate([np.ones(len(known)), np.zeros(len(strangers))])
    return {"images": len(strangers), "rejected": round(float(np.mean(strangers < threshold)), 6),
            "auroc": round(float(roc_auc_score(truth, np.concatenate([known, strangers]))), 6),
            "false_accept_at_95": round(float(np.mean(strangers >= threshold_95)), 6), "threshold": threshold}
