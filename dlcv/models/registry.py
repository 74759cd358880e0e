"""Models by name, so that configs can say ``model: {name: lenet}``.

Every builder takes ``(width, height, depth, classes, **params)`` and returns an uncompiled
``keras.Model``; :func:`build_model` checks ``params`` against the builder's signature first.

    @register_model
    def linear(width, height, depth, classes): ...

    model = build_model("mlp", 8, 8, 1, 10, hidden=[64, 32])
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from ..errors import ConfigError

ModelBuilder = Callable[..., Any]
MODELS: dict[str, ModelBuilder] = {}
_INPUT_ARGS = ("width", "height", "depth", "classes")


def register_model(builder: ModelBuilder) -> ModelBuilder:
    """Register ``builder`` under its function name."""
    parameters = list(inspect.signature(builder).parameters)
    if tuple(parameters[:4]) != _INPUT_ARGS:
        raise TypeError(f"model builder {builder.__name__} must start with {_INPUT_ARGS}")
    MODELS[builder.__name__] = builder
    return builder


def build_model(name: str, width: int, height: int, depth: int, classes: int, **params: Any):
    try:
        builder = MODELS[name]
    except KeyError:
        raise ConfigError(f"model.name: unknown model {name!r}; expected one of: "
                          f"{', '.join(sorted(MODELS))}") from None
    accepted = [p for p in inspect.signature(builder).parameters if p not in _INPUT_ARGS]
    for key in params:
        if key not in accepted:
            raise ConfigError(f"model.params.{key}: unknown parameter for model {name!r}; "
                              f"expected one of: {', '.join(accepted) or '(none)'}")
    try:
        return builder(width, height, depth, classes, **params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model.params: invalid for model {name!r}: {exc}") from None
