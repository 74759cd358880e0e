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
import json
import logging
import os
import shutil
import socket
import tempfile
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
    report_file = RunEntry("report.html")
    summary_file = RunEntry("model_summary.txt")
    architecture_file = RunEntry("architecture.png")
    skipped_files_file = RunEntry("skipped_files.txt")
    checkpoints = RunEntry("checkpoints", folder=True)
    best_epoch_file = RunEntry("checkpoints/best-epoch.weights.h5")
    tensorboard = RunEntry("tensorboard", folder=True)
    export = RunEntry("export", folder=True)

    @classmethod
    def entries(cls, folders: bool) -> tuple[str, ...]:
        """The names of a run's files (or folders), in the order above."""
        return tuple(entry.name for entry in vars(cls).values() if isinstance(entry, RunEntry)
                     and entry.folder == folders)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

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
        try:
            epoch, model = int(record["epoch"]), self.checkpoints / str(record["model"])
            return ResumePoint(epoch, model, record.get("best_val_loss"), int(record.get("batch", 0)),
                               record.get("metrics"), record.get("seeds"))
        except (KeyError, TypeError, ValueError):
            raise DamagedRun(record_path, "it lacks the epoch or the model") from None

    def describe(self) -> str | None:
        """What the folder holds, in a few words (None: no run there)."""
        results, point = self.results(), self.resume_point()
        if results is not None:
            return (f"the finished run in {self.path}/ ({results.get('epochs_run', '?')} epochs, test accuracy "
                    f"{results.get('test_accuracy', float('nan')):.4f})")
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


def cluster_config() -> dict[str, Any]:
    """TF_CONFIG of a multi-worker run (empty when there is none)."""
    try:
        return json.loads(os.environ.get("TF_CONFIG") or "{}")
    except ValueError:
        raise DlcvError("TF_CONFIG is not valid JSON; expected e.g. {\"cluster\": {\"worker\": "
                        "[\"host1:12345\", \"host2:12345\"]}, \"task\": {\"type\": \"worker\", "
                        "\"index\": 0}}") from None


def is_chief() -> bool:
    """True unless TF_CONFIG makes this process a non-chief worker of a multi-worker run (only the chief
    writes the run folder)."""
    cluster = cluster_config()
    task = cluster.get("task")
    if not task:
        return True
    if "chief" in cluster.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


@dataclass(frozen=True)
class RunClaim:
    """A run folder held by this process for one training run."""

    run: RunFolder
    resume: ResumePoint | None
    """Where to continue from (None: from scratch, or a non-chief worker, which the chief will tell)."""
    chief: bool = True
    """False for a non-chief worker of a multi-worker run: ``run`` is a scratch folder, deleted after."""
    resuming: bool = False


@contextlib.contextmanager
def claim_run_folder(config: ExperimentConfig, resume: bool = False) -> Iterator[RunClaim]:
    """Hold the config's run folder for one training run, deciding everything that needs no data:

    - the folder must be writable and not in use by another live process;
    - ``--resume`` needs a committed epoch there, and a config whose changes can apply to the saved
      model (a larger ``epochs`` extends the run; another network, input size, optimizer... cannot);
    - a fresh start over an earlier run says in one line what it replaces, and removes its outputs.

    A non-chief worker of a multi-worker run gets a scratch folder instead, deleted at the end.
    """
    if not is_chief():
        scratch = Path(tempfile.mkdtemp(prefix="dlcv-worker-"))
        try:
            yield RunClaim(RunFolder(scratch), None, chief=False, resuming=resume)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return
    if (config.run_dir / STUDY_MARKER).is_file():
        raise DlcvError(f"{config.run_dir}/ holds a dlcv tune study; train its best.yaml, or give this run "
                        "another name (--set name=...)")
    run = RunFolder(files.ensure_writable_dir(config.run_dir))
    with run.lock():
        files.remove_stale_temporaries(run.path)  # left by a run killed mid-write; never a finished file
        if resume:
            point = _resume_point(run, config)
        else:
            point = None
            replaced = run.describe()
            if replaced:
                log.info(f"dlcv: replacing {replaced}")
                run.clear()
        yield RunClaim(run, point, resuming=resume)


def _resume_point(run: RunFolder, config: ExperimentConfig) -> ResumePoint:
    point = run.resume_point()
    if point is None:
        raise DlcvError(f"--resume: nothing to resume in {run.path}/ (no checkpoints/last.json); "
                        "start the run without --resume")
    saved = run.saved_config()
    if saved is not None:
        applied, refused = resume_changes(saved, config)
        if refused:
            raise DlcvError(f"--resume: {'; '.join(refused)}: a saved model cannot take another network, input "
                            "size, data split, optimizer, schedule or fine-tune phase; keep the saved values, or "
                            "train under another name")
        if applied:
            log.info(f"resuming with changed settings: {'; '.join(applied)}")
    finished = run.results() is not None
    total = config.total_epochs
    if total < point.epoch or (finished and total == point.epoch):
        what = "epochs + fine_tune.epochs" if config.fine_tune else "epochs"
        raise DlcvError(f"--resume: {what} is {total} but {point.epoch} epochs are already done in "
                        f"{run.path}/; set a larger {'fine_tune.epochs' if config.fine_tune else 'epochs'} "
                        "(--set ...=N) to train further")
    return point  # epochs == point.epoch, unfinished: killed after its last epoch; only the outputs are left


# Keys that define the saved model or its optimizer state: a resumed run cannot change them.
FIXED_ON_RESUME = ("model", "preprocessing", "optimizer", "schedule", "precision", "dataset.name",
                   "dataset.test_size", "dataset.val_size", "seed", "batch_size", "fine_tune.unfreeze",
                   "fine_tune.learning_rate")
IGNORED_ON_RESUME = ("description", "book")


def resume_changes(saved: ExperimentConfig, new: ExperimentConfig) -> tuple[list[str], list[str]]:
    """(changes that apply to the resumed run, changes that cannot apply), each as "key old -> new"."""
    before, after = saved.flat(), new.flat()
    applied, refused = [], []
    for key in sorted(set(before) | set(after)):
        old, value = before.get(key), after.get(key)
        if old == value or key.startswith(IGNORED_ON_RESUME):
            continue
        if key.startswith("preprocessing.") and value is None:
            continue  # "as the data has it": the saved run resolved it; the data is checked on loading
        change = f"{key} {old!r} -> {value!r}"
        phase_boundary = key == "epochs" and (saved.fine_tune or new.fine_tune)  # where the fine-tune begins
        (refused if key.startswith(FIXED_ON_RESUME) or key == "fine_tune" or phase_boundary else applied).append(change)
    return applied, refused


class DamagedRun(DlcvError):
    """A run folder's record (results.json, last.json, class_names.json) that is not what dlcv writes: cut
    short by a full disk or a copy, or edited."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path} is damaged ({why}); train the run again, or under another name")
        self.path = path


def _read_record(path: Path, kind: type) -> Any:
    """One of the run's JSON records, of the ``kind`` dlcv writes, or :class:`DamagedRun` in one line."""
    try:
        record = files.read_json(path)
    except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
        raise DamagedRun(path, f"not complete JSON: {str(exc).splitlines()[0][:80]}") from None
    if not isinstance(record, kind):
        raise DamagedRun(path, f"a JSON {type(record).__name__}, not the {kind.__name__} dlcv writes")
    return record
