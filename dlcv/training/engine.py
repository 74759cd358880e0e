"""The training engine: one function trains an experiment config and writes its run folder.

Every entry point — ``dlcv train``, the book-named scripts, the tests — calls :func:`train`, so there is
one way a model is compiled, resumed, given its callbacks, trained on a route and scored. The data comes
prepared from the data layer, the route from :mod:`.routes`, the files from :mod:`dlcv.saving`.

    config = load_config("configs/quickstart.yaml")
    result = train(config, callbacks=[MyCallback()])
    result.test_accuracy, result.artefacts["model_h5"]
"""
from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from .. import files
from ..augmentation import build_augmenter
from ..config import ExperimentConfig
from ..data import PreparedData, prepare_data
from ..errors import DlcvError, TrainingStopped, WriteFailed
from ..familiarity import FamiliarityScorer, set_features
from ..folds import OutOfFold, held_out_scores, image_names, write_test_predictions
from ..model_objects import loss_and_metrics  # noqa: F401  (registers StepDecay etc. for loading resumed models)
from ..models import build_model, model_params
from ..models.backbones import fit_batch_norm_momentum, loads_weights
from ..models.layout import batch_norm_start_share, one_epoch_momentum, slowest_batch_norm_momentum
from ..report import book_text, write_report
from ..runs import RESUME_RECORD, DamagedRun, ResumePoint, RunFolder
from ..runtime import seed_everything
from ..saving import save_model, write_run_metadata
from ..task import Task, task_of_config
from ..task.calibration import Calibration, Reject, keep_threshold
from ..tracking import MlflowRun, mlflow_run
from .averaging import calibration_batches
from .callbacks import BestEpoch, MetricsToMlflow, ResumeCheckpoint, build_callbacks, seed_variables
from .chief import broadcast_from_chief
from .distribution import build_distribution
from .footprint import build_within_memory
from .optimizers import build_optimizer
from .phases import Phase, plan_phases, unfreeze
from .plan import EpochPlan
from .preemption import SignalFlag, StopOnSignal, on_sigterm
from .routes import choose_route
from .run_claim import RunClaim, claim_run_folder

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_dir: Path
    model: keras.Model
    prepared: PreparedData
    evaluation: object | None
    """The test scores of the run's task; None for a run that kept away from the test split (a search's trial)."""
    task: Task | None = None
    """The run's task, with what it chose on validation (a multi-label run's thresholds)."""
    artefacts: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    route: str = ""

    @property
    def test_accuracy(self) -> float:
        return self.evaluation.accuracy

    def log_summary(self, config: ExperimentConfig) -> None:
        """What ``dlcv train`` says at the end: the test score beside the book's, the report, the files."""
        log.info(f"\n{config.name}: {self.task.headline(self.evaluation.results())} in {self.seconds:.1f} s")
        log.info("book: " + (book_text(config.book) if config.book else "not stated"))
        log.info(self.evaluation.report_text)
        if not self.artefacts:  # a non-chief worker of a multi-worker run
            log.info(f"worker done; the chief writes the run folder {self.run_dir}/")
            return
        log.info(f"run written to {self.run_dir}/")
        width = max(len(name) for name in self.artefacts)
        for name, path in sorted(self.artefacts.items()):
            log.info(f"  {name:<{width}}  {path}")


def compile_model(config: ExperimentConfig, classes: int | Task, steps_per_epoch: int,
                  phase: Phase | None = None) -> keras.Model:
    """The config's model for its task's head (``classes``: the run's :class:`~dlcv.task.Task`, or a class
    count, for the config's task), compiled for its first phase, or for ``phase`` (a fine-tune: unfrozen,
    and the fine-tune's learning rate)."""
    task = classes if isinstance(classes, Task) else task_of_config(config, [str(i) for i in range(classes)])
    p = config.preprocessing
    keras.config.set_dtype_policy(config.precision)
    model = build_within_memory(
        lambda: build_model(config.model.name, p.width, p.height, p.channels, len(task.class_names),
                            classifier_activation=task.activation, **config.model.params),
        config, loads_weights=loads_weights(config))
    fit_batch_norm_momentum(model, steps_per_epoch)
    if phase is not None and phase.fine_tuning:
        unfreeze(model, phase)
    _compile(model, config, task, steps_per_epoch, phase)
    return model


