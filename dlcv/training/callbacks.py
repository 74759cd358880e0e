"""The callbacks a config asks for, from Keras where Keras has them (checkpoints, early stopping, NaN
stop, TensorBoard) plus dlcv's :class:`~dlcv.training.monitor.TrainingMonitor`.

    callbacks, artefacts = build_callbacks(config, run_dir)
    model.fit(..., callbacks=callbacks)
"""
from __future__ import annotations

from pathlib import Path

import keras

from ..config import ExperimentConfig
from .monitor import TrainingMonitor


def build_callbacks(config: ExperimentConfig, run_dir: Path) -> tuple[list[keras.callbacks.Callback],
                                                                        dict[str, Path]]:
    settings = config.callbacks
    callbacks: list[keras.callbacks.Callback] = []
    artefacts: dict[str, Path] = {}
    if settings.terminate_on_nan:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    if settings.monitor:
        artefacts["history"] = run_dir / "history.json"
        artefacts["plot"] = run_dir / "training.png"
        callbacks.append(TrainingMonitor(artefacts["plot"], json_path=artefacts["history"]))
    if settings.checkpoint != "none":
        folder = run_dir / "checkpoints"
        folder.mkdir(exist_ok=True)
        suffix = "." + settings.checkpoint_format
        if settings.checkpoint == "best":
            path = folder / f"best{suffix}"
        else:
            path = folder / ("weights-{epoch:03d}-{val_loss:.4f}" + suffix)
        artefacts["checkpoints"] = folder
        callbacks.append(keras.callbacks.ModelCheckpoint(str(path), monitor="val_loss", mode="min",
                                                         save_best_only=True, verbose=0))
    if settings.early_stopping_patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss",
                                                       patience=settings.early_stopping_patience,
                                                       restore_best_weights=True))
    if settings.tensorboard:
        artefacts["tensorboard"] = run_dir / "tensorboard"
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(artefacts["tensorboard"])))
    return callbacks, artefacts
