"""How a compiled model is trained and scored: the one place that decides the route.

A :class:`Route` trains the given epochs of the engine's :class:`~.plan.EpochPlan` (the data, each epoch's
order, class weights, the augmenter) with the given callbacks, and predicts; the engine calls it and knows
nothing of the choice. :func:`choose_route` picks one for a config, the training set's size and
the distribution in force, and says why in one line:

- ``fast`` (:class:`CompiledRoute`) — whole epochs compiled, training data held on the device
  (``compiled.py``); the standard callbacks run once per epoch with the model's variables in sync.
- ``fit`` (:class:`FitRoute`) — Keras's ``model.fit`` on the input pipeline.
- ``features`` (:class:`FeatureRoute`) — a frozen backbone run once, its features cached, the head
  trained on them (``feature_cache.py``).
- ``strategy`` — a distribution's own loop (``distribution.py``), for TensorFlow's multi-worker
  strategy, under which Keras 3's ``fit`` fails.

    route = choose_route(config, splits.train, distribution)
    print(route)                      # route: fast (whole epochs compiled, training data on the device)
    history = route.fit(model, EpochPlan(splits.train, splits.val, 32, seed=42), callbacks, initial_epoch=0)
    probabilities, labels = route.predict(model, splits.test)

Keras is imported inside the methods, so the rules (:func:`compiled_route_obstacle`) can be checked
when a config is loaded, before Keras starts.
"""
from __future__ import annotations

import abc
import logging
import math
import os
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..capabilities import compiled_route_obstacle, feature_cache_obstacle, streaming_obstacle
from ..config import ExperimentConfig
from ..data import ImageSet, StreamedSet
from ..errors import ConfigError
from ..runtime import has_accelerator
from .plan import EpochPlan
from .windows import Windows

log = logging.getLogger(__name__)

DataSet = ImageSet | StreamedSet
"""Held in memory, or read from disk batch by batch."""

DEVICE_MEMORY_FRACTION = 0.5  # of free device memory the training set may take on the fast route


