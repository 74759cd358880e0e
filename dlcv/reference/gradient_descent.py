"""A sigmoid unit trained on the sum of squared errors by gradient descent (ch. 9).

``batch_size=None`` is batch gradient descent (one update per epoch); an integer is mini-batch SGD,
reshuffled every epoch. The gradient of L = sum((sigmoid(XW) - y)^2) is

    dL/dW = 2 X^T [(sigmoid(XW) - y) * sigmoid(XW) * (1 - sigmoid(XW))]

The book's printed code uses X^T (sigmoid(XW) - y) — no sigmoid derivative — and never shuffles;
``book=True`` reproduces that, for comparison only.

    model = SigmoidClassifier(SGD(0.01), epochs=100, batch_size=32, seed=42).fit(X_train, y_train)
    model.loss_history_[-1], model.predict(X_test)

scikit-learn's conventions: hyperparameters in ``__init__``, ``fit`` starts from fresh weights (drawn
from ``seed``) and a resting optimizer, learned attributes end in ``_``.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import ArgumentError, as_targets, check_fitted, positive_int
from .activations import quiet_overflow, sigmoid, sigmoid_derivative_from_output
from .linear import add_bias_column
from .optimizers import SGD
from .regularization import Regularizer


class SigmoidClassifier:
    def __init__(self, optimizer: SGD | None = None, epochs: int = 100, batch_size: int | None = None,
                 book: bool = False, regularizer: Regularizer | None = None, seed: int | None = None) -> None:
        self.optimizer = optimizer or SGD(0.01)
        self.epochs = positive_int("epochs", epochs)
        self.batch_size = None if batch_size is None else positive_int("batch_size", batch_size)
        self.book = book
        self.regularizer = regularizer or Regularizer("none")
        self.seed = seed
        self.weights_: np.ndarray | None = None
        self.loss_history_: list[float] = []

    def fit(self, X, y, on_epoch: Callable[[int, float], None] | None = None) -> SigmoidClassifier:
        X1 = add_bias_column(X)
        y = as_targets("y", y, X1.shape[0])
        rng = np.random.default_rng(self.seed)
        self.weights_ = rng.standard_normal((X1.shape[1], 1))
        self.optimizer.reset()
        n = X1.shape[0]
        size = self.batch_size or n
        self.loss_history_ = []
        for epoch in range(1, self.epochs + 1):
            order = np.arange(n) if self.book or self.batch_size is None else rng.permutation(n)
            batch_losses = []
            for start in range(0, n, size):
                rows = order[start:start + size]
                loss, gradient = self.loss_and_gradient(self.weights_, X1[rows], y[rows])
                batch_losses.append(loss)
                self.weights_ = self.optimizer.step(self.weights_, gradient)
            self.loss_history_.append(float(np.mean(batch_losses)))
            if on_epoch is not None:
                on_epoch(epoch, self.loss_history_[-1])
        return self

    def loss_and_gradient(self, W: np.ndarray, X1: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Sum of squared errors (+ penalty) on a batch with a bias column, and its gradient in W."""
        with quiet_overflow():
            predictions = sigmoid(X1 @ W)
        error = predictions - y
        loss = float(np.sum(error ** 2)) + self.regularizer.value(W)
        if self.book:
            gradient = X1.T @ error
        else:
            gradient = 2.0 * X1.T @ (error * sigmoid_derivative_from_output(predictions))
        return loss, gradient + self.regularizer.gradient(W)

    def predict_proba(self, X) -> np.ndarray:
        check_fitted(self)
        X1 = add_bias_column(X)
        if X1.shape[1] != self.weights_.shape[0]:
            raise ArgumentError(f"X must have {self.weights_.shape[0] - 1} features, got {X1.shape[1] - 1}")
        with quiet_overflow():
            return sigmoid(X1 @ self.weights_)

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X) > 0.5).astype(np.int64)
