"""A search space (``search.space``): drawing a trial's values, and checking every value a trial could draw
before the first trial runs.

Drawing is Optuna's define-by-run: a key with ``when`` is drawn only in trials whose other keys have those
values, so the space is the tree the trials walk. Checking builds the configs a trial could end up with —
both ends of every range and every choice, in combination while there are few — and validates each as
``dlcv train`` would, so a bad space is one line before any training, not trial 17 failing.

    values = draw(trial, config.search.space, config)     # {"optimizer.learning_rate": 0.012, ...}
    check_space("configs/tune_digits.yaml", [], config.search.space, "tensorflow")
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from ..config import ExperimentConfig, Scalar, SearchDistribution, load_config
from ..errors import ConfigError

FIXED_KEYS = ("seed", "name", "output_dir", "dataset", "search")
"""Keys a search must not vary: the seed and the dataset decide the split (a trial on another split
could see the test images), the name and output folder where the trials go."""
MAX_COMBINATIONS = 128
"""Above this many combinations of extremes, each key's extremes are checked on their own."""


def ordered(space: dict[str, SearchDistribution]) -> list[str]:
    """The keys in an order that draws each ``when`` condition's keys before the keys that depend on them."""
    done: list[str] = []
    pending = list(space)
    while pending:
        ready = [k for k in pending if all(c not in space or c in done for c in (space[k].when or {}))]
        if not ready:
            raise ConfigError(f"search.space: the when conditions of {', '.join(pending)} depend on each other "
                              "in a circle; expected each key's condition to name keys drawn before it")
        done += ready
        pending = [k for k in pending if k not in ready]
    return done


def draw(trial: Any, space: dict[str, SearchDistribution], base: ExperimentConfig) -> dict[str, Scalar]:
    """The values of one Optuna trial: each key the trial's conditions allow, suggested by its kind."""
    values: dict[str, Scalar] = {}
    for key in ordered(space):
        distribution = space[key]
        if not applies(distribution, values, base):
            continue
        if distribution.choice is not None:
            values[key] = trial.suggest_categorical(key, distribution.choice)
        elif distribution.int_uniform is not None:
            values[key] = trial.suggest_int(key, *distribution.int_uniform)
        else:
            low, high = distribution.bounds
            values[key] = trial.suggest_float(key, low, high, log=distribution.log_uniform is not None)
    return values


def applies(distribution: SearchDistribution, values: dict[str, Scalar], base: ExperimentConfig) -> bool:
    """Whether ``when`` holds: each named key has its value among those drawn, else in the base config."""
    return all(values[key] == wanted if key in values else config_value(base, key) == wanted
               for key, wanted in (distribution.when or {}).items())


def config_value(config: ExperimentConfig, key: str) -> Any:
    """A dotted key's value in a config (None where there is none)."""
    node: Any = config.to_dict()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def check_space(path: str | None, overrides: Sequence[str], space: dict[str, SearchDistribution], backend: str) -> None:
    """Refuse, in one line, a space with a fixed key, or one from which a trial could draw an invalid config."""
    from ..checks import check_config

    for key in space:
        root = key.split(".")[0]
        if root in FIXED_KEYS:
            raise ConfigError(f"search.space.{key}: {root} is fixed for a search (the seed and the dataset decide "
                              "the split the trials are judged on, name and output_dir where they go); expected "
                              "training keys such as optimizer.learning_rate or batch_size")
    base = load_config(path, list(overrides))
    for values in _candidates(space, base):
        try:
            check_config(load_config(path, list(overrides), {"search": None, **values}), backend)
        except ConfigError as exc:
            drawn = ", ".join(f"{k}={v!r}" for k, v in values.items())
            reason = str(exc).split(": ", 1)[-1] if str(exc).startswith(str(path or "config")) else str(exc)
            hint = "; a key that applies under one choice only needs a when: condition" \
                if "unknown key" in reason or "unknown parameter" in reason else ""
            raise ConfigError(f"search.space: a trial drawing {drawn} would train an invalid config: "
                              f"{reason}{hint}") from None


def _candidates(space: dict[str, SearchDistribution], base: ExperimentConfig) -> list[dict[str, Scalar]]:
    """The extreme draws: all combinations of every key's extremes while there are few, else each key's
    extremes alone (with its condition's values); keys whose condition fails are left out of a draw."""
    keys = ordered(space)
    extremes = [space[k].extremes() for k in keys]
    count = 1
    for values in extremes:
        count *= len(values)
    if count <= MAX_COMBINATIONS:
        draws = []
        for combination in itertools.product(*extremes):
            values: dict[str, Scalar] = {}
            for key, value in zip(keys, combination):
                if applies(space[key], values, base):
                    values[key] = value
            if values not in draws:
                draws.append(values)
        return draws
    return [{**(space[key].when or {}), key: value} for key in keys for value in space[key].extremes()]
