"""The training engine: one function runs an experiment config from data to saved artefacts.

Every entry point — ``dlcv train``, the book-named scripts, the tests — calls :func:`train`, so there is
one way data is split, a model compiled, callbacks attached and outputs written.

    config = load_config("configs/quickstart.yaml")
    result = train(config)
    result.test_accuracy, result.artefacts["model_h5"]
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import keras

from .. import files
from ..config import ExperimentConfig, PreprocessingConfig
from ..data import Splits, load_dataset, split_dataset
from ..evaluation import Evaluation, evaluate_model
from ..models import build_model
from ..pipeline import make_pipeline
from .callbacks import build_callbacks
from .optimizers import build_optimizer

LOSS = "sparse_categorical_crossentropy"


@dataclass(frozen=True)
class PreparedData:
    splits: Splits
    config: ExperimentConfig
    """The config with its preprocessing resolved to the data's actual width, height and channels."""

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
    return PreparedData(splits, resolved)


def compile_model(config: ExperimentConfig, classes: int, steps_per_epoch: int) -> keras.Model:
    p = config.preprocessing
    model = build_model(config.model.name, p.width, p.height, p.channels, classes, **config.model.params)
    model.compile(optimizer=build_optimizer(config, steps_per_epoch), loss=LOSS, metrics=["accuracy"])
    return model


def train(config: ExperimentConfig, verbose: int | str = "auto") -> TrainResult:
    started = time.perf_counter()
    run_dir = files.ensure_writable_dir(config.run_dir)
    keras.utils.set_random_seed(config.seed)

    prepared = prepare_data(config)
    config, splits = prepared.config, prepared.splits
    train_data = make_pipeline(splits.train.images, splits.train.labels, config.batch_size,
                               shuffle=True, seed=config.seed)
    val_data = make_pipeline(splits.val.images, splits.val.labels, config.batch_size)
    steps_per_epoch = -(-len(splits.train.labels) // config.batch_size)

    model = compile_model(config, len(prepared.class_names), steps_per_epoch)
    print(f"{config.name}: {model.name} on {config.dataset.name} — {len(splits.train.labels)} train / "
          f"{len(splits.val.labels)} val / {len(splits.test.labels)} test images, "
          f"{model.count_params():,} parameters")
    callbacks, artefacts = build_callbacks(config, run_dir)
    history = model.fit(train_data, validation_data=val_data, epochs=config.epochs,
                        callbacks=callbacks, verbose=verbose,
                        shuffle=False)  # the pipeline shuffles, seeded

    evaluation = evaluate_model(model, splits.test, config.batch_size)
    artefacts.update(evaluation.write(run_dir))
    artefacts.update(_export(model, prepared, run_dir))
    if not config.callbacks.monitor:
        artefacts["history"] = run_dir / "history.json"
        files.write_json(artefacts["history"], history.history)
    result = TrainResult(run_dir, model, prepared, evaluation, artefacts, time.perf_counter() - started)
    artefacts["results"] = run_dir / "results.json"
    files.write_json(artefacts["results"], {
        "name": config.name,
        "test_accuracy": evaluation.accuracy,
        "test_loss": evaluation.loss,
        "epochs_run": len(history.history.get("loss", [])),
        "seconds": round(result.seconds, 2),
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "book": config.book,
    })
    return result


def _export(model: keras.Model, prepared: PreparedData, run_dir: Path) -> dict[str, Path]:
    """Everything `dlcv predict` and `dlcv evaluate` need to use the model later."""
    written = {"model_h5": run_dir / "model.h5", "model_keras": run_dir / "model.keras",
               "class_names": run_dir / "class_names.json", "config": run_dir / "config.yaml"}
    for key in ("model_h5", "model_keras"):
        with files.atomic_path(written[key]) as tmp:
            model.save(tmp)
    files.write_json(written["class_names"], prepared.class_names)
    files.write_text(written["config"], prepared.config.to_yaml())
    return written
