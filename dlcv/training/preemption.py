"""Stopping at SIGTERM without losing the epoch in progress (a spot or preemptible cloud instance gets
SIGTERM and about 30 seconds' notice).

While :func:`on_sigterm` is in force, the first SIGTERM only raises a flag (a second one, or SIGINT, acts
as before: the process ends, or KeyboardInterrupt). Each route looks at the flag after every step (or
compiled window): it then writes a checkpoint of that point — the weights, the optimizer's state, the
batches of the epoch already trained and the epoch's running metrics — and stops with :class:`Preempted`.
``--resume`` continues from that very batch: the rest of the epoch in the same order, the epoch's metrics
the whole epoch's (Keras's ``BackupAndRestore(save_freq=N)`` restarts the epoch from its first batch).

    with on_sigterm() as flag:
        route.fit(model, train, val, callbacks=[..., StopOnSignal(flag, resume_checkpoint)])
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import keras

from ..errors import Preempted


class SignalFlag:
    """Raised by the first SIGTERM."""

    def __init__(self) -> None:
        self.raised = False

    def __bool__(self) -> bool:
        return self.raised


@contextlib.contextmanager
def on_sigterm() -> Iterator[SignalFlag]:
    """The first SIGTERM raises the returned flag and restores the default action (a second SIGTERM ends the
    process at once); as before outside the main thread, where Python cannot catch signals."""
    flag = SignalFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame) -> None:  # nothing printed here: the run's one line comes when it has stopped
        flag.raised = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)


class EpochInterrupted(Exception):
    """A trainer stopped within an epoch: ``done`` of its batches are trained, ``state`` is its running
    metrics (what :meth:`restore` of the same trainer takes back)."""

    def __init__(self, done: int, state: Any) -> None:
        super().__init__(f"stopped after batch {done}")
        self.done, self.state = done, state


class StopOnSignal(keras.callbacks.Callback):
    """After each training batch of ``fit``, or when an epoch loop's trainer stops (:meth:`stop_within`):
    if the flag is raised, the resume checkpoint (:class:`~dlcv.training.callbacks.ResumeCheckpoint`) of that
    point, then :class:`Preempted`. Last among the callbacks: the others have seen every committed epoch.

    ``skipped``: batches of the current epoch trained before this process (a resumed epoch), set by the
    route while it trains that epoch's rest."""

    def __init__(self, flag: SignalFlag, checkpoint, batches_per_epoch: int) -> None:
        super().__init__()
        self.flag, self.checkpoint, self.batches_per_epoch = flag, checkpoint, batches_per_epoch
        self.epoch, self.skipped = 0, 0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if self.flag:
            self.stop_within(self.epoch, self.skipped + batch + 1, metric_state(self.model))

    def stop_within(self, epoch: int, done: int, state: Any) -> None:
        """Checkpoint epoch ``epoch`` after ``done`` of its batches, then stop."""
        path = self.checkpoint.save_within_epoch(epoch, done, state)
        raise Preempted(f"stopped by SIGTERM in epoch {epoch + 1} after {done} of its {self.batches_per_epoch} "
                        f"batches, saved to {path}; run the same command with --resume to continue from there")


class RestoreEpochMetrics(keras.callbacks.Callback):
    """Put a resumed epoch's running metrics back as it begins (after ``fit`` has reset them), so that its
    logs are the whole epoch's. ``build()``: builds the compiled metrics, which ``fit`` would build only at
    its first step."""

    def __init__(self, state: list | None, build) -> None:
        super().__init__()
        self.state, self.build = state, build

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if self.state is not None:
            self.build()
            restore_metrics(self.model, self.state)


class ResumedEpochProgress(keras.callbacks.ProgbarLogger):
    """Keras's progress for the rest of an epoch stopped part-way, counted as the run counts: the rest is a
    ``fit`` call of its own, whose bar would say "Epoch 2/2" of a 3-epoch run and "151/151" for the last
    151 of 152 batches. Here: "Epoch 2/3", and the batches from ``done + 1`` to 152."""

    def __init__(self, epochs: int, done: int) -> None:
        super().__init__()
        self.run_epochs, self.done = epochs, done

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        self.epochs = self.run_epochs
        if self.target is not None:
            self.target += self.done

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        super().on_train_batch_end(batch + self.done, logs)


def find_stop(callbacks) -> StopOnSignal | None:
    return next((c for c in callbacks if isinstance(c, StopOnSignal)), None)


def metric_state(model) -> list:
    """The values of the model's metric variables (Keras's loss tracker and compiled metrics: totals and
    counts), as JSON can hold them."""
    return [keras.ops.convert_to_numpy(v).tolist() for v in model.metrics_variables]


def restore_metrics(model, state: list) -> None:
    variables = model.metrics_variables
    if len(variables) != len(state):
        raise ValueError(f"a metric state of {len(state)} values for {len(variables)} metric variables")
    for variable, value in zip(variables, state):
        variable.assign(value)
