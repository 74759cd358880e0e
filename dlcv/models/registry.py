"""Models by name, so that configs can say ``model: {name: lenet}`` (timm's pattern).

Every builder takes ``(width, height, depth, classes, **params)`` and ``classifier_activation`` (the
task's: "softmax" or "sigmoid", as ``keras.applications`` take it; never a config's parameter) and returns
an uncompiled ``keras.Model``. Builders import Keras inside their bodies, so this registry — names, signatures and
the types of their parameters — is usable before Keras is imported: :func:`check_params` refuses an
unknown name, an unknown parameter or a value of the wrong type in one line, before any data is read.

    @register_model
    def linear(width: int, height: int, depth: int, classes: int): ...

    >>> from dlcv.models import build_model, check_params
    >>> check_params("mlp", {"hidden": [64, 32]})                  # no Keras needed
    >>> check_params("mlp", {"hiden": [64]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    dlcv.errors.ConfigError: model.params.hiden: unknown parameter for model 'mlp' (did you mean 'hidden'?); ...
    >>> build_model("mlp", 8, 8, 1, 10, hidden=[64, 32]).count_params()   # 64*64+64 + 64*32+32 + 32*10+10
    6570
"""
from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import ConfigDict, ValidationError, create_model

from ..errors import ConfigError, did_you_mean

ModelBuilder = Callable[..., Any]
MODELS: dict[str, ModelBuilder] = {}
INPUT_ARGS = ("width", "height", "depth", "classes")
TASK_ARG = "classifier_activation"
"""The head's activation: every builder takes it, the task sets it (:mod:`dlcv.task`), a config cannot."""


def register_model(builder: ModelBuilder) -> ModelBuilder:
    """Register ``builder`` under its function name. Its first four parameters are the image's width,
    height, depth (channels) and the class count: named so (the book's ``build``), or positional-only
    under other names where a network's own parameters need those words (a ResNet's ``depth``)."""
    first = list(inspect.signature(builder).parameters.values())[:len(INPUT_ARGS)]
    named = tuple(p.name for p in first) == INPUT_ARGS
    positional = len(first) == len(INPUT_ARGS) and all(p.kind is p.POSITIONAL_ONLY for p in first)
    if not (named or positional):
        raise TypeError(f"model builder {builder.__name__} must start with {INPUT_ARGS}, or four positional-only "
                        "parameters")
    if TASK_ARG not in inspect.signature(builder).parameters:
        raise TypeError(f"model builder {builder.__name__} must take {TASK_ARG}: the task decides the head's "
                        "activation")
    if builder.__name__ in MODELS:
        raise TypeError(f"model {builder.__name__!r} is registered twice")
    MODELS[builder.__name__] = builder
    return builder


def get_builder(name: str) -> ModelBuilder:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"model.name: unknown model {name!r}{did_you_mean(name, MODELS)}; expected one of: "
                          f"{', '.join(sorted(MODELS))}") from None


def check_params(name: str, params: dict[str, Any]) -> None:
    """Refuse an unknown model, an unknown parameter or a value its annotation does not allow."""
    builder = get_builder(name)
    accepted = _config_params(builder)
    for key in params:
        if key not in accepted:
            raise ConfigError(f"model.params.{key}: unknown parameter for model {name!r}{did_you_mean(key, accepted)}; "
                              f"expected one of: {', '.join(accepted) or '(none)'}")
    try:
        _params_schema(builder).model_validate(params)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"model.params.{where}: {error['msg'][0].lower()}{error['msg'][1:]} for model "
                          f"{name!r}, got {error['input']!r}") from None


@cache
def _params_schema(builder: ModelBuilder):
    """A pydantic model of the builder's keyword parameters, from their annotations (strict: YAML's
    ``"yes"`` is not a bool, ``1.5`` is not a layer size)."""
    hints = typing.get_type_hints(builder, include_extras=True)  # resolves `from __future__` strings
    fields = {}
    for name in _config_params(builder):
        fields[name] = (hints.get(name, Any), inspect.signature(builder).parameters[name].default)
    return create_model(f"{builder.__name__}_params", __config__=ConfigDict(strict=True, extra="forbid"),
                        **fields)


def model_params(name: str) -> list[str]:
    """The parameters a config's ``model.params`` may set for the named network."""
    return _config_params(get_builder(name))


def _config_params(builder: ModelBuilder) -> list[str]:
    """The builder's parameters a config's ``model.params`` may set."""
    return [name for name in list(inspect.signature(builder).parameters)[len(INPUT_ARGS):] if name != TASK_ARG]


def build_model(name: str, width: int, height: int, depth: int, classes: int, /,
                classifier_activation: str = "softmax", **params: Any):
    """The named network, for (height, width, depth) images and ``classes`` outputs, ending in
    ``classifier_activation`` (imports Keras)."""
    check_params(name, params)
    return get_builder(name)(width, height, depth, classes, classifier_activation=classifier_activation, **params)


def describe_models() -> dict[str, str]:
    """Each registered model's name and the first paragraph of its docstring, on one line."""
    return {name: " ".join((builder.__doc__ or "").strip().split("\n\n")[0].split())
            for name, builder in sorted(MODELS.items())}
