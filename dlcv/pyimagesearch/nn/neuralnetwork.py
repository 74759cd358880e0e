"""``NeuralNetwork(layers, alpha=0.1)`` with ``fit(X, y, epochs=1000, displayUpdate=100)``,
``predict(X, addBias=True)`` and ``calculate_loss(X, targets)`` (ch. 10), over
:class:`dlcv.reference.NeuralNetwork`. As the book's, ``fit`` prints the loss every ``displayUpdate``
epochs and the weights exist from construction (``W``)."""
from __future__ import annotations

import numpy as np

from ...reference import NeuralNetwork as _NeuralNetwork


class NeuralNetwork(_NeuralNetwork):
    def __init__(self, layers, alpha: float = 0.1) -> None:
        # The book's weights come from NumPy's global generator (np.random.randn): np.random.seed(...)
        # before building makes a run repeatable, so dlcv's generator is seeded from it.
        super().__init__(layers, alpha=alpha, seed=int(np.random.randint(0, 2**31 - 1)))
        self.weights_ = self.initial_weights()

    @property
    def W(self) -> list[np.ndarray]:  # noqa: N802  (the book's name)
        return self.weights_

    def fit(self, X, y, epochs: int = 1000, displayUpdate: int = 100) -> NeuralNetwork:  # noqa: N803
        self.epochs, self.display_update = epochs, displayUpdate
        return super().fit(X, y, on_display=lambda epoch, loss: print(f"[INFO] epoch={epoch}, loss={loss:.7f}"))

    def predict(self, X, addBias: bool = True) -> np.ndarray:  # noqa: N803
        X = np.atleast_2d(X)
        return super().predict(X if addBias else X[:, :-1])

    def calculate_loss(self, X, targets) -> float:
        return self.loss(X, targets)
