"""What a run leaves for later use: its metadata (written when training starts) and the trained model
(written when it ends), every file atomically into the run folder.

    write_run_metadata(run, prepared.config, prepared.class_names)    # config.yaml, class_names.json
    written = save_model(model, run, task)                             # model.h5, model.keras, summary

``config.yaml`` is the config as trained, its preprocessing resolved to the size the model takes; with
``class_names.json`` it is all ``dlcv predict`` needs (:mod:`dlcv.runs` reads them back). The model files
hold Keras's own objects only (:func:`portable`): ``keras.saving.load_model`` opens them where dlcv is not
installed.
"""
from __future__ import annotations

import logging
from pathlib import Path

from . import files
from .config import ExperimentConfig
from .models.backbones import saves_to_h5
from .runs import RunFolder
from .visualize import model_summary, plot_architecture

log = logging.getLogger(__name__)


def write_run_metadata(run: RunFolder, config: ExperimentConfig, class_names: list[str]) -> dict[str, Path]:
    written = {"config": run.config_file, "class_names": run.class_names_file}
    files.write_text(written["config"], config.to_yaml())
    files.write_json(written["class_names"], list(class_names))
    return written


def save_model(model, run: RunFolder, task) -> dict[str, Path]:
    """The trained model of ``task`` (:mod:`dlcv.task`) in both Keras formats (only ``.keras`` where the
    legacy HDF5 format cannot hold it), its layer table, and its diagram where Graphviz exists."""
    written = {"model_h5": run.model_h5_file, "model_keras": run.model_keras_file, "summary": run.summary_file}
    if not saves_to_h5(model):
        log.info(f"{model.name}: written as model.keras only (Keras's HDF5 loader cannot rebuild its backbone)")
        del written["model_h5"]
    for key in ("model_h5", "model_keras"):
        if key in written:
            # A copy per file: Keras's HDF5 writer deletes the optimizer from the compile config of the model
            # it saves (keras/src/legacy/saving/saving_utils.py pops it in place), which a later .keras file
            # would then lack (it loaded with RMSprop's defaults).
            with files.atomic_path(written[key]) as tmp:
                portable(model, task).save(tmp)
    files.write_text(written["summary"], model_summary(model))
    diagram = plot_architecture(model, run.architecture_file)
    if diagram is not None:
        written["architecture"] = diagram
    return written


def portable(model, task):
    """The model as its files hold it, compiled with Keras's own objects: its task's test loss and
    metrics (the sparse cross-entropy of the true labels and accuracy, or a multi-label model's binary
    cross-entropy and metrics) and the optimizer training used (its state included).
    Training may have compiled dlcv's loss for smoothed or mixed labels (:mod:`dlcv.model_objects`), which
    only dlcv could load; the layers are the model's own (shared, not copied)."""
    import keras

    copy = keras.Model(model.input, model.output, name=model.name)  # one tensor each, as the model has
    loss, metrics = task.loss_and_metrics(keras_only=True)  # unsmoothed, unmixed
    copy.compile(optimizer=model.optimizer, loss=loss, metrics=metrics)
    return copy
