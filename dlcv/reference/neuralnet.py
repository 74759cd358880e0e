"""A fully connected sigmoid network trained by backpropagation (ch. 10).

Bias is folded into every layer: each hidden layer carries one extra unit that always outputs 1, so every
weight matrix has one more row (and, except the last, one more column) than the layer sizes say. Weights
start as randn / sqrt(fan_in). The loss is 1/2 * sum((prediction - target)^2).

``batch_size=None`` trains one sample at a time in data order, exactly as the book does. An integer
trains on shuffled mini-batches with the per-sample gradients summed, one matrix product per layer per
batch instead of per sample — the same arithmetic, far fewer Python steps. ``dtype=np.float32`` halves
the cost of each step again (NumPy's float32 ``exp`` and matrix products are vectorised).

scikit-learn's conventions: hyperparameters in ``__init__``, ``fit`` starts from fresh weights (drawn
from ``seed``), learned attributes end in ``_``. The book's signatures are ``dlcv.pyimagesearch.nn``'s.

    net = NeuralNetwork([64, 32, 16, 10], alpha=0.1, epochs=1000, batch_size=128, seed=42, dtype=np.float32)
    net.fit(X, Y_onehot)
    net.predict(X).argmax(axis=1), net.loss_history_[-1]
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._checks import ArgumentError, as_targets, check_fitted, positive, positive_int
from .activations import quiet_overflow, sigmoid, sigmoid_derivative_from_output
from .linear import add_bias_column


def forward(weights: Sequence[np.ndarray], A0: np.ndarray) -> list[np.ndarray]:
    """Every layer's activations for inputs ``A0`` that carry the bias column (the first is ``A0``)."""
    activations = [A0]
    for W in weights:
        activations.append(sigmoid(activations[-1] @ W))
    return activations


def gradients(weights: Sequence[np.ndarray], A0: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
    """d(1/2 SSE, summed over the batch) / dW for every layer; ``A0`` carries the bias column."""
    activations = forward(weights, A0)
    delta = (activations[-1] - targets) * sigmoid_derivative_from_output(activations[-1])
    grads: list[np.ndarray] = [np.empty(0)] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        grads[layer] = activations[layer].T @ delta
        if layer:  # propagate through the weights as they were before this update
            delta = (delta @ weights[layer].T) * sigmoid_derivative_from_output(activations[layer])
    return grads


def half_sse(weights: Sequence[np.ndarray], A0: np.ndarray, targets: np.ndarray) -> float:
    """The loss: 1/2 sum((prediction - target)^2)."""
    return 0.5 * float(np.sum((forward(weights, A0)[-1] - targets) ** 2))


class NeuralNetwork:
    def __init__(self, layers: Sequence[int], alpha: float = 0.1, epochs: int = 1000,
                 batch_size: int | None = None, display_update: int = 100, seed: int | None = None,
                 dtype: type = np.float64) -> None:
        if len(layers) < 2 or any(int(n) != n or n < 1 for n in layers):
            raise ArgumentError(f"layers must list at least two sizes >= 1, got {list(layers)}")
        self.layers = [int(n) for n in layers]
        self.alpha = positive("alpha", alpha)
        self.epochs = positive_int("epochs", epochs)
        self.batch_size = None if batch_size is None else positive_int("batch_size", batch_size)
        self.display_update = positive_int("display_update", display_update)
        self.seed = seed
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ArgumentError(f"dtype must be float32 or float64, got {self.dtype}")
        self.weights_: list[np.ndarray] | None = None
        self.loss_history_: list[tuple[int, float]] = []

    def __repr__(self) -> str:
        return f"NeuralNetwork: {'-'.join(str(n) for n in self.layers)}"

    def initial_weights(self, rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """Fresh weights, randn / sqrt(fan_in), hidden layers with their bias unit."""
        rng = rng or np.random.default_rng(self.seed)
        weights = []
        for i, (fan_in, fan_out) in enumerate(zip(self.layers[:-1], self.layers[1:])):
            extra = 0 if i == len(self.layers) - 2 else 1  # hidden layers carry their own bias unit
            weights.append((rng.standard_normal((fan_in + 1, fan_out + extra)) / np.sqrt(fan_in)).astype(self.dtype))
        return weights

    def fit(self, X, y, on_display: Callable[[int, float], None] | None = None) -> NeuralNetwork:
        """Train from fresh weights; every ``display_update`` epochs (and at epoch 1) record the loss in
        ``loss_history_`` and call ``on_display(epoch, loss)``."""
        X1 = add_bias_column(X).astype(self.dtype)
        if X1.shape[1] != self.layers[0] + 1:
            raise ArgumentError(f"X must have {self.layers[0]} features, got {X1.shape[1] - 1}")
        targets = as_targets("y", y, X1.shape[0]).astype(self.dtype)
        if targets.shape[1] != self.layers[-1]:
            raise ArgumentError(f"y must have {self.layers[-1]} columns, got {targets.shape[1]}")
        rng = np.random.default_rng(self.seed)
        self.weights_ = self.initial_weights(rng)
        self.loss_history_ = []
        with quiet_overflow():
            self._run_epochs(X1, targets, rng, on_display)
        return self

    def _run_epochs(self, X1, targets, rng, on_display) -> None:
        n = X1.shape[0]
        for epoch in range(1, self.epochs + 1):
            if self.batch_size is None:
                for row in range(n):  # the book's loop: one sample at a time, never shuffled
                    self._train_batch(X1[row:row + 1], targets[row:row + 1])
            else:
                order = rng.permutation(n)
                X_epoch, y_epoch = X1[order], targets[order]  # one gather per epoch; batches are views
                for start in range(0, n, self.batch_size):
                    self._train_batch(X_epoch[start:start + self.batch_size],
                                      y_epoch[start:start + self.batch_size])
            if epoch == 1 or epoch % self.display_update == 0:
                loss = half_sse(self.weights_, X1, targets)
                self.loss_history_.append((epoch, loss))
                if on_display is not None:
                    on_display(epoch, loss)

    def _train_batch(self, A0: np.ndarray, targets: np.ndarray) -> None:
        for W, gradient in zip(self.weights_, gradients(self.weights_, A0, targets)):
            W -= self.alpha * gradient

    def predict(self, X) -> np.ndarray:
        check_fitted(self)
        A0 = add_bias_column(X).astype(self.dtype, copy=False)
        if A0.shape[1] != self.weights_[0].shape[0]:
            raise ArgumentError(f"X must have {self.layers[0]} features, got {A0.shape[1] - 1}")
        with quiet_overflow():
            return forward(self.weights_, A0)[-1]

    def loss(self, X, targets) -> float:
        """1/2 SSE of the fitted network on ``X`` against ``targets``."""
        predictions = self.predict(X)
        targets = as_targets("targets", targets, predictions.shape[0])
        return 0.5 * float(np.sum((predictions - targets) ** 2))
