"""The optimizer a config describes, with its learning-rate schedule: SGD (plain, momentum or Nesterov,
the book's) or Adam.

    optimizer = build_optimizer(config, steps_per_epoch=len(train_batches))
"""
from __future__ import annotations

import keras

from ..config import AdamConfig, ExperimentConfig
from .schedules import build_schedule


def build_optimizer(config: ExperimentConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    opt = config.optimizer
    learning_rate = build_schedule(config.schedule, opt.learning_rate, steps_per_epoch, config.epochs)
    if isinstance(opt, AdamConfig):
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=opt.beta_1, beta_2=opt.beta_2,
                                     epsilon=opt.epsilon)
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=opt.momentum, nesterov=opt.nesterov)
