"""Weight penalties R(W) and their gradients; the training loss becomes loss + lambda * R(W) (ch. 9).

    penalty = Regularizer("elastic_net", strength=1e-4, l1_ratio=0.5)
    penalty.value(W), penalty.gradient(W)
"""
from __future__ import annotations

import numpy as np

from ._checks import ArgumentError

KINDS = ("none", "l1", "l2", "elastic_net")


class Regularizer:
    def __init__(self, kind: str = "l2", strength: float = 1e-4, l1_ratio: float = 0.5) -> None:
        if kind not in KINDS:
            raise ArgumentError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if strength < 0:
            raise ArgumentError(f"strength must be >= 0, got {strength}")
        if not 0 <= l1_ratio <= 1:
            raise ArgumentError(f"l1_ratio must be in [0, 1], got {l1_ratio}")
        self.kind, self.strength, self.l1_ratio = kind, strength, l1_ratio

    def _mix(self) -> tuple[float, float]:
        """Weights of the L1 and L2 terms."""
        return {"none": (0.0, 0.0), "l1": (1.0, 0.0), "l2": (0.0, 1.0),
                "elastic_net": (self.l1_ratio, 1.0 - self.l1_ratio)}[self.kind]

    def value(self, W: np.ndarray) -> float:
        """lambda * (a * sum|W| + b * sum W^2)."""
        l1, l2 = self._mix()
        return self.strength * (l1 * np.abs(W).sum() + l2 * np.square(W).sum())

    def gradient(self, W: np.ndarray) -> np.ndarray:
        l1, l2 = self._mix()
        return self.strength * (l1 * np.sign(W) + 2.0 * l2 * W)
