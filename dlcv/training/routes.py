"""How a model is trained: the fast route (whole compiled epochs, data on the device) or Keras's fit.

``choose_route`` picks fast where it applies and otherwise says, in one line, why it fell back;
``fit_fast`` runs the epochs and calls the same Keras callbacks ``fit`` would, once per epoch, with the
model's variables in sync (checkpoints, the monitor, early stopping and resume all work unchanged).

    route, reason = choose_route(config, train_images.nbytes)
    history = fit_fast(model, splits, config, callbacks, initial_epoch=0)
"""
from __future__ import annotations

import math
import time

import keras
import numpy as np

from ..config import ExperimentConfig
from ..data import Splits
from .compiled import make_trainer

DEVICE_MEMORY_FRACTION = 0.5  # of free device memory the training set may take on the fast route


def choose_route(config: ExperimentConfig, train_bytes: int) -> tuple[str, str]:
    """("fast" | "fit", why) for this config and training-set size."""
    backend = keras.backend.backend()
    if config.distribution == "multi_worker":
        return "strategy", ("a strategy.run loop per epoch: Keras 3's fit fails under "
                            "MultiWorkerMirroredStrategy (keras-team/keras#20585)")
    if config.route == "fit":
        return "fit", "route: fit was asked for"
    reason = None
    if backend not in ("jax", "tensorflow"):
        reason = f"the fast route is built for the jax and tensorflow backends, not {backend}"
    elif config.distribution != "none":
        reason = f"distribution: {config.distribution} trains through the strategy's own step"
    elif config.callbacks.tensorboard:
        reason = "TensorBoard is a per-batch callback"
    elif config.precision == "mixed_float16":
        reason = "float16 needs loss scaling, which fit's LossScaleOptimizer does"
    else:
        budget = _device_memory_budget()
        if budget is not None and train_bytes > budget:
            reason = (f"the training set ({train_bytes / 2**20:.0f} MiB) does not fit the device budget "
                      f"({budget / 2**20:.0f} MiB)")
    if reason is None:
        return "fast", "whole epochs compiled, training data on the device"
    if config.route == "fast":
        from ..errors import ConfigError

        raise ConfigError(f"route: fast cannot be used here: {reason}; use route: auto or fit")
    return "fit", reason


def _device_memory_budget() -> int | None:
    """Bytes the training set may take on the first accelerator (None: unknown, assume it fits)."""
    try:
        if keras.backend.backend() == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            if "bytes_limit" in stats:
                return int((stats["bytes_limit"] - stats.get("bytes_in_use", 0)) * DEVICE_MEMORY_FRACTION)
        else:
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return None  # TensorFlow reports no GPU capacity; the book's datasets fit any current GPU
        import os

        pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")  # CPU: free RAM
        return int(pages * DEVICE_MEMORY_FRACTION)
    except (ValueError, OSError, RuntimeError, AttributeError):
        return None


def fit_fast(model: keras.Model, splits: Splits, config: ExperimentConfig, callbacks: list,
             initial_epoch: int = 0, verbose: bool = True, strategy=None,
             class_weight: np.ndarray | None = None) -> keras.callbacks.History:
    """Per-epoch training with a compiled trainer (or, given a tf.distribute ``strategy``, its run loop)."""
    trainer = make_trainer(model, splits.train.images, splits.train.labels, config.batch_size, config.seed,
                           jit_compile=config.jit_compile,
                           strategy=strategy, class_weight=class_weight)
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(callbacks + [history], model=model, epochs=config.epochs,
                                                 verbose=0, add_history=False, add_progbar=False)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, config.epochs):
        callback_list.on_epoch_begin(epoch)
        started = time.perf_counter()
        loss, accuracy = trainer.train_epoch(epoch)
        val_loss, val_accuracy = trainer.evaluate(splits.val.images, splits.val.labels)
        logs = {"accuracy": accuracy, "loss": loss, "val_accuracy": val_accuracy, "val_loss": val_loss}
        if verbose:
            print(f"Epoch {epoch + 1}/{config.epochs} - {time.perf_counter() - started:.2f}s - "
                  + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()), flush=True)
        if not math.isfinite(loss) and config.callbacks.terminate_on_nan:
            model.stop_training = True  # TerminateOnNaN's job, at epoch granularity on this route
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
    return history
