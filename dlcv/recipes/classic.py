"""The classic baselines of ch. 7 and 9 on raw pixels: k-NN and a regularised linear SGD classifier.

Both load a ``<class>/<image>`` folder through :class:`SimpleDatasetLoader`, resize to 32x32 and
flatten each image to 3,072 features, as the book does.
"""
from __future__ import annotations

import logging

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import classification_report
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import LabelEncoder

from .. import files
from ..data.folder import list_labelled_images
from ..data.loader import SimpleDatasetLoader
from ..preprocessing import SimplePreprocessor

log = logging.getLogger(__name__)


def load_flat_pixels(dataset: str) -> tuple[np.ndarray, np.ndarray, LabelEncoder]:
    """Every readable image at 32x32x3, flattened to 3,072 raw pixel values, with encoded labels."""
    log.info("[INFO] loading images...")
    paths, _, _ = list_labelled_images(dataset)
    data, names = SimpleDatasetLoader([SimplePreprocessor(32, 32)]).load(paths, verbose=500)
    data = data.reshape(len(data), 32 * 32 * 3)
    log.info(f"[INFO] features matrix: {data.nbytes / 1024 ** 2:.1f}MB")
    encoder = LabelEncoder().fit(names)
    return data, encoder.transform(names), encoder


def knn(dataset: str, output, neighbors: int, jobs: int, seed: int) -> dict:
    """knn.py: k-nearest neighbours on raw pixels, 75/25 split (the book's seed is 42)."""
    data, labels, encoder = load_flat_pixels(dataset)
    train_x, test_x, train_y, test_y = train_test_split(data, labels, test_size=0.25, random_state=seed)
    log.info(f"[INFO] evaluating k-NN classifier (k={neighbors})...")
    model = KNeighborsClassifier(n_neighbors=neighbors, n_jobs=jobs).fit(train_x, train_y)
    return _report(model, test_x, test_y, encoder, output / "knn.json")


def regularization(dataset: str, output, seed: int) -> dict:
    """regularization.py: SGDClassifier with log loss and no / L1 / L2 penalty (split seed 5, as printed)."""
    data, labels, encoder = load_flat_pixels(dataset)
    train_x, test_x, train_y, test_y = train_test_split(data, labels, test_size=0.25, random_state=5)
    results = {}
    for penalty in (None, "l1", "l2"):
        log.info(f"[INFO] training model with '{penalty}' penalty")
        model = SGDClassifier(loss="log_loss", penalty=penalty, max_iter=10, learning_rate="constant",
                              tol=None, eta0=0.01, random_state=seed)
        model.fit(train_x, train_y)
        accuracy = model.score(test_x, test_y)
        log.info(f"[INFO] '{penalty}' penalty accuracy: {accuracy * 100:.2f}%")
        results[str(penalty)] = accuracy
    files.write_json(output / "regularization.json", results)
    return results


def _report(model, test_x, test_y, encoder, path) -> dict:
    predictions = model.predict(test_x)
    log.info(classification_report(test_y, predictions, target_names=encoder.classes_, digits=2))
    report = classification_report(test_y, predictions, target_names=encoder.classes_, output_dict=True)
    files.write_json(path, report)
    return report
