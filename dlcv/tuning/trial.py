"""One trial of a search: an ordinary training run of the config with the trial's values, in
``<search folder>/trials/<number>/``, judged on the validation split alone and reporting its metric to
Optuna after every epoch, so that the pruner can stop it early.

    config = trial_config("configs/tune_digits.yaml", [], {"optimizer.learning_rate": 0.01}, search_dir, trial.number)
    value = run_trial(trial, config, metric="val_accuracy")   # or optuna.TrialPruned
"""
from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from .. import files
from ..config import ExperimentConfig, load_config
from ..errors import Preempted, Stopped

log = logging.getLogger(__name__)

TRIALS_FOLDER = "trials"


class ReportToStudy(keras.callbacks.Callback):
    """Report ``metric`` to the Optuna trial after every epoch (step = the epoch, from 1), and stop training
    at the end of an epoch the pruner judges hopeless. (optuna-integration's Keras callback raises inside
    ``fit``, which would leave a dlcv run half-written; stopping lets the run end in order.)"""

    def __init__(self, trial: Any, metric: str) -> None:
        super().__init__()
        self.trial, self.metric = trial, metric
        self.values: list[float] = []
        self.val_losses: list[float] = []
        self.pruned_after: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.metric not in logs:
            raise KeyError(f"{self.metric} is not among this epoch's logs {sorted(logs)}: a search needs a "
                           "validation split")
        value = float(logs[self.metric])
        self.values.append(value)
        self.val_losses.append(float(logs.get("val_loss", math.nan)))
        self.trial.report(value, epoch + 1)
        if self.trial.should_prune():
            self.pruned_after = epoch + 1
            self.model.stop_training = True

    def final_value(self, restore_best: bool) -> float:
        """The metric of the model the run ends with: the last epoch's, or with ``restore_best`` the epoch
        with the lowest validation loss."""
        if restore_best and self.val_losses:
            best = min(range(len(self.val_losses)), key=lambda i: self.val_losses[i])
            return self.values[best]
        return self.values[-1]


def trial_config(config_path: str | None, overrides: Sequence[str], values: dict[str, Any], search_dir: Path,
                 number: int, parent_run_id: str | None = None) -> ExperimentConfig:
    """The base config with the trial's values, running in ``<search_dir>/trials/<number>/`` (its MLflow
    run, where tracking is on, nested under ``parent_run_id``)."""
    placement = {"output_dir": str(search_dir / TRIALS_FOLDER), "name": str(number), "search": None}
    if parent_run_id is not None:
        placement["tracking.mlflow.parent_run_id"] = parent_run_id
    return load_config(config_path, list(overrides), {**values, **placement})


def run_trial(trial: Any, config: ExperimentConfig, metric: str, verbose: int | str = "auto") -> float:
    """Train ``config`` as the trial, without the test split; its metric, or :class:`optuna.TrialPruned`.
    A run that stops for a reason of its own (a NaN loss) fails the trial with that reason."""
    import optuna

    from ..training.engine import train

    reporter = ReportToStudy(trial, metric)
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # which machine and process ran it
    started = time.perf_counter()
    try:
        train(config, callbacks=[reporter], verbose=verbose, with_test=False)
    except Stopped as exc:
        trial.set_user_attr("failure", str(exc))
        raise
    except Preempted:  # Optuna fails the trial and stops the search; the same command continues the study
        trial.set_user_attr("failure", "stopped by SIGTERM")
        raise
    finally:
        trial.set_user_attr("epochs", len(reporter.values))
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 1))
        keras.backend.clear_session()  # the next trial builds its model afresh, without this one's graph
    if reporter.pruned_after is not None:
        _keep_small(config.run_dir)
        _mark_pruned(config.run_dir, reporter.pruned_after)
        raise optuna.TrialPruned(f"pruned after epoch {reporter.pruned_after}")
    return reporter.final_value(config.restore_best)


def _mark_pruned(run_dir: Path, epoch: int) -> None:
    """results.json says the pruner stopped the trial (``dlcv runs``: "pruned after epoch N", not finished)."""
    from ..runs import RunFolder

    run = RunFolder(run_dir)
    files.write_json(run.results_file, {**(run.results() or {}), "pruned_after": epoch})


def _keep_small(run_dir: Path) -> None:
    """A pruned trial keeps its config, history and plot, not its models and checkpoints."""
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    for pattern in ("model.*", "*.weights.h5"):
        for path in run_dir.glob(pattern):
            path.unlink(missing_ok=True)
