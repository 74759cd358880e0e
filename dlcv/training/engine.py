"""The training engine: one function runs an experiment config from data to saved artefacts.

Every entry point — ``dlcv train``, the book-named scripts, the tests — calls :func:`train`, so there is
one way data is split, a model compiled, callbacks attached and outputs written.

    config = load_config("configs/quickstart.yaml")
    result = train(config)
    result.test_accuracy, result.artefacts["model_h5"]
"""
from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from .. import files
from ..config import ExperimentConfig, PreprocessingConfig
from ..data import Splits, load_dataset, split_dataset
from ..errors import DlcvError, TrainingStopped
from ..evaluation import Evaluation, evaluate_model
from ..models import build_model
from ..pipeline import make_pipeline
from ..visualize import model_summary, plot_architecture
from . import schedules  # noqa: F401  (registers StepDecay for loading resumed models)
from .callbacks import ResumePoint, build_callbacks, read_resume_point
from .distribution import check_backend, distribution_scope, is_chief
from .optimizers import build_optimizer
from .routes import choose_route, fit_fast

LOSS = "sparse_categorical_crossentropy"


@dataclass(frozen=True)
class PreparedData:
    splits: Splits
    config: ExperimentConfig
    """The config with its preprocessing resolved to the data's actual width, height and channels."""
    skipped: tuple[str, ...] = ()
    """Source files left out because they could not be read as images."""

    @property
    def class_names(self) -> list[str]:
        return self.splits.train.class_names


@dataclass
class TrainResult:
    run_dir: Path
    model: keras.Model
    prepared: PreparedData
    evaluation: Evaluation
    artefacts: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def test_accuracy(self) -> float:
        return self.evaluation.accuracy


def prepare_data(config: ExperimentConfig) -> PreparedData:
    """Load, preprocess and split the config's dataset (the same split for the same seed)."""
    data = load_dataset(config.dataset, config.preprocessing)
    _, height, width, channels = data.images.shape
    resolved = config.model_copy(update={"preprocessing": PreprocessingConfig(
        width=width, height=height, channels=channels, resize=config.preprocessing.resize)})
    splits = split_dataset(data, config.dataset.test_size, config.dataset.val_size, config.seed)
    return PreparedData(splits, resolved, data.skipped)


def compile_model(config: ExperimentConfig, classes: int, steps_per_epoch: int) -> keras.Model:
    p = config.preprocessing
    keras.config.set_dtype_policy(config.precision)
    model = build_model(config.model.name, p.width, p.height, p.channels, classes, **config.model.params)
    model.compile(optimizer=build_optimizer(config, steps_per_epoch), loss=LOSS, metrics=["accuracy"],
                  jit_compile=config.jit_compile)
    return model


