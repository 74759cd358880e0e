"""The optimizer a config describes, with its learning-rate schedule: SGD (plain, momentum or Nesterov,
the book's) or Adam.

    optimizer = build_optimizer(config, steps_per_epoch=len(train_batches))
"""
from __future__ import annotations

import keras

from ..config import AdamConfig, ExperimentConfig
from .schedules import build_schedule


def build_optimizer(config: ExperimentConfig, steps_per_epoch: int,
                    fine_tuning: bool = False) -> keras.optimizers.Optimizer:
    """The config's optimizer for its first phase, or (``fine_tuning``) for its ``fine_tune`` phase: the same
    optimizer and schedule shape, from ``fine_tune.learning_rate`` over ``fine_tune.epochs``."""
    opt = config.optimizer
    rate, epochs = ((config.fine_tune.learning_rate, config.fine_tune.epochs) if fine_tuning
                    else (opt.learning_rate, config.epochs))
    learning_rate = build_schedule(config.schedule, rate, steps_per_epoch, epochs)
    if isinstance(opt, AdamConfig):
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=opt.beta_1, beta_2=opt.beta_2,
                                     epsilon=opt.epsilon)
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=opt.momentum, nesterov=opt.nesterov)
