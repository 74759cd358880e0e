"""A run folder: everything ``dlcv train`` writes for one run, and what predict, evaluate, export and
``--resume`` read back.

A run folder is self-contained. Its metadata — the config as trained (preprocessing resolved to the
size the model takes), the class names, the resume record — is read through the config *schema* only,
so nothing in it requires the training data to still exist: copy ``output/<name>/`` to another machine
and ``dlcv predict --model output/<name>/model.h5`` works there.

    run = RunFolder("output/quickstart")
    run.saved_config().preprocessing, run.class_names(), run.resume_point()
    with run.lock():                      # one writer per run folder
        ...

``results.json`` is written last, so a folder with it is a finished run; a ``checkpoints/last.json``
without it is an interrupted one that ``--resume`` continues.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import files
from .config import ExperimentConfig, load_config
from .errors import DlcvError

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
RESUME_RECORD = "last.json"
STUDY_MARKER = "study.json"
"""In a search's folder (``dlcv tune``): the study it holds; no training run may take that folder."""


class RunEntry:
    """A file or folder of a run folder, by its name: ``RunFolder(...).history_file`` is its path."""

    def __init__(self, name: str, folder: bool = False) -> None:
        self.name, self.folder = name, folder

    def __get__(self, run: RunFolder | None, owner: type) -> Any:
        return self if run is None else run.path / self.name