def _compile(model: keras.Model, config: ExperimentConfig, task: Task, steps_per_epoch: int,
             phase: Phase | None) -> None:
    fine_tuning = phase is not None and phase.fine_tuning
    loss, metrics = task.loss_and_metrics(config.label_smoothing, soft_labels=config.augmentation.mixes,
                                          focal=config.loss == "focal")
    model.compile(optimizer=build_optimizer(config, steps_per_epoch, fine_tuning), loss=loss, metrics=metrics,
                  jit_compile=config.jit_compile)
    # Its state exists from here on, the same on every worker: a resume can fill it, a strategy sync it.
    model.optimizer.build(model.trainable_variables)


def train(config: ExperimentConfig, resume: bool = False, callbacks: Sequence[keras.callbacks.Callback] = (),
          verbose: int | str = "auto", claim: RunClaim | None = None, with_test: bool = True) -> TrainResult:
    """Train, evaluate and save; ``resume=True`` continues an interrupted run of the same config.

    The config is trusted: the application layer (:func:`dlcv.app.load_checked_config`) has checked it
    once against everything but its data. ``callbacks`` are added to the config's own (they see every
    epoch before it is committed); ``claim``: a run folder the caller already holds
    (:func:`~dlcv.training.run_claim.claim_run_folder`), else this claims it. ``with_test=False``: the test
    split is neither decoded nor scored (a search's trial, judged on validation alone).
    """
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        claim = claim or stack.enter_context(claim_run_folder(config, resume))
        # the chief alone records the run; before any data is read: a tracking URI that fails is one line
        tracker = stack.enter_context(mlflow_run(config, claim.run, claim.resuming)) if claim.chief else None
        # The first SIGTERM: stop after the step in progress (a cluster's workers: their strategy's loop
        # installs its own flag, over the handler TensorFlow's coordination service puts in)
        flag = stack.enter_context(on_sigterm())
        with _report_write_failures(claim.run):
            seed_everything(config.seed)
            # The config resolved by its data, once (its task, input size): what the engine trains with,
            # config.yaml holds and MLflow logs
            prepared = prepare_data(config, with_test=with_test)
            if tracker:
                tracker.log_config(prepared.config)
            return _train(prepared, claim, callbacks, verbose, started, with_test, tracker, flag)


BATCH_NORM_SETTLED = 0.01
"""The share of their 0/1 start that BatchNormalization's moving statistics may keep at a run's end."""


def _say_if_batch_norm_lags(model: keras.Model, config: ExperimentConfig, steps_per_epoch: int) -> None:
    """One line where the run is too short for the network's BatchNormalization to learn the data's statistics
    (the book's networks keep Keras's 0.99, set for long runs on full data sets), with what to change."""
    steps = steps_per_epoch * config.total_epochs
    share = batch_norm_start_share(model, steps)
    if share is None or share <= BATCH_NORM_SETTLED:
        return
    remedy = "more epochs or a smaller batch size give them time"
    momentum = math.floor(100 * one_epoch_momentum(steps_per_epoch)) / 100
    if "batch_norm_momentum" in model_params(config.model.name) and momentum < slowest_batch_norm_momentum(model):
        remedy += f", or model.params.batch_norm_momentum: {momentum:g} (about one epoch's memory)"
    log.warning(f"{model.name}'s BatchNormalization layers learn the data's statistics too slowly for a run of "
                f"{steps:,} steps: their moving averages will still be {share:.0%} their 0/1 start at its end, "
                f"so validation and test can score far below training; {remedy}")


