"""``dlcv tune``'s section: the searched keys' distributions and how a trial is judged."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .fields import PositiveFloat, PositiveInt, Section

Scalar = bool | int | float | str
"""A value a search can choose: Optuna stores plain values only."""
Bounds = Annotated[list[float], Field(min_length=2, max_length=2)]
IntBounds = Annotated[list[int], Field(min_length=2, max_length=2)]


class SearchDistribution(Section):
    """One searched key's values: exactly one of ``uniform``, ``log_uniform``, ``int_uniform`` (each
    ``[low, high]``, both included) or ``choice`` (a list of plain values); ``when`` draws the key only in
    trials where other keys have these values (Optuna's define-by-run conditional spaces), e.g.
    ``optimizer.momentum: {uniform: [0.8, 0.99], when: {optimizer.name: sgd}}``."""

    uniform: Bounds | None = None
    log_uniform: Bounds | None = None
    int_uniform: IntBounds | None = None
    choice: Annotated[list[Scalar], Field(min_length=1)] | None = None
    when: dict[str, Scalar] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SearchDistribution:
        given = [kind for kind in DISTRIBUTIONS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(f"expected exactly one of {', '.join(DISTRIBUTIONS)}, got "
                             f"{', '.join(given) if given else 'none'}")
        bounds = self.bounds
        if bounds is not None and bounds[0] > bounds[1]:
            raise ValueError(f"low {bounds[0]} > high {bounds[1]}; expected [low, high]")
        if self.log_uniform is not None and self.log_uniform[0] <= 0:
            raise ValueError(f"log_uniform needs bounds > 0, got low {self.log_uniform[0]}")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in DISTRIBUTIONS if getattr(self, kind) is not None)

    @property
    def bounds(self) -> list[float] | None:
        return self.uniform or self.log_uniform or self.int_uniform

    @property
    def finite(self) -> bool:
        """Whether the values can be listed (a grid search's condition)."""
        return self.choice is not None or self.int_uniform is not None

    def values(self) -> list[Scalar]:
        """Every value a finite distribution draws."""
        if self.choice is not None:
            return list(self.choice)
        if self.int_uniform is not None:
            return list(range(self.int_uniform[0], self.int_uniform[1] + 1))
        raise ValueError(f"{self.kind} has no finite list of values")

    def extremes(self) -> list[Scalar]:
        """The values that bound what a trial can draw: both ends of a range, every choice."""
        return list(self.choice) if self.choice is not None else list(dict.fromkeys(self.bounds))


DISTRIBUTIONS = ("uniform", "log_uniform", "int_uniform", "choice")


class SearchConfig(Section):
    """``dlcv tune``'s hyperparameter search (Optuna): which keys to search and how to judge a trial.
    Each trial is an ordinary training run of the config with the drawn values, judged on the validation
    split only: it never reads the test split."""

    space: Annotated[dict[str, SearchDistribution], Field(min_length=1)]
    """Dotted config keys and their distributions, e.g. ``optimizer.learning_rate: {log_uniform: [1.0e-4,
    0.3]}``, ``batch_size: {choice: [32, 64, 128]}``."""
    metric: Literal["val_accuracy", "val_loss", "val_map", "val_f1_macro"] = "val_accuracy"
    """What a trial is judged by: the final model's (with ``restore_best``, its best epoch's) value;
    reported after every epoch for pruning."""
    trials: PositiveInt = 20
    """The study's total of finished trials (complete or pruned), however many processes share it: four
    machines with ``trials: 100`` finish 100 together, and a rerun runs only the missing ones."""
    timeout: PositiveFloat | None = None
    """Seconds this process searches for at most (no new trial starts after it)."""
    pruner: Literal["median", "hyperband", "none"] = "median"
    """Stops a trial whose validation metric is worse than the median (or hyperband's bracket) at the
    same epoch (Optuna's MedianPruner: not before five trials have finished, nor before a tenth of the
    epochs)."""
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    """tpe (Optuna's default), random, or grid (every combination; choice and int_uniform keys only)."""
    heartbeat: PositiveInt = 60
    """Seconds between a running trial's heartbeats in the study; a trial silent for two of them (its
    process was killed) is marked failed when a process next starts a trial, and its place is taken."""

    @model_validator(mode="after")
    def _grid_is_finite(self) -> SearchConfig:
        if self.sampler == "grid":
            infinite = [key for key, d in self.space.items() if not d.finite]
            if infinite:
                raise ValueError(f"sampler grid needs choice or int_uniform keys; {', '.join(infinite)} "
                                 "is a continuous range")
        return self