@dataclass(frozen=True)
class ResumePoint:
    """Where an interrupted run stopped: the epochs it finished and the model that reached that point; a
    run stopped within an epoch (SIGTERM) also has the batches of the next epoch it trained and that
    epoch's running metrics."""

    epoch: int
    model_path: Path
    best_val_loss: float | None
    batch: int = 0
    """Batches of epoch ``epoch`` (0-based: the next one) already trained."""
    metrics: Any = None
    """The running metrics of that epoch so far (the route's own form), or None."""
    seeds: list | None = None
    """The states of the model's random generators (dropout's), which Keras's model files do not keep."""
    seconds: float = 0.0
    """The run's seconds up to this point, over every process that trained it."""


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    # Everything a run writes into its folder, named once: results.json first (without it the run is not
    # finished), then the rest in the order a reader looks for them. (Not here: mlflow.json, the MLflow run
    # the folder logs to, dlcv.tracking's: it outlives clear(), so a fresh start can end the run it replaces.)
    results_file = RunEntry("results.json")
    model_h5_file = RunEntry("model.h5")
    model_keras_file = RunEntry("model.keras")
    history_file = RunEntry("history.json")
    training_plot_file = RunEntry("training.png")
    config_file = RunEntry("config.yaml")
    class_names_file = RunEntry("class_names.json")
    report_text_file = RunEntry("classification_report.txt")
    report_json_file = RunEntry("classification_report.json")
    confusion_matrix_file = RunEntry("confusion_matrix.png")
    thresholds_file = RunEntry("thresholds.json")
    calibration_file = RunEntry("calibration.json")
    features_file = RunEntry("features.npy")
    evaluation_file = RunEntry("evaluation.json")
    report_file = RunEntry("report.html")
    summary_file = RunEntry("model_summary.txt")
    architecture_file = RunEntry("architecture.png")
    skipped_files_file = RunEntry("skipped_files.txt")
    held_out_file = RunEntry("held_out.csv")
    test_predictions_file = RunEntry("test_predictions.npz")
    cv_file = RunEntry("cv.json")
    oof_file = RunEntry("oof.csv")
    label_issues_file = RunEntry("label_issues.csv")
    checkpoints = RunEntry("checkpoints", folder=True)
    best_epoch_file = RunEntry("checkpoints/best-epoch.weights.h5")
    tensorboard = RunEntry("tensorboard", folder=True)
    export = RunEntry("export", folder=True)
    folds = RunEntry("folds", folder=True)

    @classmethod
    def entries(cls, folders: bool) -> tuple[str, ...]:
        """The names of a run's files (or folders), in the order above."""
        return tuple(entry.name for entry in vars(cls).values() if isinstance(entry, RunEntry)
                     and entry.folder == folders)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def model_file(self) -> Path:
        """The run's Keras model: ``model.keras``, else ``model.h5`` (a run saved in that format alone)."""
        for model_file in (self.model_keras_file, self.model_h5_file):
            if model_file.is_file():
                return model_file
        inside = self._runs_inside()
        hint = f" (it holds the run(s) {', '.join(repr(str(run)) for run in inside)})" if inside else ""
        raise DlcvError(f"{str(self.path)!r} holds no model.keras or model.h5{hint}; expected a finished run folder "
                        "or a .keras / .h5 file")

    def _runs_inside(self, most: int = 3, looked_at: int = 1000) -> list[Path]:
        """Up to ``most`` run folders with a model directly inside this folder (``output/`` given for
        ``output/quickstart``), among its first ``looked_at`` entries: a folder of photos is not listed whole."""
        found: list[Path] = []
        if not self.path.is_dir():
            return found
        for _, entry in zip(range(looked_at), self.path.iterdir()):
            if entry.is_dir() and any((entry / name).is_file() for name in ("model.keras", "model.h5")):
                found.append(entry)
        return sorted(found)[:most]

    # ---- reading -------------------------------------------------------------------------------------

    def saved_config(self) -> ExperimentConfig | None:
        """The config the run was trained with, or None where the folder has none."""
        path = self.config_file
        return load_config(path) if path.is_file() else None

    def class_names(self) -> list[str] | None:
        path = self.class_names_file
        return [str(name) for name in _read_record(path, list)] if path.is_file() else None

    def results(self) -> dict[str, Any] | None:
        """``results.json`` of a finished run, else None."""
        path = self.results_file
        return _read_record(path, dict) if path.is_file() else None

    def resume_point(self) -> ResumePoint | None:
        record_path = self.checkpoints / RESUME_RECORD
        if not record_path.is_file():
            return None
        record = _read_record(record_path, dict)
        if "epoch" not in record or "model" not in record:
            raise DamagedRun(record_path, "it lacks the epoch or the model")

        def check(field: str, ok: bool, expected: str) -> None:
            if not ok:
                raise DamagedRun(record_path, f"{field}: {str(record.get(field))[:80]!r}; expected {expected}")

        epoch, batch, model = record["epoch"], record.get("batch", 0), record["model"]
        check("epoch", _whole(epoch) and 0 <= epoch <= MAX_EPOCHS, f"a whole number from 0 to {MAX_EPOCHS:,}")
        check("batch", _whole(batch) and 0 <= batch < MAX_BATCHES, f"a whole number from 0 to {MAX_BATCHES - 1:,}")
        check("model", isinstance(model, str) and model == Path(model).name and model not in ("", ".", ".."),
              "the name of a model file in checkpoints/")
        best = record.get("best_val_loss")
        check("best_val_loss", best is None or (isinstance(best, (int, float)) and not isinstance(best, bool)),
              "a number or null")
        check("metrics", record.get("metrics") is None or isinstance(record["metrics"], (list, dict)),
              "the metric state dlcv saved (a list or an object), or null")
        check("seeds", record.get("seeds") is None or isinstance(record["seeds"], list), "a list, or null")
        seconds = record.get("seconds", 0.0)  # runs written before it was recorded: 0
        check("seconds", isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds < 1e9,
              "a number of seconds")
        return ResumePoint(epoch, self.checkpoints / model, best, batch, record.get("metrics"), record.get("seeds"),
                           float(seconds))

    def describe(self) -> str | None:
        """What the folder holds, in a few words (None: no run there)."""
        results, point = self.results(), self.resume_point()
        if results is not None:
            return f"the finished run in {self.path}/ ({results.get('epochs_run', '?')} epochs{_primary(results)})"
        if point is not None:
            return (f"the interrupted run in {self.path}/ (epoch {point.epoch} committed; --resume would "
                    "have continued it)")
        if any((self.path / name).exists() for name in self.entries(folders=False)):
            return f"the unfinished run in {self.path}/"
        return None

    # ---- writing -------------------------------------------------------------------------------------

    def clear(self) -> None:
        """Remove a previous run's outputs (only the files a run writes), ``results.json`` first, so a
        new run killed early never leaves the old model beside new history looking finished."""
        for name in self.entries(folders=False):
            (self.path / name).unlink(missing_ok=True)
        for name in self.entries(folders=True):
            shutil.rmtree(self.path / name, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process; a folder in use by a live process is refused in one line.

        ``flock`` locks belong to the process: the kernel drops them when it dies, however it dies, so
        a lock file a killed run left behind is simply taken over.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        lock_path = self.path / LOCK_NAME
        while True:
            handle = open(lock_path, "a+", encoding="utf-8")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise DlcvError(f"run folder {str(self.path)!r} is in use by {holder}; wait for it to finish, "
                                "or give this run another name") from None
            # The holder before us may have removed the file between our open and our lock: retry on
            # the file now at the path, so two processes never both hold "the" lock.
            if os.path.exists(lock_path) and os.path.samestat(os.fstat(handle.fileno()), os.stat(lock_path)):
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        handle.write(f"dlcv (pid {os.getpid()} on {socket.gethostname()}, since "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')})\n")
        handle.flush()
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(lock_path)
            handle.close()


def model_file_of(path: str | os.PathLike) -> Path:
    """The Keras model file of a run folder (:meth:`RunFolder.model_file`), or the model file given."""
    path = Path(path)
    if path.is_dir():
        return RunFolder(path).model_file()
    if path.suffix not in (".keras", ".h5"):
        raise DlcvError(f"{str(path)!r}: expected a run folder or a .keras / .h5 model file")
    if not path.is_file():
        raise DlcvError(f"model file not found: {str(path)!r}")
    return path


class DamagedRun(DlcvError):
    """A run folder's record (results.json, last.json, class_names.json) that is not what dlcv writes: cut
    short by a full disk or a copy, or edited."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path} is damaged ({why}); train the run again, or under another name")
        self.path = path


MAX_EPOCHS = 1_000_000
MAX_BATCHES = 1_000_000_000
"""Bounds of a resume record's epoch and batch (the batch is checked against the run's epoch when resumed)."""


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_record(path: Path, kind: type) -> Any:
    """One of the run's JSON records, of the ``kind`` dlcv writes, or :class:`DamagedRun` in one line."""
    try:
        record = files.read_json(path)
    except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
        raise DamagedRun(path, f"not complete JSON: {str(exc).splitlines()[0][:80]}") from None
    if not isinstance(record, kind):
        raise DamagedRun(path, f"a JSON {type(record).__name__}, not the {kind.__name__} dlcv writes")
    return record


def _primary(results: dict[str, Any]) -> str:
    """", test map 0.8940": the score the run is judged by, as results.json records it (runs written before
    it did: their test accuracy), or nothing (a search's trial)."""
    primary = results.get("primary_metric")
    if not isinstance(primary, dict):
        primary = {"name": "test_accuracy", "value": results.get("test_accuracy")}
    value = primary.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return f", {str(primary.get('name')).replace('_', ' ')} {value:.4f}"

