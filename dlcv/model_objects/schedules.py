"""The book's step decay as a Keras schedule (registered as ``dlcv>StepDecay``): what older runs' optimizers
name, kept so that they load.

    >>> schedule = StepDecay(0.01, factor=0.5, drop_every=5, steps_per_epoch=100)
    >>> round(float(schedule(100 * 4)), 6)               # epoch 4: 0.01 * 0.5 ** floor(5 / 5)
    0.005
"""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlcv")
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The book's step decay, lr0 * factor ** floor((1 + epoch) / drop_every), evaluated per batch: what
    older runs' optimizers name (today's are Keras's ``PiecewiseConstantDecay``,
    :func:`dlcv.training.schedules.step_decay`).

        schedule = StepDecay(0.01, factor=0.25, drop_every=5, steps_per_epoch=100)
    """

    def __init__(self, initial_learning_rate: float, factor: float, drop_every: int,
                 steps_per_epoch: int) -> None:
        if initial_learning_rate <= 0 or not 0 < factor < 1 or drop_every < 1 or steps_per_epoch < 1:
            raise ValueError("StepDecay needs initial_learning_rate > 0, 0 < factor < 1, drop_every >= 1 "
                             f"and steps_per_epoch >= 1; got {initial_learning_rate}, {factor}, "
                             f"{drop_every}, {steps_per_epoch}")
        self.initial_learning_rate = initial_learning_rate
        self.factor = factor
        self.drop_every = drop_every
        self.steps_per_epoch = steps_per_epoch

    def __call__(self, step):
        epoch = ops.floor(ops.cast(step, "float32") / self.steps_per_epoch)
        drops = ops.floor((1.0 + epoch) / self.drop_every)
        return self.initial_learning_rate * ops.power(self.factor, drops)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "factor": self.factor,
                "drop_every": self.drop_every, "steps_per_epoch": self.steps_per_epoch}
