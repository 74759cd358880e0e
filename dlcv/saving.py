"""What a run leaves for later use: its metadata (written when training starts) and the trained model
(written when it ends), every file atomically into the run folder.

    write_run_metadata(run, prepared.config, prepared.class_names)    # config.yaml, class_names.json
    written = save_model(model, run)                                   # model.h5, model.keras, summary

``config.yaml`` is the config as trained, its preprocessing resolved to the size the model takes; with
``class_names.json`` it is all ``dlcv predict`` needs (:mod:`dlcv.runs` reads them back).
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


def save_model(model, run: RunFolder) -> dict[str, Path]:
    """The trained model in both Keras formats (only ``.keras`` where the legacy HDF5 format cannot hold it),
    its layer table, and its diagram where Graphviz exists."""
    written = {"model_h5": run.model_h5_file, "model_keras": run.model_keras_file, "summary": run.summary_file}
    if not saves_to_h5(model):
        log.info(f"{model.name}: written as model.keras only (Keras's HDF5 loader cannot rebuild its backbone)")
        del written["model_h5"]
    for key in ("model_h5", "model_keras"):
        if key in written:
            with files.atomic_path(written[key]) as tmp:
                model.save(tmp)
    files.write_text(written["summary"], model_summary(model))
    diagram = plot_architecture(model, run.architecture_file)
    if diagram is not None:
        written["architecture"] = diagram
    return written