class Route(abc.ABC):
    """Trains a compiled model for ``epochs`` epochs of a plan and predicts with it."""

    name: str = ""

    def __init__(self, reason: str, epochs: int, batch_size: int) -> None:
        self.reason, self.epochs, self.batch_size = reason, epochs, batch_size
        """``batch_size``: the prediction batch (training batches are the plan's)."""

    def __str__(self) -> str:
        return f"route: {self.name} ({self.reason})"

    @abc.abstractmethod
    def fit(self, model, plan: EpochPlan, callbacks: list, initial_epoch: int = 0, verbose: int | str = "auto",
            within: tuple[int, object] | None = None):
        """Train epochs ``initial_epoch`` .. ``epochs - 1`` of ``plan``; returns the ``keras.callbacks.History``.
        ``within``: (batches, metric state) of epoch ``initial_epoch`` trained before (a run stopped within
        it): the rest of it only. A :class:`~dlcv.training.preemption.StopOnSignal` among the callbacks
        stops it at SIGTERM."""

    @abc.abstractmethod
    def predict(self, model, data: DataSet) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities (float32) for every readable image of ``data``, and their labels."""


class FitRoute(Route):
    """Keras's ``fit`` and ``predict`` on the input pipeline (tf.data, or a PyDataset off TensorFlow).

    ``multiple_of``: every batch is cut to a multiple of this (the device count under JAX data
    parallelism, which splits each batch evenly)."""

    name = "fit"

    def __init__(self, reason: str, epochs: int, batch_size: int, multiple_of: int = 1) -> None:
        super().__init__(reason, epochs, batch_size)
        self.multiple_of = multiple_of

    def fit(self, model, plan, callbacks, initial_epoch=0, verbose="auto", within=None):
        from ..pipeline import build_pipeline, training_pipeline
        from .preemption import RestoreEpochMetrics, ResumedEpochProgress, find_stop

        fit = _Fit(model, plan, build_pipeline(plan.val, plan.batch_size, self.multiple_of), verbose,
                   plan.steps(self.multiple_of))
        history, stop = None, find_stop(callbacks)
        if within is not None and initial_epoch < self.epochs:  # the rest of an epoch stopped part-way
            done, state = within
            rest = training_pipeline(plan, (initial_epoch, initial_epoch + 1), skip=done, multiple_of=self.multiple_of)
            if stop is not None:
                stop.skipped = done
            from .compiled import build_training_state

            restore = RestoreEpochMetrics(state, lambda: build_training_state(model, *plan.train.batch(np.arange(1))))
            progress = ResumedEpochProgress(self.epochs, done)
            history = fit(rest, [restore, *callbacks, progress], initial_epoch, initial_epoch + 1, skipped=done)
            if stop is not None:
                stop.skipped = 0
            initial_epoch += 1
            if model.stop_training:
                return history
        train_data = training_pipeline(plan, (initial_epoch, max(self.epochs, initial_epoch)),
                                       multiple_of=self.multiple_of)
        return _joined(history, fit(train_data, callbacks, initial_epoch, self.epochs))

    def predict(self, model, data):
        from ..pipeline import build_pipeline, predict_dataset

        if isinstance(data, StreamedSet):  # the labels are those of the images that could be read
            return predict_dataset(model, data)
        pipeline = build_pipeline(data, self.batch_size, multiple_of=self.multiple_of, labelled=False)
        probabilities = np.asarray(model.predict(pipeline, verbose=0), np.float32)
        return probabilities, data.labels[:len(probabilities)]


@dataclass(frozen=True)
class _Fit:
    """One ``model.fit`` call of a plan's epochs: the batches of every epoch in one stream, each epoch in the
    plan's order, taken ``steps`` at a time (a PyDataset knows its own length)."""

    model: object
    plan: EpochPlan
    val_data: object
    verbose: int | str
    steps: int

    def __call__(self, train_data, callbacks: list, initial_epoch: int, epochs: int, skipped: int = 0):
        import keras

        from ..progress import keras_verbose

        weights = self.plan.class_weight
        return self.model.fit(
            train_data, validation_data=self.val_data, epochs=epochs, initial_epoch=initial_epoch,
            steps_per_epoch=self.steps - skipped if keras.backend.backend() == "tensorflow" else None,
            callbacks=callbacks, verbose=keras_verbose(self.verbose), shuffle=False,  # the plan orders
            class_weight=None if weights is None else dict(enumerate(weights.tolist())))


def _joined(first, second):
    """Two fit calls' histories as one (the rest of a resumed epoch, then the epochs after it)."""
    if first is None:
        return second
    for key, values in second.history.items():
        first.history.setdefault(key, []).extend(values)
    first.epoch.extend(second.epoch)
    return first


class EpochLoopRoute(Route):
    """A route that runs its own epochs: a trainer per run, Keras's callbacks once per epoch."""

    @abc.abstractmethod
    def build_trainer(self, model, plan: EpochPlan):
        """An object with ``train_epoch(epoch) -> logs``, ``evaluate() -> val logs``, ``predict(images)``."""

    def fit(self, model, plan, callbacks, initial_epoch=0, verbose="auto", within=None):
        self.trainer = self.build_trainer(model, plan)
        return run_epochs(self.trainer, model, callbacks, self.epochs, initial_epoch, verbose=verbose != 0,
                          within=within)

    def predict(self, model, data):
        trainer = getattr(self, "trainer", None)
        if trainer is None or isinstance(data, StreamedSet):
            from ..pipeline import predict_dataset

            return predict_dataset(model, data)
        return trainer.predict(data.images), data.labels


