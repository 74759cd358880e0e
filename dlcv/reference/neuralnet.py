"""A fully connected sigmoid network trained by backpropagation (ch. 10).

Bias is folded into every layer: each hidden layer carries one extra unit that always outputs 1, so every
weight matrix has one more row (and, except the last, one more column) than the layer sizes say. Weights
start as randn / sqrt(fan_in). The loss is 1/2 * sum((prediction - target)^2).

``batch_size=None`` trains one sample at a time in data order, exactly as the book does. An integer
trains on shuffled mini-batches with the per-sample gradients summed, one matrix product per layer per
batch instead of per sample — the same arithmetic, far fewer Python steps. ``dtype=np.float32`` halves
the cost of each step again (NumPy's float32 ``exp`` and matrix products are vectorised).

    net = NeuralNetwork([64, 32, 16, 10], alpha=0.1, seed=42, dtype=np.float32)
    net.fit(X, Y_onehot, epochs=1000, batch_size=128)
    net.predict(X).argmax(axis=1)
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ._checks import as_matrix, as_targets, positive, positive_int
from .activations import quiet_overflow, sigmoid, sigmoid_derivative_from_output
from .linear import add_bias_column


class NeuralNetwork:
    def __init__(self, layers: Sequence[int], alpha: float = 0.1, seed: int | None = None,
                 dtype: type = np.float64) -> None:
        if len(layers) < 2 or any(int(n) != n or n < 1 for n in layers):
            raise ValueError(f"layers must list at least two sizes >= 1, got {list(layers)}")
        self.layers = [int(n) for n in layers]
        self.alpha = positive("alpha", alpha)
        self.rng = np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.W: list[np.ndarray] = []
        for i, (fan_in, fan_out) in enumerate(zip(self.layers[:-1], self.layers[1:])):
            extra = 0 if i == len(self.layers) - 2 else 1  # hidden layers carry their own bias unit
            weights = self.rng.standard_normal((fan_in + 1, fan_out + extra)) / np.sqrt(fan_in)
            self.W.append(weights.astype(self.dtype))
        self.loss_history_: list[tuple[int, float]] = []

    def __repr__(self) -> str:
        return f"NeuralNetwork: {'-'.join(str(n) for n in self.layers)}"

    def fit(self, X, y, epochs: int = 1000, display_update: int = 100, batch_size: int | None = None,
            on_display: Callable[[int, float], None] | None = None) -> "NeuralNetwork":
        """Train; every ``display_update`` epochs (and at epoch 1) record the loss and call ``on_display``."""
        X1 = add_bias_column(X).astype(self.dtype)
        self._check_features(X1)
        targets = as_targets("y", y, X1.shape[0]).astype(self.dtype)
        if targets.shape[1] != self.layers[-1]:
            raise ValueError(f"y must have {self.layers[-1]} columns, got {targets.shape[1]}")
        epochs = positive_int("epochs", epochs)
        display_update = positive_int("display_update", display_update)
        if batch_size is not None:
            positive_int("batch_size", batch_size)
        self.loss_history_ = []
        with quiet_overflow():
            self._run_epochs(X1, targets, epochs, display_update, batch_size, on_display)
        return self

    def _run_epochs(self, X1, targets, epochs, display_update, batch_size, on_display) -> None:
        n = X1.shape[0]
        for epoch in range(1, epochs + 1):
            if batch_size is None:
                for row in range(n):  # the book's loop: one sample at a time, never shuffled
                    self._train_batch(X1[row:row + 1], targets[row:row + 1])
            else:
                order = self.rng.permutation(n)
                X_epoch, y_epoch = X1[order], targets[order]  # one gather per epoch; batches are views
                for start in range(0, n, batch_size):
                    self._train_batch(X_epoch[start:start + batch_size], y_epoch[start:start + batch_size])
            if epoch == 1 or epoch % display_update == 0:
                loss = self.calculate_loss(X1, targets, add_bias=False)
                self.loss_history_.append((epoch, loss))
                if on_display is not None:
                    on_display(epoch, loss)

    def gradients(self, A0: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        """d(1/2 SSE, summed over the batch) / dW for every layer; ``A0`` carries the bias column."""
        activations = [A0]
        for W in self.W:
            activations.append(sigmoid(activations[-1] @ W))
        delta = (activations[-1] - targets) * sigmoid_derivative_from_output(activations[-1])
        grads: list[np.ndarray] = [np.empty(0)] * len(self.W)
        for layer in range(len(self.W) - 1, -1, -1):
            grads[layer] = activations[layer].T @ delta
            if layer:  # propagate through the weights as they were before this update
                delta = (delta @ self.W[layer].T) * sigmoid_derivative_from_output(activations[layer])
        return grads

    def _train_batch(self, A0: np.ndarray, targets: np.ndarray) -> None:
        for W, gradient in zip(self.W, self.gradients(A0, targets)):
            W -= self.alpha * gradient

    def predict(self, X, add_bias: bool = True) -> np.ndarray:
        p = (add_bias_column(X) if add_bias else as_matrix("X", X)).astype(self.dtype, copy=False)
        self._check_features(p)
        with quiet_overflow():
            for W in self.W:
                p = sigmoid(p @ W)
        return p

    def calculate_loss(self, X, targets, add_bias: bool = True) -> float:
        predictions = self.predict(X, add_bias=add_bias)
        targets = as_targets("targets", targets, predictions.shape[0])
        return 0.5 * float(np.sum((predictions - targets) ** 2))

    def _check_features(self, X1: np.ndarray) -> None:
        if X1.shape[1] != self.W[0].shape[0]:
            raise ValueError(f"X must have {self.layers[0]} features, got {X1.shape[1] - 1}")
