"""The callbacks a config asks for. Keras's own where Keras has them (early stopping, NaN stop,
TensorBoard, the checkpoint logic), plus :class:`TrainingMonitor`, :class:`ResumeCheckpoint`,
:class:`BestEpoch` and the weight-averaging swap (:mod:`.averaging`).

    callbacks = build_callbacks(config, RunFolder("output/run"), resume=None)
    model.fit(..., callbacks=callbacks)

Order matters for resuming: the monitor writes an epoch's history *before* the resume checkpoint commits
that epoch, so a kill between the two leaves history one epoch ahead (truncated on resume), never behind.
A user's own callbacks go just before the resume checkpoint, so they too see every epoch it commits.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import keras

from .. import files
from ..config import ExperimentConfig
from ..runs import RESUME_RECORD, ResumePoint, RunFolder
from .averaging import averaging_callbacks
from .keras_private import checkpoint_path, checkpoint_wanted
from .monitor import TrainingMonitor


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras's ModelCheckpoint, but each file is written to a temporary name and renamed into place.

    Keras saves straight to the final path, so a kill mid-save leaves a truncated checkpoint that looks
    complete. The decision of *whether* to save stays Keras's (it tracks the best value); only the write
    changes. Its hook and that decision are private Keras methods, reached through
    :mod:`dlcv.training.keras_private`.

        AtomicModelCheckpoint("ckpt/weights-{epoch:03d}-{val_loss:.4f}.keras", save_best_only=True)

    ``saved``: (epoch, file) of the last whole model it saved in the native format, which the resume
    checkpoint links to instead of saving the same model twice.
    """

    saved: tuple[int, Path] | None = None

    def _save_model(self, epoch, batch, logs):  # keras_private.SAVE_HOOK
        filepath = checkpoint_path(self, epoch, batch, logs)
        if not checkpoint_wanted(self, epoch, batch, logs, filepath):
            return
        with files.atomic_path(filepath) as tmp:
            if self.save_weights_only:
                self.model.save_weights(tmp, overwrite=True)
            else:
                self.model.save(tmp, overwrite=True)
        if not self.save_weights_only and filepath.endswith(".keras"):
            self.saved = (epoch, Path(filepath))


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's learning rate at the end of each epoch to the epoch's logs (``learning_rate``,
    as Keras's TensorBoard callback names it), so the history, the plot and TensorBoard all have it.

    First among the callbacks: the others then see the rate in the logs they receive."""

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if logs is None:
            return
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)  # loss scaling
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class ResumeCheckpoint(keras.callbacks.Callback):
    """Save the whole model (weights and optimizer state) after every epoch, for ``dlcv train --resume``.

    A two-step commit keeps the pair consistent under SIGKILL: the model goes to
    ``last-epoch<N>.keras`` (atomically), then ``last.json`` is atomically replaced to point at it, then
    older models are removed. Whatever the moment of a kill, ``last.json`` names a complete model and
    the epoch it finished. A non-finite loss is never committed. Each commit records the run's seconds so
    far (``seconds_before``: what earlier processes of a resumed run spent), so that results.json counts
    the whole run's time. ``same_model``: a checkpoint that saves the same model earlier in the same epoch
    (nothing between them changes the weights); an epoch it saved is linked to its file, not saved again
    (the model's serialisation is most of a short epoch's checkpoint time).

        ResumeCheckpoint("output/run/checkpoints")     # then: RunFolder(...).resume_point() on restart
    """

    def __init__(self, folder: str | Path, best_val_loss: float | None = None, seconds_before: float = 0.0,
                 same_model: AtomicModelCheckpoint | None = None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.best_val_loss = best_val_loss
        self.seconds_before, self.started = seconds_before, time.perf_counter()
        self.same_model = same_model

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if not all(math.isfinite(float(v)) for k, v in logs.items() if "loss" in k):
            return
        val_loss = logs.get("val_loss")
        if val_loss is not None and (self.best_val_loss is None or val_loss < self.best_val_loss):
            self.best_val_loss = float(val_loss)
        model_path = self.folder / f"last-epoch{epoch + 1:04d}.keras"
        saved = self.same_model.saved if self.same_model is not None else None
        if saved is None or saved[0] != epoch or not files.link_complete(saved[1], model_path):
            with files.atomic_path(model_path) as tmp:
                self.model.save(tmp)
        self._commit(model_path, {"epoch": epoch + 1})

    def save_within_epoch(self, epoch: int, done: int, metrics) -> Path:
        """The model after ``done`` batches of epoch ``epoch`` (0-based), with the epoch's running
        ``metrics``, committed as the point to resume from; returns the model's path."""
        model_path = self.folder / f"last-epoch{epoch:04d}-batch{done:06d}.keras"
        with files.atomic_path(model_path) as tmp:
            self.model.save(tmp)
        self._commit(model_path, {"epoch": epoch, "batch": done, "metrics": metrics})
        return model_path

    def _commit(self, model_path: Path, point: dict) -> None:
        files.write_json(self.folder / RESUME_RECORD, {
            **point, "model": model_path.name, "best_val_loss": self.best_val_loss, "seeds": seed_states(self.model),
            "seconds": round(self.seconds_before + time.perf_counter() - self.started, 2)})
        for old in self.folder.glob("last-epoch*.keras"):
            if old != model_path:
                old.unlink(missing_ok=True)


def seed_variables(model) -> list:
    """The state variables of the model's random generators (dropout's ``SeedGenerator``)."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def seed_states(model) -> list:
    """Their values: a resumed run draws the same dropout masks as an uninterrupted one (Keras's model
    files do not keep them)."""
    return [keras.ops.convert_to_numpy(v).tolist() for v in seed_variables(model)]


class BestEpoch(keras.callbacks.Callback):
    """Keep the weights of the epoch with the lowest validation loss in ``path`` (written atomically at each
    improvement, so a resumed run still knows them) and put them back with :meth:`restore` (``restore_best``).

        best = BestEpoch("output/run/checkpoints/best-epoch.weights.h5")   # among the callbacks
        best.restore()                                                     # after the last epoch
    """

    def __init__(self, path: str | Path, best_val_loss: float | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.best_val_loss = best_val_loss if self.path.is_file() else None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        val_loss = (logs or {}).get("val_loss")
        if val_loss is None or not math.isfinite(val_loss):
            return
        if self.best_val_loss is None or val_loss < self.best_val_loss:
            self.best_val_loss = float(val_loss)
            with files.atomic_path(self.path) as tmp:
                self.model.save_weights(tmp)

    def restore(self) -> float | None:
        """Load the best epoch's weights into the model; its validation loss (None: no epoch had one)."""
        if self.best_val_loss is None:
            return None
        self.model.load_weights(self.path)
        return self.best_val_loss


class MetricsToMlflow(keras.callbacks.Callback):
    """Log each committed epoch's metrics to the run's MLflow run (:class:`dlcv.tracking.MlflowRun`).

    After the resume checkpoint: an epoch is logged only once it is committed, and a resumed run logs the
    committed epochs MLflow missed (killed in between), so each epoch is in MLflow once. An epoch with a
    non-finite loss is never committed, nor logged.

        callbacks = build_callbacks(config, run, after_commit=[MetricsToMlflow(tracker)])
    """

    def __init__(self, tracker) -> None:
        super().__init__()
        self.tracker = tracker

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if math.isfinite(logs.get("loss", 0.0)):
            self.tracker.log_epoch(epoch, logs)


def build_callbacks(config: ExperimentConfig, run: RunFolder, resume: ResumePoint | None = None,
                    extra: Sequence[keras.callbacks.Callback] = (),
                    calibration: Callable[[], Iterable] | None = None,
                    after_commit: Sequence[keras.callbacks.Callback] = ()) -> list[keras.callbacks.Callback]:
    """The config's callbacks writing into ``run``, then ``extra`` (the caller's own), then the resume
    checkpoint (it commits an epoch only after every callback before it saw it), then ``after_commit``
    (those that must see only committed epochs: the MLflow logger). With weight averaging
    (``optimizer.ema``) the averaged weights are swapped in first and the raw ones back just before the
    resume checkpoint; ``calibration()`` yields the batches BatchNormalization statistics are computed on."""
    settings = config.callbacks
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    averaging = averaging_callbacks(calibration or (lambda: ())) if config.optimizer.ema else ()
    callbacks: list[keras.callbacks.Callback] = [*averaging[:1], LearningRateLogger()]
    if settings.terminate_on_nan:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    if settings.monitor:
        callbacks.append(TrainingMonitor(run.training_plot_file, json_path=run.history_file,
                                         start_at=resume.epoch if resume else 0,
                                         phase_starts=[config.epochs] if config.fine_tune else []))
    best_model = None
    if settings.checkpoint != "none":
        suffix = "." + settings.checkpoint_format
        name = f"best{suffix}" if settings.checkpoint == "best" else "weights-{epoch:03d}-{val_loss:.4f}" + suffix
        target = Path(settings.checkpoint_dir) if settings.checkpoint_dir else run.checkpoints
        target.mkdir(parents=True, exist_ok=True)
        best_model = AtomicModelCheckpoint(
            str(target / name), monitor="val_loss", mode="min", save_best_only=True, verbose=0,
            # on resume, only an improvement on the best before the interruption counts
            initial_value_threshold=resume.best_val_loss if resume else None)
        callbacks.append(best_model)
    if config.restore_best:
        callbacks.append(BestEpoch(run.best_epoch_file, resume.best_val_loss if resume else None))
    if settings.early_stopping_patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss",
                                                       patience=settings.early_stopping_patience,
                                                       restore_best_weights=True))
    if settings.tensorboard:
        # At epoch granularity on every route; no graph (the compiled route has no train_function to draw).
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run.tensorboard), write_graph=False))
    callbacks.extend(extra)
    callbacks.extend(averaging[1:])
    # The same weights reach both checkpoints unless the caller's callbacks or the averaging swap run between
    same_model = best_model if not extra and not averaging else None
    callbacks.append(ResumeCheckpoint(run.checkpoints, resume.best_val_loss if resume else None,
                                      resume.seconds if resume else 0.0, same_model))
    callbacks.extend(after_commit)
    return callbacks
