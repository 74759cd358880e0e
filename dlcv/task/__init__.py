"""The task a classifier is trained for, in one place (timm's ``timm/task`` is the model): one class per
image (:class:`SingleLabel`, a softmax) or any number (:class:`MultiLabel`, a sigmoid per class, each
class's threshold chosen on validation). Every other module asks the task instead of branching on it.

A task owns the head's activation, the loss and compiled metrics, what is chosen on validation after
training (thresholds), the decision rule, the scores and their names in results.json with the primary
metric, the report's per-class section and mistakes, the prediction record of ``predict`` (and later
``dlcv serve``), and its fields in ``serving.json``. It is resolved once, when the data is prepared,
written to ``config.yaml`` and ``serving.json``, and read back from them (:func:`task_of_run`,
:func:`task_of_spec`); only a bare model file with no run folder beside it is judged by its output layer.

    task = build_task("multilabel", ["cats", "dogs"])
    model = build_model("shallownet", 32, 32, 3, 2, classifier_activation=task.activation)
    task = task.choose(val_probabilities, val_labels)       # thresholds chosen on validation
    evaluation = task.score(test_probabilities, test_labels)
    record = task.record("a.jpg", probabilities_row)        # what predict prints, as JSON: record.to_json()
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..console import TO_STDERR
from ..errors import ConfigError
from .base import DEFAULT_SEPARATOR, TASK_NAMES, LabelSet, Prediction, Task, TopLabel
from .calibration import calibration_of, read_calibration
from .multilabel import MultiLabel, Thresholds
from .single import SingleLabel

log = logging.getLogger(__name__)

TASKS: dict[str, type[Task]] = {"single": SingleLabel, "multilabel": MultiLabel}
assert tuple(TASKS) == TASK_NAMES


def resolve_task(requested: str, labels: np.ndarray, classes: int) -> tuple[str, np.ndarray]:
    """The task a run trains, decided once as its data is prepared, and the labels it trains on: multi-hot
    rows are multi-label; one class per image is single-label unless the config asks for ``multilabel``
    (then its labels become one-hot rows, said in one line)."""
    if np.ndim(labels) == 2:
        if requested == SingleLabel.name:  # the config's checks refuse this before any data is read
            raise ConfigError("task: single, but the data has several labels per image; expected task: multilabel "
                              "or auto")
        if requested == "auto":
            log.info("task: multilabel, as images have several labels: a sigmoid per class")
        return MultiLabel.name, labels
    if requested == MultiLabel.name:
        log.info("task: multilabel as set, though every image has one label: one sigmoid per class")
        return MultiLabel.name, np.eye(classes, dtype=np.uint8)[labels]
    return SingleLabel.name, labels


def task_of_labels(label_sets: bool) -> type[Task]:
    """The task of data whose images have one class each, or (``label_sets``) any number."""
    return MultiLabel if label_sets else SingleLabel


def build_task(name: str, class_names: list[str], separator: str = DEFAULT_SEPARATOR) -> Task:
    """The task ``name`` ("single" or "multilabel") over ``class_names``; a multi-label task's thresholds are
    0.5 until chosen (:meth:`Task.choose`) or read (:func:`task_of_run`)."""
    return TASKS[name](class_names, separator=separator)


def task_of_config(config, class_names: list[str]) -> Task:
    """The task a config trains: its ``task`` as the data layer resolved it (a config not yet prepared says
    ``auto``, which without a label table is one class per image)."""
    return build_task(config.task if config.task != "auto" else "single", class_names, config.dataset.separator)


def task_of_run(folder, class_names: list[str], saved_config, activation: str | None = None) -> Task:
    """The task of the run folder ``folder`` (a :class:`~dlcv.runs.RunFolder`), from its config.yaml and
    thresholds.json. ``saved_config`` None (a bare model file): the model's output ``activation`` decides."""
    if saved_config is None:
        name = "multilabel" if activation == "sigmoid" else "single"
        log.info(f"{folder.path.name}: no config.yaml beside the model; its output layer ({activation}) says "
                 f"task: {name}")
        return build_task(name, class_names)
    # "auto" is what config.yaml held before the task was recorded there: runs of one label per image
    name = saved_config.task if saved_config.task != "auto" else "single"
    task = TASKS[name].read(folder, class_names, separator=saved_config.dataset.separator)
    if not folder.calibration_file.is_file():  # trained before runs were calibrated, or calibration: none
        if saved_config.calibration != "none":
            log.info(f"{folder.path.name}: no calibration.json; its probabilities are the network's own "
                     "(uncalibrated)", extra=TO_STDERR)  # a diagnostic: stdout may be predictions or JSON
        return task
    return task.with_calibration(read_calibration(folder.calibration_file, class_names, task.per_class_temperature))


def task_of_spec(spec: dict, class_names: list[str], where: Path) -> Task:
    """The task an export's ``serving.json`` records (exports written before it said so: multi-label where
    it holds thresholds)."""
    name = spec.get("task", "multilabel" if "thresholds" in spec else "single")
    if name not in TASKS:
        from ..errors import DlcvError

        raise DlcvError(f"{where}: task {name!r}; expected one of {', '.join(TASKS)}")
    task = TASKS[name].from_spec(spec, class_names, where)
    if "calibration" not in spec:
        return task
    return task.with_calibration(calibration_of(spec["calibration"], class_names, task.per_class_temperature,
                                                f"{where}: calibration"))


__all__ = ["DEFAULT_SEPARATOR", "TASKS", "LabelSet", "MultiLabel", "Prediction", "SingleLabel", "Task", "Thresholds",
           "TopLabel", "build_task", "resolve_task", "task_of_config", "task_of_labels", "task_of_run", "task_of_spec"]
