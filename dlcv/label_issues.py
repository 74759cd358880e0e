"""``dlcv data issues``: the training images whose given label is probably wrong, most likely first.

Finding them needs a probability for every training image from a model that did not train on it: a
k-fold run's ``oof.csv`` (:mod:`dlcv.folds`). On those, confident learning (Northcutt et al., 2021; the
cleanlab library, its ``find_label_issues`` and label-quality scores, and their multi-label versions) picks
the images whose given label the out-of-fold probabilities contradict, ranked by the label's quality (its
own probability: 0 = surely wrong). Each comes with the label the k-fold run would give it (multi-label:
the labels it misses and those it has too many).

    issues = find_label_issues("output/animals_cv")        # written to output/animals_cv/label_issues.csv
    for issue in issues[:10]:
        print(issue.path, issue.given, "->", issue.suggested, issue.quality)
"""
from __future__ import annotations

import csv
import importlib.util
import io
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from . import files
from .console import TO_STDERR
from .errors import DlcvError
from .folds import OutOfFold, fold_folder, is_parent
from .runs import RunFolder
from .task import Task, task_of_run

log = logging.getLogger(__name__)

COLUMNS = ("path", "given", "suggested", "missed", "extra", "quality", "fold")


@dataclass(frozen=True)
class LabelIssue:
    path: str
    """As oof.csv names it: under the data set's folder, or ``#row``."""
    given: str
    suggested: str
    missed: str
    """Multi-label: classes the k-fold run gives it that its label lacks (separated as labels are)."""
    extra: str
    """Multi-label: classes its label has that the k-fold run does not give it."""
    quality: float
    fold: int

    @property
    def change(self) -> str:
        """What the k-fold run says of the given label, in words: a multi-label image's classes the label
        lacks and has too many, else the class it suggests."""
        if self.missed or self.extra:
            return f"missed {self.missed or '-'}, extra {self.extra or '-'}"
        return f"suggested {self.suggested}"


def check_issues_run(run_dir: str | Path) -> RunFolder:
    """A finished k-fold run's folder, and cleanlab installed; else one line (before anything is read)."""
    parent = RunFolder(run_dir)
    if not parent.path.is_dir():
        raise DlcvError(f"run folder not found: {str(parent.path)!r}")
    if not is_parent(parent.path):
        raise DlcvError(f"{str(parent.path)!r} is not a k-fold run; train with --folds K (every training image is "
                        "then scored by a model that did not train on it), then run dlcv data issues on its folder")
    if parent.results() is None:
        folds = parent.saved_config().dataset.folds
        unfinished = [k for k in range(1, folds + 1) if fold_folder(parent.path, k).results() is None]
        raise DlcvError(f"{str(parent.path)!r}: fold(s) {', '.join(map(str, unfinished)) or '(none)'} of {folds} "
                        "unfinished; finish the run with dlcv train --resume first")
    if importlib.util.find_spec("cleanlab") is None:
        raise DlcvError("dlcv data issues needs cleanlab (pip install 'dlcv[issues]', or pip install cleanlab)")
    return parent


def find_label_issues(run_dir: str | Path) -> list[LabelIssue]:
    """The likely label errors of a finished k-fold run, most likely first, also written to its
    ``label_issues.csv``."""
    parent = check_issues_run(run_dir)
    task = task_of_run(parent, parent.class_names(), parent.saved_config())
    out_of_fold = OutOfFold.read(parent.oof_file, task)
    issues = issues_of(task, out_of_fold)
    files.write_text(parent.label_issues_file, as_csv(issues))
    log.info(f"{len(issues):,} likely label error(s) of {len(out_of_fold.paths):,} training images"
             f"{_trust(task, parent)}; wrote {parent.label_issues_file}", extra=TO_STDERR)  # stdout: the list
    return issues


def _trust(task: Task, parent: RunFolder) -> str:
    """The folds' held-out score beside the count: the list is only as good as the folds (README, "Which
    labels are wrong?": of the list, 15% were planted errors where the folds scored 0.47, 70% at 0.81)."""
    held_out = (parent.results() or {}).get("held_out", {}).get(task.primary_metric.removeprefix("test_"))
    if not held_out:
        return ""
    return (f" (the folds' held-out {task.primary_name} {held_out['mean']:.2f}: the weaker the folds, the more of "
            "the list are their own mistakes)")


def issues_of(task: Task, out_of_fold: OutOfFold) -> list[LabelIssue]:
    ranked, quality = task.label_issues(out_of_fold.labels, out_of_fold.probabilities)
    decided = task.decide(out_of_fold.probabilities)
    issues = []
    for row in ranked:
        given, suggested = out_of_fold.labels[row], decided[row]
        missed, extra = task.differences(given, suggested)
        issues.append(LabelIssue(out_of_fold.paths[row], task.label_text(given), task.label_text(suggested), missed,
                                 extra, round(float(quality[row]), 6), int(out_of_fold.folds[row])))
    return issues


def as_csv(issues: list[LabelIssue]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([[getattr(issue, column) for column in COLUMNS] for issue in issues])
    return buffer.getvalue()


def as_json(issues: list[LabelIssue]) -> list[dict]:
    return [asdict(issue) for issue in issues]

