"""The optimizer and learning-rate schedule sections: one registry per kind, by ``name``.

Each registry is the one list of its choices: the schema's union is built from it, and so are the trainer's
builders (:mod:`dlcv.training.optimizers`, :mod:`dlcv.training.schedules`).

    >>> sorted(OPTIMIZERS), sorted(SCHEDULES)
    (['adam', 'adamw', 'sgd'], ['constant', 'cosine', 'inverse_time', 'step'])
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag

from .fields import Fraction, PositiveFloat, PositiveInt, Section


class OptimizerSection(Section):
    """What every optimizer takes: weight averaging and gradient clipping."""

    ema: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Exponential moving average of the weights (0: off; e.g. 0.999): validation, checkpoints, the test
    report and the saved model use the averaged weights, with BatchNormalization statistics recomputed
    for them. The average warms up as TensorFlow's ``ExponentialMovingAverage(num_updates=...)``: its
    momentum is min(ema, (1 + step) / (10 + step)), so a run shorter than 1 / (1 - ema) steps still
    averages its recent weights, not its initial ones."""
    clipnorm: PositiveFloat | None = None
    """Keras's ``clipnorm``: each weight's gradient is rescaled to at most this L2 norm (per variable, not
    PyTorch's global ``clip_grad_norm_``)."""


class SGDConfig(OptimizerSection):
    """Stochastic gradient descent: plain, with momentum, or Nesterov's (the book's optimizer)."""

    name: Literal["sgd"] = "sgd"
    learning_rate: PositiveFloat = 0.05
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    nesterov: bool = True
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    """Keras's decoupled weight decay: after each step w -= learning_rate * weight_decay * w (biases and
    normalisation layers excluded, as timm does). Not PyTorch SGD's ``weight_decay``, an L2 term added to
    the gradient, which momentum amplifies by 1 / (1 - momentum): a timm / torchvision recipe's SGD
    weight_decay 5e-4 with momentum 0.9 is about 5e-4 / (1 - 0.9) = 5e-3 here."""


class AdamConfig(OptimizerSection):
    """Adam, with Keras's defaults (the smile detector's optimizer, ch. 22)."""

    name: Literal["adam"]
    learning_rate: PositiveFloat = 0.001
    beta_1: Fraction = 0.9
    beta_2: Fraction = 0.999
    epsilon: PositiveFloat = 1e-7


class AdamWConfig(OptimizerSection):
    """AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, with Keras's defaults."""

    name: Literal["adamw"]
    learning_rate: PositiveFloat = 0.001
    weight_decay: Annotated[float, Field(ge=0)] = 0.004
    """Decoupled, as SGD's (biases and normalisation layers excluded); the same as PyTorch's AdamW's."""
    beta_1: Fraction = 0.9
    beta_2: Fraction = 0.999
    epsilon: PositiveFloat = 1e-7


def _optimizer_name(value: Any) -> Any:
    """An optimizer section without ``name`` is SGD (so ``--set optimizer.learning_rate=...`` just works)."""
    return value.get("name", "sgd") if isinstance(value, dict) else getattr(value, "name", None)


OPTIMIZERS: dict[str, type[Section]] = {"sgd": SGDConfig, "adam": AdamConfig, "adamw": AdamWConfig}
"""Every optimizer by its ``name``: the schema's choice is built from it, and so are the trainer's
(:mod:`dlcv.training.optimizers`)."""
OptimizerConfig = Annotated[
    Union[tuple(Annotated[section, Tag(name)] for name, section in OPTIMIZERS.items())],  # noqa: UP007
    Discriminator(_optimizer_name),
]


class ConstantSchedule(Section):
    name: Literal["constant"] = "constant"


class InverseTimeSchedule(Section):
    """Keras 2's optimizer ``decay``: lr = lr0 / (1 + decay * iteration), applied every batch."""

    name: Literal["inverse_time"]
    decay: Annotated[float, Field(ge=0)]


class StepSchedule(Section):
    """The book's step decay: lr = lr0 * factor ** floor((1 + epoch) / drop_every)."""

    name: Literal["step"]
    factor: Fraction = 0.25
    drop_every: PositiveInt = 5


class CosineSchedule(Section):
    """Cosine decay to ``alpha * lr0`` over the run, after an optional linear warm-up."""

    name: Literal["cosine"]
    warmup_epochs: Annotated[int, Field(ge=0)] = 0
    alpha: Annotated[float, Field(ge=0, le=1)] = 0.0


SCHEDULES: dict[str, type[Section]] = {
    "constant": ConstantSchedule, "inverse_time": InverseTimeSchedule, "step": StepSchedule, "cosine": CosineSchedule,
}
"""Every learning-rate schedule by its ``name``: the schema's choice is built from it, and so are the
trainer's (:mod:`dlcv.training.schedules`)."""
ScheduleConfig = Annotated[Union[tuple(SCHEDULES.values())], Field(discriminator="name")]  # noqa: UP007
