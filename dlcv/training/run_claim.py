"""Claiming a run folder for one training run, before Keras starts: in use by another process, nothing to
resume, a config a saved model cannot take, an earlier run replaced: each decided and said in one line.

    with claim_run_folder(load_config(), resume=False) as claim:
        claim.run, claim.resume          # the folder (a scratch one on a non-chief worker), the point to resume
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import files
from ..config import ExperimentConfig
from ..errors import DlcvError
from ..runs import STUDY_MARKER, ResumePoint, RunFolder
from .chief import is_chief

log = logging.getLogger(__name__)


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
FIXED_ON_RESUME = ("model", "task", "preprocessing", "optimizer", "schedule", "precision", "dataset.name",
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
        if (key.startswith("preprocessing.") and value is None) or (key == "task" and value == "auto"):
            continue  # "as the data has it": the saved run resolved it; the data is checked on loading
        change = f"{key} {old!r} -> {value!r}"
        phase_boundary = key == "epochs" and (saved.fine_tune or new.fine_tune)  # where the fine-tune begins
        (refused if key.startswith(FIXED_ON_RESUME) or key == "fine_tune" or phase_boundary else applied).append(change)
    return applied, refused