class CompiledRoute(EpochLoopRoute):
    """Epochs in compiled windows of batches (:mod:`.compiled`): the training set on the device
    (``resident``), or windows of it moved there from the host, from memory or from disk."""

    name = "fast"

    def __init__(self, reason: str, epochs: int, batch_size: int, windows: Windows) -> None:
        super().__init__(reason, epochs, batch_size)
        self.windows = windows

    def build_trainer(self, model, plan):
        from .compiled import build_trainer

        return build_trainer(model, plan, self.windows)


class FeatureRoute(EpochLoopRoute):
    """A frozen backbone once over the images, then the head every epoch on its features
    (:mod:`.feature_cache`)."""

    name = "features"

    def build_trainer(self, model, plan):
        from .feature_cache import FeatureTrainer

        if plan.augmenter is not None:
            raise ValueError("the feature cache needs unaugmented images")
        return FeatureTrainer(model, plan)

    def predict(self, model, data):
        from ..pipeline import predict_dataset

        return predict_dataset(model, data)


def run_epochs(trainer, model, callbacks: list, epochs: int, initial_epoch: int = 0, verbose: bool = True,
               within: tuple[int, object] | None = None):
    """The epoch loop of :class:`EpochLoopRoute`: train, validate, and call the callbacks as ``fit`` does
    at each epoch's end (checkpoints, the monitor, early stopping and resume work unchanged). A
    ``TerminateOnNaN`` among the callbacks stops the run at the first epoch whose loss is not finite.
    In a terminal a progress bar advances window by window; elsewhere each epoch is one plain line.
    ``within``: (batches, the trainer's metric state) of epoch ``initial_epoch`` already trained; a
    :class:`~dlcv.training.preemption.StopOnSignal` among the callbacks stops it at SIGTERM, after the
    trainer's step or window in progress."""
    import keras

    from .preemption import EpochInterrupted, find_stop

    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(callbacks + [history], model=model, epochs=epochs, verbose=0,
                                                 add_history=False, add_progbar=False)
    stop_on_nan = any(isinstance(c, keras.callbacks.TerminateOnNaN) for c in callbacks)
    stop = find_stop(callbacks)
    bar = verbose and getattr(trainer, "progress", False)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        if bar:
            log.info(f"Epoch {epoch + 1}/{epochs}")
        started = time.perf_counter()
        skip, state = within if within is not None and epoch == initial_epoch else (0, None)
        try:
            logs: dict[str, Any] = trainer.train_epoch(epoch, skip=skip, state=state, stop=stop.flag if stop else None)
        except EpochInterrupted as interrupted:
            stop.stop_within(epoch, interrupted.done, interrupted.state)
        callback_list.on_test_begin()  # as fit's validation calls it (weight averaging swaps in here)
        val_logs = trainer.evaluate()
        callback_list.on_test_end(val_logs)
        logs.update(val_logs)
        if bar:
            trainer.finish_progress(logs)
        elif verbose:
            log.info(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - started:.2f}s - "
                  + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if stop_on_nan and not math.isfinite(logs["loss"]):
            model.stop_training = True  # TerminateOnNaN's job, at epoch granularity on this route
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
    return history


