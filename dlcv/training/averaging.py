"""Weight averaging (``optimizer.ema``): the model is judged, kept and saved with an exponential moving
average of its weights, and BatchNormalization statistics computed for that average.

Keras's optimizers keep the average (``use_ema``), on every route and backend, inside the compiled
step; dlcv adds what they lack:

- **a warm-up.** Keras averages with a fixed momentum from the first step, so with ``ema: 0.9998`` a run
  of a few hundred steps ends with an "average" that is mostly its random initial weights. The
  momentum here is TensorFlow's ``ExponentialMovingAverage(num_updates=...)``'s,
  min(ema, (1 + step) / (10 + step)), so the average always covers the recent weights.
- **matching BatchNormalization statistics.** The optimizer averages trainable weights only; the moving
  mean and variance a BatchNormalization layer keeps belong to the raw weights. They are recomputed
  for the averaged weights from training images, as ``torch.optim.swa_utils.update_bn`` does (Keras
  has no such function).
- **the swap.** :func:`averaging_callbacks` puts the averaged weights into the model for validation,
  the callbacks that judge or keep an epoch (checkpoints, the monitor, early stopping), and the end
  of the run, and the raw weights back before training goes on and before the resume checkpoint
  (which keeps the raw weights and the average, in the optimizer's state).

    optimizer = keras.optimizers.SGD(0.05, use_ema=True, ema_momentum=0.999)
    warm_up(optimizer)
    first, last = averaging_callbacks(calibration_batches)   # first and last of the callback list
"""
from __future__ import annotations

import logging
import types
from collections.abc import Callable, Iterable, Iterator

import keras
import numpy as np
from keras import ops

from ..inputs import model_input
from ..models.layout import batch_norm_layers
from ..pipeline import eval_batch
from .keras_private import EMA_UPDATE, averaged_variables

log = logging.getLogger(__name__)

CALIBRATION_IMAGES = 1024
"""Training images whose BatchNormalization statistics are computed for the averaged weights."""


def warm_up(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """Give ``optimizer`` (built with ``use_ema=True``) the warmed-up momentum; returns it."""
    if not optimizer.use_ema:
        raise ValueError("warm_up needs an optimizer built with use_ema=True")
    setattr(optimizer, EMA_UPDATE, types.MethodType(_update_average, optimizer))
    return optimizer


def momentum_at(step, ema: float):
    """The averaging momentum after ``step`` updates: 0 at the first (the average starts as the weights),
    then min(ema, (1 + step) / (10 + step))."""
    step = ops.cast(step, "float32")
    warming = ops.minimum(ema, (1.0 + step) / (10.0 + step))
    return ops.where(ops.equal(step, 0.0), 0.0, warming)


def _update_average(self, trainable_variables) -> None:
    momentum = momentum_at(self.iterations, self.ema_momentum)
    for variable, average in zip(trainable_variables, averaged_variables(self)):
        if average is not None:
            m = ops.cast(momentum, variable.dtype)
            average.assign(m * average + (1.0 - m) * variable)


def calibration_batches(data, seed: int, images: int = CALIBRATION_IMAGES) -> Iterator:
    """Model-input batches of up to ``images`` training images (a seeded draw, unaugmented), to compute
    BatchNormalization statistics on. The batches are prediction-sized (:func:`~dlcv.pipeline.eval_batch`),
    larger than training's: the forward passes run eagerly, and larger batches give the population's
    statistics more closely."""
    rows = np.random.default_rng([seed, 1]).permutation(len(data.labels))[:images]
    batch_size = eval_batch(data.shape)
    for start in range(0, len(rows), batch_size):
        batch, _ = data.batch(np.sort(rows[start:start + batch_size]))
        if len(batch):
            yield model_input(batch)


def recalibrate_batch_norm(model: keras.Model, batches: Iterable) -> int:
    """Recompute the moving mean and variance of ``model``'s BatchNormalization layers as the plain
    average of their batch statistics over ``batches`` (model inputs), in training mode; returns the
    number of batches used (0: the model has no such layer, and nothing ran)."""
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    used = 0
    try:
        for layer in layers:
            layer.moving_mean.assign(np.zeros(layer.moving_mean.shape, "float32"))
            layer.moving_variance.assign(np.ones(layer.moving_variance.shape, "float32"))
        for used, x in enumerate(batches, start=1):
            for layer in layers:  # new = old * m + batch * (1 - m): m = (n - 1) / n keeps the running mean
                layer.momentum = (used - 1) / used
            model(x, training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return used


class _Averaging:
    """Which weights the model holds now, raw or averaged, and the raw ones while it holds the average."""

    def __init__(self, calibration: Callable[[], Iterable]) -> None:
        self.calibration = calibration
        self.raw: list[np.ndarray] | None = None

    def use_average(self, model: keras.Model) -> None:
        if self.raw is not None:
            return
        self.raw = [v.numpy() for v in _swapped(model)]
        optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # loss scaling
        optimizer.finalize_variable_values(model.trainable_variables)  # Keras's: the average into the model
        recalibrate_batch_norm(model, self.calibration())

    def use_raw(self, model: keras.Model) -> None:
        if self.raw is None:
            return
        for variable, value in zip(_swapped(model), self.raw):
            variable.assign(value)
        self.raw = None


def _swapped(model: keras.Model) -> list:
    """The variables the swap changes: the trainable ones and the BatchNormalization statistics."""
    statistics = [v for layer in batch_norm_layers(model) for v in (layer.moving_mean, layer.moving_variance)]
    return [*model.trainable_variables, *statistics]


class AveragedWeightsIn(keras.callbacks.Callback):
    """First among the callbacks: the averaged weights go in before validation (``on_test_begin``, which
    both ``fit`` and dlcv's epoch loops call), before the epoch's callbacks and at the end of training;
    the raw ones come back when training (re)starts."""

    def __init__(self, averaging: _Averaging) -> None:
        super().__init__()
        self.averaging = averaging

    def on_train_begin(self, logs=None) -> None:
        self.averaging.use_raw(self.model)

    def on_test_begin(self, logs=None) -> None:
        self.averaging.use_average(self.model)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.averaging.use_average(self.model)

    def on_train_end(self, logs=None) -> None:
        self.averaging.use_average(self.model)


class RawWeightsOut(keras.callbacks.Callback):
    """Just before the resume checkpoint: the raw weights back, to train on and to resume from."""

    def __init__(self, averaging: _Averaging) -> None:
        super().__init__()
        self.averaging = averaging

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.averaging.use_raw(self.model)


def averaging_callbacks(calibration: Callable[[], Iterable]) -> tuple[keras.callbacks.Callback, ...]:
    """(first, last) callbacks of a run with weight averaging; ``calibration()`` yields the model-input
    batches that BatchNormalization statistics are computed on."""
    averaging = _Averaging(calibration)
    return AveragedWeightsIn(averaging), RawWeightsOut(averaging)
