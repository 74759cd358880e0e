"""The optimizer a config describes: SGD (plain, momentum or Nesterov) with its learning-rate schedule.

    optimizer = build_optimizer(config, steps_per_epoch=len(train_batches))
"""
from __future__ import annotations

import keras

from ..config import ExperimentConfig
from .schedules import build_schedule


def build_optimizer(config: ExperimentConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    opt = config.optimizer
    learning_rate = build_schedule(config.schedule, opt.learning_rate, steps_per_epoch, config.epochs)
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=opt.momentum, nesterov=opt.nesterov)