def choose_route(config: ExperimentConfig, train: DataSet, distribution, model=None,
                 epochs: int | None = None) -> Route:
    """The route for this config, training set (in memory or streamed), distribution and model, training
    up to epoch ``epochs`` (default: the config's ``epochs``; a fine-tune phase's end for that phase)."""
    import keras

    common = dict(epochs=epochs or config.epochs, batch_size=config.batch_size)
    streamed = isinstance(train, StreamedSet)
    cache = cached_features_obstacle(config, model)
    if cache is None:
        return FeatureRoute("the backbone is frozen and nothing augments the images: its features computed "
                            "once, the head trained on them", **common)
    if distribution.loop is not None:
        if streamed and streaming_obstacle(distribution.kind):
            raise ConfigError(f"{streaming_obstacle(distribution.kind)}; set dataset.streaming: false")
        return distribution.loop(distribution.loop_reason, strategy=distribution.strategy, **common)
    if config.route == "fit":
        return FitRoute("route: fit was asked for", multiple_of=distribution.batch_multiple, **common)
    backend = keras.backend.backend()
    reason = compiled_route_obstacle(config, backend)  # route: fast with a reason was refused by the checks
    if reason is not None:
        return FitRoute(reason, multiple_of=distribution.batch_multiple, **common)
    budget = _device_memory_budget()
    window = None if config.window == "auto" else config.window
    loop = compiled_loop(model, backend)
    if loop == "step" and config.route == "auto":
        return FitRoute("Keras's fit: on a CPU, JAX trains a convolutional network no faster in compiled windows "
                        "(BENCHMARKS.md, routes)", multiple_of=distribution.batch_multiple, **common)
    # Fed windows: a quarter of the device budget each (two in flight), at most WINDOW_BYTES, so the host
    # side of streaming stays small whatever the dataset (M1) and a transfer hides behind a window's work.
    from .compiled import CPU_WINDOW_BYTES, WINDOW_BYTES

    largest = WINDOW_BYTES if has_accelerator() else CPU_WINDOW_BYTES
    # The run's batches up to its last epoch: the same number when it resumes, so a resumed run makes the
    # same XLA choice and trains to the same weights.
    steps = -(-len(train.labels) // config.batch_size) * common["epochs"]
    windows = Windows(jit_compile=config.jit_compile, steps=steps, window=window, loop=loop,
                      window_bytes=min((budget or 2**30) // 2, 2 * largest))
    how = "" if loop == "scan" else ", one jitted step at a time (XLA:CPU convolutions)"
    if streamed:
        return CompiledRoute(f"compiled windows fed from the host: the training set is streamed from disk{how}",
                             windows=replace(windows, resident=False), **common)
    if budget is not None and train.nbytes > budget:
        return CompiledRoute(f"compiled windows fed from the host: the training set ({train.nbytes / 2**20:.0f} "
                             f"MiB) does not fit the device budget ({budget / 2**20:.0f} MiB){how}",
                             windows=replace(windows, resident=False), **common)
    return CompiledRoute(f"whole epochs compiled, training data on the device{how}", windows=windows, **common)


def cached_features_obstacle(config: ExperimentConfig, model) -> str | None:
    """Why the head cannot train on cached backbone features (None: it can, and ``feature_cache`` allows it):
    the config's rule (:func:`~dlcv.capabilities.feature_cache_obstacle`, which the checks apply too),
    then the model's."""
    if config.feature_cache is False:
        return "feature_cache: false"
    reason = feature_cache_obstacle(config)
    if reason is not None or model is None:
        return reason or "no model"
    from .feature_cache import head_is_separable

    return None if head_is_separable(model) else "the model has no frozen backbone"


def compiled_loop(model, backend: str) -> str:
    """JAX on a CPU runs a convolutional network one jitted step at a time: XLA:CPU's convolutions are
    several times slower inside a ``lax.scan`` (BENCHMARKS.md); everywhere else a window is one scan."""
    if backend != "jax" or model is None:
        return "scan"
    from .compiled import has_convolutions

    return "step" if not has_accelerator() and has_convolutions(model) else "scan"


def _device_memory_budget() -> int | None:
    """Bytes the training set may take on the first accelerator (None: unknown, assume it fits)."""
    import keras

    try:
        if keras.backend.backend() == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            if "bytes_limit" in stats:
                return int((stats["bytes_limit"] - stats.get("bytes_in_use", 0)) * DEVICE_MEMORY_FRACTION)
        elif has_accelerator():
            return None  # TensorFlow reports no GPU capacity; the book's datasets fit any current GPU
        pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")  # CPU: free RAM
        return int(pages * DEVICE_MEMORY_FRACTION)
    except (ValueError, OSError, RuntimeError, AttributeError):
        return None