def train(config: ExperimentConfig, verbose: int | str = "auto", resume: bool = False) -> TrainResult:
    """Train, evaluate and export; ``resume=True`` continues an interrupted run of the same config."""
    started = time.perf_counter()
    check_backend(config)
    chief = is_chief()
    # Non-chief workers of a multi-worker run write to scratch (deleted at the end), never the run folder.
    run_dir = files.ensure_writable_dir(config.run_dir if chief else tempfile.mkdtemp(prefix="dlcv-worker-"))
    files.remove_stale_temporaries(run_dir)  # left by a run killed mid-write; never a finished file
    resume_point = _resume_point(run_dir) if resume else None
    keras.utils.set_random_seed(config.seed)

    prepared = prepare_data(config)
    config, splits = prepared.config, prepared.splits
    if prepared.skipped:
        _report_skipped(prepared.skipped, run_dir if chief else None)
    steps_per_epoch = -(-len(splits.train.labels) // config.batch_size)

    with distribution_scope(config) as (replicas, strategy):
        if resume_point:
            model = keras.models.load_model(resume_point.model_path)  # weights and optimizer state
            print(f"resuming {config.name} after epoch {resume_point.epoch} from {resume_point.model_path}")
        else:
            model = compile_model(config, len(prepared.class_names), steps_per_epoch)
        print(f"{config.name}: {model.name} on {config.dataset.name} — {len(splits.train.labels)} train / "
              f"{len(splits.val.labels)} val / {len(splits.test.labels)} test images, "
              f"{model.count_params():,} parameters" + (f", {replicas} replicas" if replicas > 1 else ""))
        callbacks, artefacts = build_callbacks(config, run_dir, resume_point)
        history = _fit(model, prepared, config, callbacks, resume_point.epoch if resume_point else 0, verbose,
                       replicas, strategy)
        _stop_if_diverged(history.history, run_dir, resume_point)
    # Scored outside the strategy: every test image counts, and no worker waits on another.
    evaluation = evaluate_model(model, splits.test, config.batch_size,
                                direct_calls=config.distribution == "multi_worker")
    if not chief:
        shutil.rmtree(run_dir, ignore_errors=True)
        return TrainResult(Path(config.run_dir), model, prepared, evaluation, {}, time.perf_counter() - started)
    artefacts.update(evaluation.write(run_dir))
    artefacts.update(_export(model, prepared, run_dir))
    if prepared.skipped:
        artefacts["skipped_files"] = run_dir / "skipped_files.txt"
    if not config.callbacks.monitor:
        artefacts["history"] = run_dir / "history.json"
        files.write_json(artefacts["history"], history.history)
    result = TrainResult(run_dir, model, prepared, evaluation, artefacts, time.perf_counter() - started)
    artefacts["results"] = _write_results(result, config, history.history)
    return result


def _fit(model: keras.Model, prepared: PreparedData, config: ExperimentConfig, callbacks: list,
         initial_epoch: int, verbose: int | str, replicas: int, strategy) -> keras.callbacks.History:
    """Train on the route that applies: whole compiled epochs (fast / strategy) or Keras's fit."""
    splits = prepared.splits
    route, why = choose_route(config, splits.train.images.nbytes)
    print(f"route: {route} ({why})")
    weights = class_weights(splits.train.labels, len(prepared.class_names), config.class_weight)
    if weights is not None:
        print("class weights: " + ", ".join(f"{n} {w:.3f}" for n, w in zip(prepared.class_names, weights)))
    if route in ("fast", "strategy"):
        return fit_fast(model, splits, config, callbacks, initial_epoch, verbose=verbose != 0,
                        strategy=strategy if route == "strategy" else None, class_weight=weights)
    even = replicas if config.distribution == "data_parallel" else 1
    train_data = make_pipeline(splits.train.images, splits.train.labels, config.batch_size,
                               shuffle=True, seed=config.seed, multiple_of=even)
    val_data = make_pipeline(splits.val.images, splits.val.labels, config.batch_size, multiple_of=even)
    return model.fit(train_data, validation_data=val_data, epochs=config.epochs, initial_epoch=initial_epoch,
                     callbacks=callbacks, verbose=verbose, shuffle=False,  # the pipeline shuffles, seeded
                     class_weight=None if weights is None else dict(enumerate(weights.tolist())))


def _write_results(result: TrainResult, config: ExperimentConfig, history: dict) -> Path:
    path = result.run_dir / "results.json"
    files.write_json(path, {
        "name": config.name,
        "test_accuracy": result.evaluation.accuracy,
        "test_loss": result.evaluation.loss,
        "epochs_run": len(history.get("loss", [])),
        "seconds": round(result.seconds, 2),
        "skipped_files": len(result.prepared.skipped),
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "book": config.book,
    })
    return path


def class_weights(labels: np.ndarray, classes: int, how: str) -> np.ndarray | None:
    """One loss weight per class: None for "none"; scikit-learn's balanced weights for "balanced"."""
    if how == "none":
        return None
    from sklearn.utils.class_weight import compute_class_weight

    return compute_class_weight(how, classes=np.arange(classes), y=labels)


def _report_skipped(skipped: tuple[str, ...], run_dir: Path | None) -> None:
    """One line on stderr, and the full list in the run folder where a long run's owner will look."""
    listed = run_dir / "skipped_files.txt" if run_dir else None
    if listed:
        files.write_text(listed, "".join(f"{path}\n" for path in skipped))
    shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
    print(f"dlcv: warning: skipped {len(skipped)} unreadable image file(s): {shown}"
          + (f" (all listed in {listed})" if listed else ""), file=sys.stderr, flush=True)


def _resume_point(run_dir: Path) -> ResumePoint:
    point = read_resume_point(run_dir)
    if point is None:
        raise DlcvError(f"--resume: nothing to resume in {run_dir}/ (no checkpoints/last.json); "
                        "start the run without --resume")
    return point


def _stop_if_diverged(history: dict, run_dir: Path, resume_point: ResumePoint | None) -> None:
    """TerminateOnNaN stopped the run: say so, and point at the last good checkpoint."""
    losses = history.get("loss", [])
    if losses and not all(math.isfinite(v) for v in losses):
        point = read_resume_point(run_dir)
        kept = (f"the last good model (after epoch {point.epoch}) is {point.model_path}" if point
                else "no epoch finished with a finite loss, so no model was kept")
        raise TrainingStopped(f"training stopped: the loss became NaN in epoch "
                              f"{len(losses) + (resume_point.epoch if resume_point else 0)}; {kept}. "
                              "Try a lower learning rate.")


def _export(model: keras.Model, prepared: PreparedData, run_dir: Path) -> dict[str, Path]:
    """Everything `dlcv predict` and `dlcv evaluate` need to use the model later."""
    written = {"model_h5": run_dir / "model.h5", "model_keras": run_dir / "model.keras",
               "class_names": run_dir / "class_names.json", "config": run_dir / "config.yaml",
               "summary": run_dir / "model_summary.txt"}
    for key in ("model_h5", "model_keras"):
        with files.atomic_path(written[key]) as tmp:
            model.save(tmp)
    files.write_json(written["class_names"], prepared.class_names)
    files.write_text(written["config"], prepared.config.to_yaml())
    files.write_text(written["summary"], model_summary(model))
    diagram = plot_architecture(model, run_dir / "architecture.png")
    if diagram is not None:
        written["architecture"] = diagram
    return written
