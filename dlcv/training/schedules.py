"""Learning-rate schedules from a config, as Keras ``LearningRateSchedule`` objects (stepped per batch).

    >>> lr = build_schedule(StepSchedule(name="step", factor=0.5, drop_every=5), 0.01, steps_per_epoch=782,
    ...                     epochs=40)
    >>> round(float(lr(782 * 4)), 6)    # epoch 4 -> 0.01 * 0.5 ** floor(5 / 5)
    0.005
    >>> [round(rate, 6) for rate in learning_rates(lr, 782, 10)[3:5]]
    [0.01, 0.005]
"""
from __future__ import annotations

import keras

from ..config import SCHEDULES, CosineSchedule, InverseTimeSchedule, ScheduleConfig, StepSchedule

__all__ = ["build_schedule", "learning_rates", "plot_learning_rates", "step_decay"]


def build_schedule(config: ScheduleConfig, learning_rate: float, steps_per_epoch: int, epochs: int):
    """A float (constant) or a ``LearningRateSchedule`` for the optimizer: the builder of the config's
    ``name`` (:data:`BUILDERS`)."""
    return BUILDERS[config.name](config, learning_rate, steps_per_epoch, epochs)


def _constant(config, learning_rate: float, steps_per_epoch: int, epochs: int):
    return learning_rate


def _inverse_time(config: InverseTimeSchedule, learning_rate: float, steps_per_epoch: int, epochs: int):
    # Keras 2's `decay` argument: lr0 / (1 + decay * iterations), per batch, not per epoch.
    return keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=config.decay)


def _step(config: StepSchedule, learning_rate: float, steps_per_epoch: int, epochs: int):
    return step_decay(learning_rate, config.factor, config.drop_every, steps_per_epoch, epochs)


def _cosine(config: CosineSchedule, learning_rate: float, steps_per_epoch: int, epochs: int):
    warmup_steps = config.warmup_epochs * steps_per_epoch
    decay_steps = max(1, epochs * steps_per_epoch - warmup_steps)
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=config.alpha)
    return keras.optimizers.schedules.CosineDecay(0.0, decay_steps, alpha=config.alpha, warmup_target=learning_rate,
                                                  warmup_steps=warmup_steps)


BUILDERS = {"constant": _constant, "inverse_time": _inverse_time, "step": _step, "cosine": _cosine}
"""Each schedule of the schema's registry (:data:`dlcv.config.SCHEDULES`), built."""
if BUILDERS.keys() != SCHEDULES.keys():  # a schedule added to the schema needs its builder here
    raise ImportError(f"schedules without a builder: {sorted(SCHEDULES.keys() - BUILDERS.keys())}")


def step_decay(learning_rate: float, factor: float, drop_every: int, steps_per_epoch: int, epochs: int):
    """The book's step decay, lr0 * factor ** floor((1 + epoch) / drop_every), as Keras's own
    ``PiecewiseConstantDecay`` over the run's ``epochs`` (so a saved optimizer needs nothing of dlcv's).
    Keras's ``ExponentialDecay(staircase=True)`` computes factor ** floor(epoch / drop_every), its drops
    one epoch later than the book's.

        >>> lr = step_decay(0.01, 0.5, drop_every=2, steps_per_epoch=10, epochs=6)
        >>> [round(float(lr(10 * epoch)), 6) for epoch in range(6)]   # drops as epochs 2, 4, 6 begin (1-based)
        [0.01, 0.005, 0.005, 0.0025, 0.0025, 0.00125]
    """
    drops = [k for k in range(1, epochs + 1) if k * drop_every - 1 < epochs]  # the k-th drop: epoch k*d - 1
    boundaries = [(k * drop_every - 1) * steps_per_epoch - 1 for k in drops]  # value k from the step after
    values = [learning_rate * factor ** k for k in range(len(drops) + 1)]
    if not boundaries:  # no drop within the run
        return learning_rate
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def learning_rates(schedule, steps_per_epoch: int, epochs: int) -> list[float]:
    """The rate in force at the start of each epoch (what the book's plots show)."""
    if not callable(schedule):
        return [float(schedule)] * epochs
    return [float(schedule(epoch * steps_per_epoch)) for epoch in range(epochs)]


def plot_learning_rates(schedule, steps_per_epoch: int, epochs: int, path, title: str) -> list[float]:
    """Draw the per-batch rate over the run, with a marker at each epoch start; return the epoch rates."""
    import numpy as np

    from ..plotting import new_figure, save_figure

    per_epoch = learning_rates(schedule, steps_per_epoch, epochs)
    steps = np.linspace(0, epochs * steps_per_epoch - 1, num=min(2000, epochs * steps_per_epoch))
    per_step = [float(schedule(int(s))) if callable(schedule) else float(schedule) for s in steps]
    figure, axes = new_figure()
    axes.plot(steps / steps_per_epoch + 1, per_step, linewidth=1, label="per batch")
    axes.plot(np.arange(1, epochs + 1), per_epoch, "o", markersize=3, label="epoch start")
    axes.set(title=title, xlabel="epoch", ylabel="learning rate")
    axes.legend()
    save_figure(figure, path)
    return per_epoch
