"""The SGD update rule, plain, with momentum, or with Nesterov momentum (ch. 9).

Momentum keeps a velocity V = momentum * V - lr * grad and moves W by V. Nesterov evaluates the gradient
at the look-ahead point W + momentum * V. Written for the parameters that *are* the look-ahead point
(the form Keras and PyTorch use), the update needs only the gradient at the current W:

    V = momentum * V - lr * grad(W)
    W = W + momentum * V - lr * grad(W)

which is why ``Nesterov`` here and ``keras.optimizers.SGD(nesterov=True)`` follow the same trajectory.

    >>> sgd = SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    >>> W = np.array([1.0, -2.0])
    >>> W = sgd.step(W, 2 * W)          # the gradient of |W|^2; the velocity is kept per parameter array
    >>> W.round(3).tolist()             # W - 0.1 * g + 0.9 * (-0.1 * g), g = [2, -4]
    [0.62, -1.24]
"""
from __future__ import annotations

import numpy as np

from ._checks import ArgumentError, positive


class SGD:
    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        positive("learning_rate", learning_rate)
        if not 0 <= momentum < 1:
            raise ArgumentError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ArgumentError("nesterov=True needs momentum > 0")
        self.learning_rate, self.momentum, self.nesterov = learning_rate, momentum, nesterov
        self._velocity: dict[str, np.ndarray] = {}

    def reset(self) -> SGD:
        """Forget the velocities (a model's ``fit`` starts from rest)."""
        self._velocity = {}
        return self

    def step(self, param: np.ndarray, grad: np.ndarray, name: str = "W") -> np.ndarray:
        """Return the updated parameter (the input array is not modified)."""
        if self.momentum == 0:
            return param - self.learning_rate * grad
        velocity = self._velocity.get(name, np.zeros_like(param))
        velocity = self.momentum * velocity - self.learning_rate * grad
        self._velocity[name] = velocity
        if self.nesterov:
            return param + self.momentum * velocity - self.learning_rate * grad
        return param + velocity

    @classmethod
    def named(cls, name: str, learning_rate: float, momentum: float = 0.9) -> SGD:
        """``gd`` (plain), ``momentum`` or ``nesterov``."""
        if name == "gd":
            return cls(learning_rate)
        if name in ("momentum", "nesterov"):
            return cls(learning_rate, momentum, nesterov=name == "nesterov")
        raise ArgumentError(f"optimizer must be gd, momentum or nesterov, got {name!r}")
