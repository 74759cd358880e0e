"""``Perceptron(N, alpha=0.1)`` with ``fit(X, y, epochs=10)`` and ``predict(X, addBias=True)`` (ch. 10),
over :class:`dlcv.reference.Perceptron`."""
from __future__ import annotations

import numpy as np

from ...reference import Perceptron as _Perceptron
from ...reference.activations import step as _step


class Perceptron(_Perceptron):
    def __init__(self, N: int, alpha: float = 0.1) -> None:  # noqa: N803  (the book's name)
        super().__init__(alpha=alpha)
        self.N = N

    @property
    def W(self) -> np.ndarray:  # noqa: N802  (the book's name)
        return self.weights_

    def step(self, x):
        return _step(x)

    def fit(self, X, y, epochs: int = 10) -> Perceptron:
        self.epochs = epochs
        # The book draws its weights from NumPy's global generator (np.random.randn), so a reader's
        # np.random.seed(...) makes a run repeatable; the seed of dlcv's own generator comes from there.
        self.seed = int(np.random.randint(0, 2**31 - 1))
        return super().fit(X, y)

    def predict(self, X, addBias: bool = True) -> np.ndarray:  # noqa: N803
        X = np.atleast_2d(X)
        return super().predict(X if addBias else X[:, :-1])
