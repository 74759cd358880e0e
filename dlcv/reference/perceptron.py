"""Rosenblatt's perceptron (ch. 10): step activation, weights updated only on mistakes.

    p = Perceptron(2, alpha=0.1, seed=1).fit(X_or, y_or, epochs=20)
    p.predict(X_or)           # [0, 1, 1, 1]
"""
from __future__ import annotations

import numpy as np

from ._checks import as_matrix, as_targets, positive, positive_int
from .activations import step
from .linear import add_bias_column


class Perceptron:
    def __init__(self, n_inputs: int, alpha: float = 0.1, seed: int | None = None) -> None:
        positive_int("n_inputs", n_inputs)
        self.alpha = positive("alpha", alpha)
        rng = np.random.default_rng(seed)
        self.W = rng.standard_normal(n_inputs + 1) / np.sqrt(n_inputs)  # last weight is the bias

    def fit(self, X, y, epochs: int = 10) -> "Perceptron":
        X1 = add_bias_column(X)
        if X1.shape[1] != self.W.shape[0]:
            raise ValueError(f"X must have {self.W.shape[0] - 1} features, got {X1.shape[1] - 1}")
        # The book's perceptron_or.py crashed on a 1-D label array; any shape with one label per row works.
        targets = as_targets("y", y, X1.shape[0]).ravel()
        for _ in range(positive_int("epochs", epochs)):
            for x, target in zip(X1, targets):
                error = step(x @ self.W) - target
                if error != 0:
                    self.W -= self.alpha * error * x
        return self

    def predict(self, X) -> np.ndarray:
        X1 = add_bias_column(as_matrix("X", X))
        if X1.shape[1] != self.W.shape[0]:
            raise ValueError(f"X must have {self.W.shape[0] - 1} features, got {X1.shape[1] - 1}")
        return step(X1 @ self.W)
