"""k-fold cross-validation: K ordinary runs under one parent, scored on the folds they did not train on.

``dataset.folds: K`` (``dlcv train --folds K``) trains fold k = 1..K as the run ``<name>/folds/<k>``: its
config is the parent's with ``dataset.fold: k``, so the data layer holds that fold out (never its
validation, which is carved from the fold's own training part) and the engine scores it once trained
(``held_out.csv``). The parent then joins the folds' held-out scores (``oof.csv``), summarises each
held-out metric over the folds (mean, standard deviation, t-interval), scores the folds' ensemble on the
test split, and, for a multi-label task, chooses its thresholds once on all out-of-fold scores.

    result = train_folds(load_config(overrides=["dataset.folds=5"]))
    result.results["held_out"]["accuracy"]        # {"mean": ..., "std": ..., "interval": [...]}

A killed k-fold run continues with ``resume=True``: finished folds are kept as they are, the interrupted
one resumes as any run does, the rest are trained.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import files
from ..config import ExperimentConfig
from ..data.split import fold_rule
from ..errors import DlcvError
from ..folds import OutOfFold, fold_folder, read_test_predictions, summarise_held_out
from ..report import write_kfold_report
from ..runs import RunFolder
from ..task import Task, task_of_run
from ..tracking import mlflow_run

log = logging.getLogger(__name__)


@dataclass
class CrossValidation:
    run_dir: Path
    task: Task
    results: dict[str, Any]
    out_of_fold: OutOfFold


def fold_config(config: ExperimentConfig, fold: int) -> ExperimentConfig:
    """Fold ``fold``'s config: the parent's, holding that fold out, in the parent's ``folds/<fold>/``."""
    cache = config.dataset.cache_dir or str(Path(config.output_dir) / "cache")  # the parent's: decoded once
    return config.model_copy(update={
        "output_dir": str(fold_folder(config.run_dir, fold).path.parent), "name": str(fold),
        "dataset": config.dataset.model_copy(update={"fold": fold, "cache_dir": cache})})


def train_folds(config: ExperimentConfig, resume: bool = False, verbose: int | str = "auto") -> CrossValidation:
    """Train every fold of ``config`` (``dataset.folds``) and write the parent run folder."""
    from .engine import train

    parent = RunFolder(files.ensure_writable_dir(config.run_dir))
    with parent.lock():
        _claim(parent, config, resume)
        files.write_text(parent.config_file, config.to_yaml())
        with mlflow_run(config, parent, resume) as tracker:  # the folds' runs nest under the parent's
            if tracker:
                tracker.log_config(config)
            nested = _nested_under(config, tracker.run_id) if tracker else config
            for fold in range(1, config.dataset.folds + 1):
                folder = fold_folder(parent.path, fold)
                if resume and folder.results() is not None:
                    log.info(f"fold {fold}/{config.dataset.folds}: finished, kept")
                    continue
                log.info(f"fold {fold}/{config.dataset.folds}")
                train(fold_config(nested, fold), resume=resume and folder.resume_point() is not None,
                      verbose=verbose)
            result = _summarise(parent, config)
            if tracker:
                tracker.log_scores({f"held_out_{key}": summary["mean"]
                                    for key, summary in result.results["held_out"].items()}, "the held-out means")
                tracker.log_outcome(parent, result.results, None, (0, 0, 0))
            return result


def _nested_under(config: ExperimentConfig, run_id: str) -> ExperimentConfig:
    mlflow = config.tracking.mlflow.model_copy(update={"parent_run_id": run_id})
    return config.model_copy(update={"tracking": config.tracking.model_copy(update={"mlflow": mlflow})})


def _claim(parent: RunFolder, config: ExperimentConfig, resume: bool) -> None:
    if resume:
        if not parent.folds.is_dir():
            raise DlcvError(f"--resume: nothing to resume in {parent.path}/ (no folds/); start the run without "
                            "--resume")
        saved = parent.saved_config()
        if saved is not None and saved.dataset.folds != config.dataset.folds:
            raise DlcvError(f"--resume: {parent.path}/ was trained with dataset.folds={saved.dataset.folds}; "
                            f"expected the same folds, got {config.dataset.folds}")
        parent.results_file.unlink(missing_ok=True)  # finished again below
        return
    replaced = parent.describe() or (f"the k-fold run in {parent.path}/" if parent.folds.is_dir() else None)
    if replaced:
        log.info(f"dlcv: replacing {replaced}")
        parent.clear()


def _summarise(parent: RunFolder, config: ExperimentConfig) -> CrossValidation:
    folds = [fold_folder(parent.path, k) for k in range(1, config.dataset.folds + 1)]
    first = folds[0]
    saved = first.saved_config()
    class_names = first.class_names()
    # the parent's probabilities are the folds' own, each at its fold's temperature: none of its own
    task = task_of_run(first, class_names, saved).with_calibration(None)
    out_of_fold = OutOfFold.joined([OutOfFold.read(fold.held_out_file, task) for fold in folds])
    results_of = [fold.results() for fold in folds]
    held_out = summarise_held_out([r["held_out"] for r in results_of])
    task = task.choose(out_of_fold.probabilities, out_of_fold.labels, chosen_on="out-of-fold")
    # calibration: none: each fold applies its own temperature; the parent's mean takes none of its own
    resolved = saved.model_copy(update={"output_dir": config.output_dir, "name": config.name, "calibration": "none",
                                        "dataset": saved.dataset.model_copy(update={"fold": None})})
    files.write_text(parent.config_file, resolved.to_yaml())  # the folds' resolved task and input size
    files.write_json(parent.class_names_file, class_names)
    task.write(parent)
    out_of_fold.write(parent.oof_file, task)
    rule = fold_rule(out_of_fold.labels, saved.dataset.group_by is not None)
    files.write_json(parent.cv_file, {"folds": config.dataset.folds, "seed": config.seed, "rule": rule,
                                      "held_out_images": len(out_of_fold.paths)})
    results = {"name": config.name, "task": task.name, "kind": "k-fold", "folds": config.dataset.folds,
               "held_out": held_out, **_ensemble_scores(task, folds),
               # what dlcv runs shows as the parent's validation score: the mean over its held-out folds
               "validation": {f"val_{key}": summary["mean"] for key, summary in held_out.items()},
               "epochs_run": sum(r["epochs_run"] for r in results_of),
               "seconds": round(sum(r.get("seconds", 0.0) for r in results_of), 2),
               "book": config.book}
    results.update(task.primary(results))
    files.write_json(parent.results_file, results)  # marks it finished
    write_kfold_report(parent)
    primary = task.primary_metric.removeprefix("test_")
    if primary in held_out:
        summary = held_out[primary]
        log.info(f"{config.name}: {config.dataset.folds}-fold held-out {task.primary_name} {summary['mean']:.4f} "
                 f"± {summary['std']:.4f} (95% interval {summary['interval'][0]:.4f}-{summary['interval'][1]:.4f})")
    log.info(f"wrote {parent.oof_file} ({len(out_of_fold.paths):,} images, each scored by the fold that did not "
             "train on it)")
    return CrossValidation(parent.path, task, results, out_of_fold)


def _ensemble_scores(task: Task, folds: list[RunFolder]) -> dict[str, Any]:
    """The test split scored by the folds' mean probabilities (none without a test split)."""
    if not folds[0].test_predictions_file.is_file():
        return {}
    predictions = [read_test_predictions(fold) for fold in folds]
    labels = predictions[0][1]
    if not len(labels):
        return {}
    mean = np.mean([probabilities for probabilities, _ in predictions], axis=0)
    return task.score(mean, labels).results()
