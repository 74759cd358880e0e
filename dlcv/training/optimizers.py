"""The optimizer a config describes, with its learning-rate schedule: SGD (plain, momentum or Nesterov,
the book's), Adam or AdamW; decoupled weight decay, gradient clipping and weight averaging on any.

    optimizer = build_optimizer(config, steps_per_epoch=len(train_batches))
"""
from __future__ import annotations

import keras

from ..config import OPTIMIZERS, AdamConfig, AdamWConfig, ExperimentConfig, SGDConfig
from .averaging import warm_up
from .schedules import build_schedule

NO_WEIGHT_DECAY = ["bias", "gamma", "beta"]
"""Variable names weight decay skips: biases and normalisation layers' scales and offsets (timm's rule)."""


def build_optimizer(config: ExperimentConfig, steps_per_epoch: int,
                    fine_tuning: bool = False) -> keras.optimizers.Optimizer:
    """The config's optimizer for its first phase, or (``fine_tuning``) for its ``fine_tune`` phase: the same
    optimizer and schedule shape, from ``fine_tune.learning_rate`` over ``fine_tune.epochs``."""
    opt = config.optimizer
    rate, epochs = ((config.fine_tune.learning_rate, config.fine_tune.epochs) if fine_tuning
                    else (opt.learning_rate, config.epochs))
    common = dict(learning_rate=build_schedule(config.schedule, rate, steps_per_epoch, epochs),
                  clipnorm=opt.clipnorm, use_ema=opt.ema > 0, ema_momentum=opt.ema or 0.99)
    optimizer = BUILDERS[opt.name](opt, common)
    if optimizer.weight_decay:
        optimizer.exclude_from_weight_decay(var_names=NO_WEIGHT_DECAY)
    return warm_up(optimizer) if opt.ema else optimizer


def _sgd(opt: SGDConfig, common: dict) -> keras.optimizers.Optimizer:
    return keras.optimizers.SGD(momentum=opt.momentum, nesterov=opt.nesterov, weight_decay=opt.weight_decay or None,
                                **common)


def _adam(opt: AdamConfig, common: dict) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(beta_1=opt.beta_1, beta_2=opt.beta_2, epsilon=opt.epsilon, **common)


def _adamw(opt: AdamWConfig, common: dict) -> keras.optimizers.Optimizer:
    return keras.optimizers.AdamW(weight_decay=opt.weight_decay, beta_1=opt.beta_1, beta_2=opt.beta_2,
                                  epsilon=opt.epsilon, **common)


BUILDERS = {"sgd": _sgd, "adam": _adam, "adamw": _adamw}
"""Each optimizer of the schema's registry (:data:`dlcv.config.OPTIMIZERS`), built with the options every
optimizer takes (``common``: the schedule, clipping, averaging)."""
if BUILDERS.keys() != OPTIMIZERS.keys():  # an optimizer added to the schema needs its builder here
    raise ImportError(f"optimizers without a builder: {sorted(OPTIMIZERS.keys() - BUILDERS.keys())}")
