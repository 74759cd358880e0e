"""Weight initialisers (ch. 11), for a weight matrix of shape (fan_in, fan_out).

    W = initialize("glorot_uniform", (256, 128), rng=np.random.default_rng(0))

| name            | distribution                                   |
|-----------------|------------------------------------------------|
| constant        | every weight = value (zeros, ones or C)        |
| uniform         | U(-0.05, 0.05)                                 |
| normal          | N(0, 0.05)                                     |
| lecun_uniform   | U(-l, l), l = sqrt(3 / fan_in)                 |
| lecun_normal    | N(0, sqrt(1 / fan_in))                         |
| glorot_uniform  | U(-l, l), l = sqrt(6 / (fan_in + fan_out))     |
| glorot_normal   | N(0, sqrt(2 / (fan_in + fan_out)))             |
| he_uniform      | U(-l, l), l = sqrt(6 / fan_in)                 |
| he_normal       | N(0, sqrt(2 / fan_in))                         |

(Normal forms use the plain normal, as the book states; Keras's own ``*_normal`` initialisers use a
truncated normal with a corrected scale instead.)
"""
from __future__ import annotations

import numpy as np

from ._checks import ArgumentError


def _uniform_limit(name: str, fan_in: int, fan_out: int) -> float:
    return {"uniform": 0.05, "lecun_uniform": np.sqrt(3.0 / fan_in),
            "glorot_uniform": np.sqrt(6.0 / (fan_in + fan_out)), "he_uniform": np.sqrt(6.0 / fan_in)}[name]


def _normal_std(name: str, fan_in: int, fan_out: int) -> float:
    return {"normal": 0.05, "lecun_normal": np.sqrt(1.0 / fan_in),
            "glorot_normal": np.sqrt(2.0 / (fan_in + fan_out)), "he_normal": np.sqrt(2.0 / fan_in)}[name]


UNIFORM = ("uniform", "lecun_uniform", "glorot_uniform", "he_uniform")
NORMAL = ("normal", "lecun_normal", "glorot_normal", "he_normal")
INITIALIZERS = ("constant",) + UNIFORM + NORMAL


def initialize(name: str, shape: tuple[int, int], rng: np.random.Generator | None = None,
               value: float = 0.0) -> np.ndarray:
    """A (fan_in, fan_out) weight matrix drawn from the named initialiser."""
    if len(shape) != 2 or min(shape) < 1:
        raise ArgumentError(f"shape must be (fan_in, fan_out) with both >= 1, got {shape}")
    fan_in, fan_out = shape
    rng = rng or np.random.default_rng()
    if name == "constant":
        return np.full(shape, float(value))
    if name in UNIFORM:
        limit = _uniform_limit(name, fan_in, fan_out)
        return rng.uniform(-limit, limit, size=shape)
    if name in NORMAL:
        return rng.normal(0.0, _normal_std(name, fan_in, fan_out), size=shape)
    raise ArgumentError(f"name must be one of {', '.join(INITIALIZERS)}, got {name!r}")
