"""Loading a config: the YAML file (or the quickstart defaults), then overrides, then the schema's check.

    >>> config = load_config("configs/keras_mnist.yaml", overrides=["optimizer.learning_rate=0.05"])
    >>> config.optimizer.learning_rate, config.model.name
    (0.05, 'mlp')
    >>> load_config(overrides=["epochs=ten"])
    Traceback (most recent call last):
    dlcv.errors.ConfigError: --set epochs=ten: epochs: input should be a valid integer, got 'ten'

(The path is the repository's: doctests run from its root, as CI runs them.)
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError
from .messages import describe, failing_key
from .overrides import apply_override, set_key
from .schema import ExperimentConfig
from .yaml_file import read_yaml


def load_config(path: str | os.PathLike | None = None, overrides: list[str] = (),
                values: dict[str, Any] | None = None) -> ExperimentConfig:
    """Read and validate a YAML config (None: the quickstart defaults), then apply ``KEY=VALUE`` overrides,
    then ``values`` (dotted keys to Python values, as a search draws them), as the file would have them."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = read_yaml(Path(path))
    given: dict[str, str] = {}  # each key an override set: a value it made wrong is blamed on it, not the file
    for override in overrides:
        apply_override(raw, override)
        given[override.split("=", 1)[0].strip()] = f"--set {override}"
    for key, value in (values or {}).items():  # a search's draw: its caller names the values drawn
        set_key(raw, key, value, f"{key}={value!r}")
    return validate_config(raw, source=str(path) if path else "config", given=given)


def validate_config(raw: dict[str, Any], source: str = "config", given: dict[str, str] | None = None
                    ) -> ExperimentConfig:
    """The schema's check of ``raw``; an error names where its value came from: the override in ``given``
    that set its key (or the section holding it), else ``source``."""
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        key = failing_key(exc)
        setters = [how for set_key_, how in (given or {}).items()
                   if key == set_key_ or key.startswith(set_key_ + ".") or set_key_.startswith(key + ".")]
        raise ConfigError(f"{setters[-1] if setters else source}: {describe(exc)}") from None

