"""The callbacks a config asks for. Keras's own where Keras has them (early stopping, NaN stop,
TensorBoard, the checkpoint logic), plus :class:`TrainingMonitor` and :class:`ResumeCheckpoint`.

    callbacks, artefacts = build_callbacks(config, run_dir, resume=None)
    model.fit(..., callbacks=callbacks)

Order matters for resuming: the monitor writes an epoch's history *before* the resume checkpoint commits
that epoch, so a kill between the two leaves history one epoch ahead (truncated on resume), never behind.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import keras

from .. import files
from ..config import ExperimentConfig
from ..errors import ConfigError
from .monitor import TrainingMonitor

RESUME_RECORD = "last.json"


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras's ModelCheckpoint, but each file is written to a temporary name and renamed into place.

    Keras saves straight to the final path, so a kill mid-save leaves a truncated checkpoint that looks
    complete. The decision of *whether* to save stays Keras's (``_should_save_model`` tracks the best
    value); only the write changes.

        AtomicModelCheckpoint("ckpt/weights-{epoch:03d}-{val_loss:.4f}.keras", save_best_only=True)
    """

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, batch, logs, filepath):
            return
        with files.atomic_path(filepath) as tmp:
            if self.save_weights_only:
                self.model.save_weights(tmp, overwrite=True)
            else:
                self.model.save(tmp, overwrite=True)


@dataclass(frozen=True)
class ResumePoint:
    """Where an interrupted run stopped: the next epoch to train and the model that reached it."""

    epoch: int
    model_path: Path
    best_val_loss: float | None


class ResumeCheckpoint(keras.callbacks.Callback):
    """Save the whole model (weights and optimizer state) after every epoch, for ``dlcv train --resume``.

    A two-step commit keeps the pair consistent under SIGKILL: the model goes to
    ``last-epoch<N>.keras`` (atomically), then ``last.json`` is atomically replaced to point at it, then
    older models are removed. Whatever the moment of a kill, ``last.json`` names a complete model and
    the epoch it finished. A non-finite loss is never committed.

        ResumeCheckpoint("output/run/checkpoints")     # then: read_resume_point(...) on restart
    """

    def __init__(self, folder: str | Path, best_val_loss: float | None = None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.best_val_loss = best_val_loss

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if not all(math.isfinite(float(v)) for k, v in logs.items() if "loss" in k):
            return
        val_loss = logs.get("val_loss")
        if val_loss is not None and (self.best_val_loss is None or val_loss < self.best_val_loss):
            self.best_val_loss = float(val_loss)
        model_path = self.folder / f"last-epoch{epoch + 1:04d}.keras"
        with files.atomic_path(model_path) as tmp:
            self.model.save(tmp)
        files.write_json(self.folder / RESUME_RECORD, {"epoch": epoch + 1, "model": model_path.name,
                                                       "best_val_loss": self.best_val_loss})
        for old in self.folder.glob("last-epoch*.keras"):
            if old != model_path:
                old.unlink(missing_ok=True)


def read_resume_point(run_dir: Path) -> ResumePoint | None:
    record_path = run_dir / "checkpoints" / RESUME_RECORD
    if not record_path.is_file():
        return None
    record = files.read_json(record_path)
    return ResumePoint(record["epoch"], record_path.parent / record["model"], record.get("best_val_loss"))


def build_callbacks(config: ExperimentConfig, run_dir: Path, resume: ResumePoint | None = None,
                    ) -> tuple[list[keras.callbacks.Callback], dict[str, Path]]:
    settings = config.callbacks
    start_epoch = resume.epoch if resume else 0
    folder = run_dir / "checkpoints"
    folder.mkdir(exist_ok=True)
    callbacks: list[keras.callbacks.Callback] = []
    artefacts: dict[str, Path] = {"checkpoints": folder}
    if settings.terminate_on_nan:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    if settings.monitor:
        artefacts["history"] = run_dir / "history.json"
        artefacts["plot"] = run_dir / "training.png"
        callbacks.append(TrainingMonitor(artefacts["plot"], json_path=artefacts["history"], start_at=start_epoch))
    if settings.checkpoint != "none":
        suffix = "." + settings.checkpoint_format
        name = f"best{suffix}" if settings.checkpoint == "best" else "weights-{epoch:03d}-{val_loss:.4f}" + suffix
        target = Path(settings.checkpoint_dir) if settings.checkpoint_dir else folder
        target.mkdir(parents=True, exist_ok=True)
        artefacts["model_checkpoints"] = target
        callbacks.append(AtomicModelCheckpoint(
            str(target / name), monitor="val_loss", mode="min", save_best_only=True, verbose=0,
            # on resume, only an improvement on the best before the interruption counts
            initial_value_threshold=resume.best_val_loss if resume else None))
    if settings.early_stopping_patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss",
                                                       patience=settings.early_stopping_patience,
                                                       restore_best_weights=True))
    if settings.tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise ConfigError("callbacks.tensorboard: needs the tensorboard package (pip install tensorboard); "
                              "expected it installed, or tensorboard: false")
        artefacts["tensorboard"] = run_dir / "tensorboard"
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(artefacts["tensorboard"])))
    callbacks.append(ResumeCheckpoint(folder, resume.best_val_loss if resume else None))  # last: commits an epoch only after the others saw it
    return callbacks, artefacts