def _train(prepared: PreparedData, claim: RunClaim, callbacks: Sequence, verbose: int | str,
           started: float, with_test: bool, tracker: MlflowRun | None, flag: SignalFlag) -> TrainResult:
    run, point = claim.run, claim.resume
    config, splits, task = prepared.config, prepared.splits, prepared.task
    _check_classes(run, prepared, point)
    _say_untrained_classes(task, splits.train.labels)
    skipped = prepared.skipped
    if skipped:
        _report_skipped(skipped, run if claim.chief else None)
    write_run_metadata(run, config, prepared.class_names)
    weights = task.class_weights(splits.train.labels, config.class_weight)
    distribution = build_distribution(config)  # first: a multi-worker strategy configures TensorFlow
    saved = keras.models.load_model(point.model_path) if point else None  # outside the strategy's scope
    phases = plan_phases(config, point.epoch if point else 0)
    steps_per_epoch = -(-len(splits.train.labels) // config.batch_size)
    if point is not None and point.batch >= steps_per_epoch:
        raise DamagedRun(run.checkpoints / RESUME_RECORD, f"batch: {point.batch}; expected fewer than the "
                         f"{steps_per_epoch} batches of one of its epochs")
    with distribution.scope():
        model = compile_model(config, task, steps_per_epoch, phases[0])
        initial_epoch = _restore(model, saved, point) if saved is not None else 0
        if claim.resuming and distribution.kind == "multi_worker":
            initial_epoch, best = broadcast_from_chief(model, distribution.strategy, initial_epoch,
                                                       point.best_val_loss if point else None)
            point = point or ResumePoint(initial_epoch, run.checkpoints / "from-the-chief", best)
        log.info(f"{config.name}: {model.name} on {config.dataset.name} — {len(splits.train.labels)} train / "
              f"{len(splits.val.labels)} val / {len(splits.test.labels)} test images, "
              f"{model.count_params():,} parameters"
              + (f", {distribution.replicas} replicas" if distribution.replicas > 1 else ""))
        _say_if_batch_norm_lags(model, config, steps_per_epoch)
        if weights is not None:
            log.info("class weights: " + ", ".join(f"{n} {w:.3f}" for n, w in zip(prepared.class_names, weights)))
        plan = EpochPlan(splits.train, splits.val, config.batch_size, config.seed, config.sampling == "balanced",
                         weights, build_augmenter(config.augmentation, config.seed, len(prepared.class_names),
                                                  splits.train.shape))
        run_callbacks = build_callbacks(  # one set: they span the phases
            config, run, point, callbacks,
            calibration=lambda: calibration_batches(splits.train, config.seed),
            after_commit=[MetricsToMlflow(tracker)] if tracker else ())
        if distribution.kind != "multi_worker":  # a cluster resumes at its last committed epoch instead
            checkpoint = next(c for c in run_callbacks if isinstance(c, ResumeCheckpoint))
            run_callbacks.append(StopOnSignal(flag, checkpoint, steps_per_epoch))
        within = (point.batch, point.metrics) if point is not None and point.batch else None
        history: dict[str, list] = {}
        for phase in phases:
            if phase.fine_tuning and phase is not phases[0]:  # entered now, not resumed into
                unfreeze(model, phase)
                _compile(model, config, task, steps_per_epoch, phase)
            route = choose_route(config, splits.train, distribution, model, epochs=phase.end_epoch)
            log.info(route if len(phases) == 1 and config.fine_tune is None else f"{phase.name} phase, {route}")
            phase_start = max(initial_epoch, phase.first_epoch)
            resumed_here = within if within is not None and phase_start == initial_epoch else None
            phase_history = route.fit(model, plan, run_callbacks, initial_epoch=phase_start, verbose=verbose,
                                      within=resumed_here).history
            for key, values in phase_history.items():
                history.setdefault(key, []).extend(values)
            _stop_if_diverged(phase_history, run, phase_start)
        _restore_best_epoch(run_callbacks)
        task = _choose_on_validation(task, route, model, splits, config, run)
        tested = route.predict(model, splits.test) if with_test else None
        evaluation = task.score(*tested) if with_test else None
        held_out = route.predict(model, splits.held_out) if splits.held_out is not None else None
    if len(prepared.skipped) > len(skipped):  # found while streaming the files
        _report_skipped(prepared.skipped, run if claim.chief else None)
    result = TrainResult(run.path, model, prepared, evaluation, task, route=route.name)
    if not claim.chief:
        result.run_dir = config.run_dir  # the chief's; this worker's scratch folder is removed
        result.seconds = time.perf_counter() - started
        return result
    artefacts = {"checkpoints": run.checkpoints, "config": run.config_file, "class_names": run.class_names_file}
    if config.callbacks.monitor:
        artefacts.update(history=run.history_file, plot=run.training_plot_file)
    else:
        artefacts["history"] = run.history_file
        files.write_json(artefacts["history"], history)
    if config.callbacks.checkpoint != "none" and config.callbacks.checkpoint_dir:  # else in checkpoints above
        artefacts["model_checkpoints"] = Path(config.callbacks.checkpoint_dir)
    if config.callbacks.tensorboard:
        artefacts["tensorboard"] = run.tensorboard
    if prepared.skipped:
        artefacts["skipped_files"] = run.skipped_files_file
    artefacts.update(task.write(run))
    if evaluation is not None:
        artefacts.update(evaluation.write(run))
    artefacts.update(save_model(model, run, task))
    if held_out is not None:  # a k-fold run's fold: its scores on the images it did not train on
        artefacts.update(_write_fold_scores(run, prepared, task, held_out, tested))
    # the whole run's time: this process's, and what earlier processes spent up to the point it resumed from
    result.artefacts = artefacts
    result.seconds = time.perf_counter() - started + (claim.resume.seconds if claim.resume else 0.0)
    results = _results(result, config, initial_epoch + len(history.get("loss", [])), history)
    if held_out is not None:
        results["held_out"] = held_out_scores(task.score(*held_out))
    if evaluation is not None:
        artefacts["report"] = write_report(run, evaluation, splits.test, config.report.mistakes, results=results,
                                           task=task, model=model if config.report.heatmaps else None)
    artefacts["results"] = run.results_file
    files.write_json(run.results_file, results)  # last: marks it finished
    if tracker:  # a search's trial (no test split) keeps its model in its folder only
        p = config.preprocessing
        tracker.log_outcome(run, results, model if evaluation is not None else None, (p.height, p.width, p.channels))
    return result


def _restore(model: keras.Model, saved: keras.Model, point: ResumePoint) -> int:
    """Copy a checkpoint's weights and optimizer state into the freshly compiled ``model`` (built the same
    way on every worker, so a strategy creates the same variables everywhere); returns the next epoch."""
    if [tuple(w.shape) for w in model.weights] != [tuple(w.shape) for w in saved.weights]:
        raise DlcvError(f"--resume: the model in {point.model_path} is not the one this config builds (written "
                        "by another version of dlcv, or another model); train under another name")
    model.set_weights(saved.get_weights())
    ours, theirs = model.optimizer.variables, saved.optimizer.variables
    if [tuple(v.shape) for v in ours] != [tuple(v.shape) for v in theirs]:
        raise DlcvError(f"--resume: the optimizer state in {point.model_path} does not match the config's "
                        "optimizer; keep the saved optimizer settings, or train under another name")
    for variable, value in zip(ours, theirs):
        variable.assign(value)
    seeds = seed_variables(model)
    if point.seeds is not None and len(point.seeds) == len(seeds):
        for variable, value in zip(seeds, point.seeds):
            variable.assign(value)
    log.info(f"resuming after epoch {point.epoch} from {point.model_path}" if not point.batch else
             f"resuming in epoch {point.epoch + 1} after {point.batch} of its batches from {point.model_path}")
    return point.epoch


def _restore_best_epoch(callbacks: list) -> None:
    """``restore_best``: the run ends with the weights of its epoch with the lowest validation loss."""
    for callback in callbacks:
        if isinstance(callback, BestEpoch):
            val_loss = callback.restore()
            if val_loss is not None:
                log.info(f"restore_best: the weights of the epoch with the lowest validation loss ({val_loss:.4f})")


def _choose_on_validation(task: Task, route, model, splits, config: ExperimentConfig, run: RunFolder) -> Task:
    """The task with what it chooses on the validation split's predictions: the temperature (``calibration``),
    then, on the calibrated probabilities, a multi-label run's thresholds and the ``reject`` threshold; an
    empty validation split skips calibration in one line, and is refused where something must be chosen."""
    val, reject = splits.val, config.reject
    if reject is not None and not task.rejects:
        raise DlcvError("reject: a multi-label run has no top label to turn away (an image none of whose classes "
                        "passes its threshold already has no label); expected no reject section")
    if reject is not None and reject.label in task.class_names:
        raise DlcvError(f"reject.label: {reject.label!r} is one of the run's classes; expected another name")
    if task.chooses_on_validation is None and config.calibration == "none" and reject is None:
        return task
    if not len(val.labels):
        needs = task.chooses_on_validation or (reject is not None and "reject")
        if needs:
            raise DlcvError(f"{'reject' if reject is not None else 'task: ' + task.name} chooses "
                            f"{needs if reject is None else 'its threshold'} on the validation split, which is "
                            "empty; expected dataset.val_size > 0 or a val part")
        log.info("calibration: skipped, no validation split (calibrated: false)")
        return task
    probabilities, labels = route.predict(model, val)
    if config.calibration == "temperature":
        task = task.calibrate(probabilities, labels)
    calibrated = task.calibrated(probabilities)
    task = task.choose(calibrated, labels)
    if reject is None:
        return task
    if task.calibration is None:  # calibration: none: the threshold is on the network's own probabilities
        task = task.with_calibration(Calibration(np.array(1.0, np.float32)))
    scorer = FamiliarityScorer(reject.score)
    if reject.score == "neighbours":
        bank = set_features(model, splits.train)
        np.save(run.features_file, bank.astype(np.float16))
        log.info(f"reject: the training images' features kept in {run.features_file.name} "
                 f"({run.features_file.stat().st_size / 2**20:.1f} MB: {bank.shape[0]:,} x {bank.shape[1]})")
        scorer = FamiliarityScorer(reject.score, model, bank)
    threshold = keep_threshold(scorer.set_scores(val, calibrated), reject.keep)
    log.info(f"reject: {reject.score} below {threshold:.4f} is {reject.label!r} ({reject.keep:.0%} of validation "
             "kept)")
    return task.with_reject(Reject(reject.score, reject.keep, threshold, reject.label))


def _say_untrained_classes(task: Task, train_labels: np.ndarray) -> None:
    """A class whose images all went to the validation or test split: the model cannot learn it (one line)."""
    absent = [name for name, count in zip(task.class_names, task.class_counts(train_labels)) if count == 0]
    if absent:
        log.warning(f"data: no training image of {len(absent)} class(es): {', '.join(absent[:5])}"
                    + (", ..." if len(absent) > 5 else "") + "; their images are all in the validation or test "
                    "split (a given split column, or too few images to split): the model cannot learn them")


def _check_classes(run: RunFolder, prepared: PreparedData, point: ResumePoint | None) -> None:
    saved = run.class_names() if point else None
    if saved is not None and saved != prepared.class_names:
        raise DlcvError(f"--resume: the data's classes {prepared.class_names} differ from the saved run's "
                        f"{saved}; point dataset.path at the data the run was trained on")


def _results(result: TrainResult, config: ExperimentConfig, epochs_run: int, history: dict) -> dict:
    """results.json; ``epochs_run`` counts the epochs before a resume too."""
    scores = result.evaluation.results() if result.evaluation else {}
    return {
        "name": config.name,
        "task": result.task.name,
        **scores,
        **result.task.primary(scores),
        "validation": _final_validation(history, config.restore_best),
        "epochs_run": epochs_run,
        "seconds": round(result.seconds, 2),
        "skipped_files": len(result.prepared.skipped),
        "backend": keras.backend.backend(),
        "route": result.route,
        "calibrated": result.task.calibration is not None,
        "keras_version": keras.__version__,
        "book": config.book,
    }


def _write_fold_scores(run: RunFolder, prepared: PreparedData, task: Task, held_out: tuple, tested: tuple | None
                       ) -> dict[str, Path]:
    """held_out.csv (oof.csv's rows of this fold) and the test split's probabilities (the ensemble's)."""
    config, held = prepared.config, prepared.splits.held_out
    probabilities, labels = held_out
    names = image_names(held.paths, prepared.held_out_rows, config.dataset.files_root)
    OutOfFold(names, labels, np.full(len(labels), config.dataset.fold), probabilities).write(run.held_out_file, task)
    written = {"held_out": run.held_out_file}
    if tested is not None:
        written["test_predictions"] = write_test_predictions(run, *tested)
    return written


def _final_validation(history: dict, restore_best: bool) -> dict[str, float]:
    """The validation metrics of the weights the run ends with: its last epoch's, or with ``restore_best``
    the epoch of the lowest validation loss (this process's epochs: a resumed run's earlier ones are in
    history.json)."""
    losses = history.get("val_loss") or []
    if not losses:
        return {}
    at = int(np.nanargmin(losses)) if restore_best and not np.isnan(losses).all() else len(losses) - 1
    return {key: float(values[at]) for key, values in history.items()
            if key.startswith("val_") and len(values) == len(losses)}


def _report_skipped(skipped: tuple[str, ...], run: RunFolder | None) -> None:
    """One line on stderr, and the full list in the run folder where a long run's owner will look."""
    listed = run.skipped_files_file if run else None
    if listed:
        files.write_text(listed, "".join(f"{path}\n" for path in skipped))
    shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
    log.warning(f"skipped {len(skipped)} unreadable image file(s): {shown}"
          + (f" (all listed in {listed})" if listed else ""))


def _stop_if_diverged(history: dict, run: RunFolder, initial_epoch: int) -> None:
    """TerminateOnNaN stopped the run: say so, and point at the last good checkpoint."""
    losses = history.get("loss", [])
    if losses and not all(math.isfinite(v) for v in losses):
        point = run.resume_point()
        kept = (f"the last good model (after epoch {point.epoch}) is {point.model_path}" if point
                else "no epoch finished with a finite loss, so no model was kept")
        raise TrainingStopped(f"training stopped: the loss became NaN in epoch {len(losses) + initial_epoch}; "
                              f"{kept}. Try a lower learning rate.")


@contextlib.contextmanager
def _report_write_failures(run: RunFolder) -> Iterator[None]:
    """A full disk, a read-only file system or a lost permission: say what was kept and how to go on."""
    try:
        yield
    except WriteFailed as exc:
        point = run.resume_point()
        kept = (f"epochs 1-{point.epoch} are committed in {run.checkpoints}/ ({point.model_path.name}); free "
                "space (or fix the folder), then run the same command with --resume" if point
                else "no epoch was committed yet; free space (or fix the folder), then run it again")
        raise WriteFailed(f"{exc}; {kept}") from None
