"""Rosenblatt's perceptron (ch. 10): step activation, weights updated only on mistakes.

scikit-learn's conventions: hyperparameters in ``__init__``, ``fit`` starts from fresh weights (drawn
from ``seed``; the last weight is the bias), learned attributes end in ``_``.

    p = Perceptron(alpha=0.1, epochs=20, seed=1).fit(X_or, y_or)
    p.predict(X_or)           # [0, 1, 1, 1]
"""
from __future__ import annotations

import numpy as np

from ._checks import ArgumentError, as_matrix, as_targets, check_fitted, positive, positive_int
from .activations import step
from .linear import add_bias_column


class Perceptron:
    def __init__(self, alpha: float = 0.1, epochs: int = 10, seed: int | None = None) -> None:
        self.alpha = positive("alpha", alpha)
        self.epochs = positive_int("epochs", epochs)
        self.seed = seed
        self.weights_: np.ndarray | None = None

    def fit(self, X, y) -> Perceptron:
        X1 = add_bias_column(X)
        n_inputs = X1.shape[1] - 1
        self.weights_ = np.random.default_rng(self.seed).standard_normal(n_inputs + 1) / np.sqrt(n_inputs)
        # The book's perceptron_or.py crashed on a 1-D label array; any shape with one label per row works.
        targets = as_targets("y", y, X1.shape[0]).ravel()
        for _ in range(self.epochs):
            for x, target in zip(X1, targets):
                error = step(x @ self.weights_) - target
                if error != 0:
                    self.weights_ -= self.alpha * error * x
        return self

    def predict(self, X) -> np.ndarray:
        check_fitted(self)
        X1 = add_bias_column(as_matrix("X", X))
        if X1.shape[1] != self.weights_.shape[0]:
            raise ArgumentError(f"X must have {self.weights_.shape[0] - 1} features, got {X1.shape[1] - 1}")
        return step(X1 @ self.weights_)
