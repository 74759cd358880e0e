"""What training a model takes in memory, estimated before its weights exist, and refused in one line when it
cannot fit (a mistyped ``preprocessing.height`` must not reach the kernel's out-of-memory killer).

A model built inside ``keras.StatelessScope(initialize_variables=False)`` has the shapes of its variables
and of its layers' outputs, and no values: counting them costs no memory. :func:`build_within_memory`
builds so, estimates, then refuses, or initializes the variables and applies what the build assigned: the
same values an ordinary build gives (each initializer draws from its own seed).

    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    >>> footprint = Footprint.of(model, optimizer_slots=1)
    >>> footprint.params, footprint.activations       # 64*10+10 weights; 64 + 10 values an image
    (650, 74)
    >>> footprint.bytes(batch_size=2)                 # (650 weights + 650 gradients + 650 slots + 2*2*74) * 4
    8984
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras

from ..config import ExperimentConfig
from ..data.memory import available_memory
from ..errors import DlcvError
from .keras_private import forget_waiting_variables, start_waiting_variables, waiting_variables

BYTES_PER_VALUE = 4
"""float32: variables stay float32 under mixed precision, and a float16 activation's gradient is float32."""
ACTIVATION_COPIES = 2
"""Each layer's output is kept for the backward pass, and its gradient made there."""


@dataclass(frozen=True)
class Footprint:
    """A model's training memory: its weights, their gradients and optimizer slots, and per image the
    values its layers output."""

    params: int
    trainable: int
    optimizer_slots: int
    activations: int

    @classmethod
    def of(cls, model: keras.Model, optimizer_slots: int) -> Footprint:
        return cls(_count(model.weights), _count(model.trainable_weights), optimizer_slots, _activations(model))

    def bytes(self, batch_size: int) -> int:
        values = (self.params + self.trainable * (1 + self.optimizer_slots)
                  + batch_size * ACTIVATION_COPIES * self.activations)
        return values * BYTES_PER_VALUE


def optimizer_slots(config: ExperimentConfig) -> int:
    """Copies of the trainable weights the config's optimizer keeps: momentum (SGD), two moments (Adam,
    AdamW), and the moving average (``optimizer.ema``)."""
    opt = config.optimizer
    slots = 2 if opt.name in ("adam", "adamw") else int(getattr(opt, "momentum", 0) > 0)
    return slots + int(opt.ema > 0)


def build_within_memory(build: Callable[[], keras.Model], config: ExperimentConfig, loads_weights: bool,
                        available: int | None = None) -> keras.Model:
    """``build()``'s model, once its training footprint at the config's batch size is known to fit the
    memory ``available`` (now, by default); else one :class:`~dlcv.errors.DlcvError` line. A builder that
    ``loads_weights`` (a weights file, an earlier run) builds as usual: a stateless build would drop what it
    loads, and a pretrained network's size is its own, not a typo's."""
    if loads_weights:
        model = build()
        _check_fits(model, config, available)
        return model
    waiting = waiting_variables()
    with keras.StatelessScope(initialize_variables=False) as scope:
        model = build()
    try:
        _check_fits(model, config, available)
    except DlcvError:  # the refused model's variables must never start (the next build would start them)
        forget_waiting_variables(waiting)
        raise
    start_waiting_variables()
    for variable in model.weights:  # what the build set (a fixed layer's set_weights) was held by the scope
        assigned = scope.get_current_value(variable)
        if assigned is not None:
            variable.assign(assigned)
    return model


def _check_fits(model: keras.Model, config: ExperimentConfig, available: int | None) -> None:
    footprint = Footprint.of(model, optimizer_slots(config))
    needed, limit = footprint.bytes(config.batch_size), available_memory() if available is None else available
    if needed > limit:
        p = config.preprocessing
        raise DlcvError(f"model: {config.model.name} at {p.width}x{p.height}x{p.channels} has {footprint.params:,} "
                        f"parameters and needs about {needed / 2**30:,.2f} GiB to train at batch_size "
                        f"{config.batch_size}, more than the {limit / 2**30:,.2f} GiB of memory available; expected "
                        "a smaller preprocessing.width / height, batch_size or model")


def _count(variables) -> int:
    return sum(math.prod(variable.shape) for variable in variables)


def _activations(model: keras.Model) -> int:
    """Values per image the model's layers output, nested models' layers included."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += _activations(layer)
            continue
        try:
            outputs = keras.tree.flatten(layer.output)
        except (AttributeError, ValueError):  # never called, or called more than once: no single output
            continue
        total += sum(math.prod(dim for dim in output.shape[1:] if dim is not None) for output in outputs)
    return total
