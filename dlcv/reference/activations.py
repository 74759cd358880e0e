"""Activations used by the from-scratch models."""
from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), keeping the input's float dtype (float32 stays float32).

    For x << 0, exp(-x) overflows to inf and the result is exactly 0, the right limit; callers that
    loop (``fit``, ``predict``) silence NumPy's overflow warning once with :data:`quiet_overflow`
    rather than paying for it on every call of this hot function.
    """
    out = np.exp(-x)
    out += 1.0
    return np.reciprocal(out, out=out)


def quiet_overflow():
    """``with quiet_overflow(): ...`` — see :func:`sigmoid`."""
    return np.errstate(over="ignore")


def sigmoid_derivative_from_output(s: np.ndarray) -> np.ndarray:
    """d sigmoid / dx written in terms of the sigmoid's own output s = sigmoid(x)."""
    return s * (1.0 - s)


def step(x: np.ndarray) -> np.ndarray:
    """Heaviside step: 1 where x > 0, else 0."""
    return (np.asarray(x) > 0).astype(np.int64)
