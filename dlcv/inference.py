"""Using a trained model: load it with its run's class names and preprocessing, then label image files.

A run folder written by ``dlcv train`` holds ``model.h5`` / ``model.keras`` beside ``class_names.json``
and ``config.yaml``; :class:`~dlcv.runs.RunFolder` reads them (never the training data, which may be
long gone) to tell :func:`load_classifier` how to prepare a new image and what to call each output. An export
made by ``dlcv export`` (a SavedModel folder, ``model.onnx``, ``model.tflite``) loads the same way, in its
own runtime, with the labels and preprocessing of the ``serving.json`` beside it — so the command that
checks a deployment is the one used in development. A bare model file with no run beside it still
works: its classes are numbered and images must already have the model's input size.

    classifier = load_classifier("output/quickstart/model.h5")       # or .../export/model.onnx
    for p in classifier.iter_predictions(paths, top=3):       # streamed: decoded in parallel, batch by batch
        print(p.to_json())                                    # the task's record (dlcv.task)
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .config import PreprocessingConfig
from .errors import DlcvError
from .folds import fold_folder, is_parent
from .images import UnreadableImage, to_uint8_channels
from .preprocessing import apply_chain, decode_file, decode_upload, preprocessors_for
from .runs import RunFolder
from .task import Prediction, Task, task_of_run, task_of_spec

MODEL_SUFFIXES = (".h5", ".keras")


@dataclass
class Classifier:
    """A model ready to label images: ``forward`` maps a uint8 NHWC batch to class probabilities."""

    forward: Callable[[np.ndarray], np.ndarray]
    """The network's own probabilities (before the run's temperature: :meth:`predict_arrays` applies it)."""
    input_size: tuple[int, int, int]
    """(height, width, channels) the model takes."""
    task: Task
    """What the outputs mean and how they become labels and records (its class names are the model's)."""
    preprocessing: PreprocessingConfig
    decode_mode: str = "exact"
    """How image files are decoded: the run's ``dataset.decode`` (training's own)."""
    has_run_metadata: bool = True
    """False for a bare model file: classes are numbered and nothing is resized."""
    model: object = None
    """The Keras model (None for an exported model, which runs in its own runtime, or an ensemble)."""
    members: tuple[Classifier, ...] = ()
    """A k-fold run's folds, whose mean probabilities this classifier gives (empty: one model)."""
    familiarity: object = None
    """The run's reject rule's scorer (:mod:`dlcv.familiarity`), or None: every image gets its top label."""

    @property
    def class_names(self) -> list[str]:
        return self.task.class_names

    def with_tta(self, mode: str) -> Classifier:
        """This run predicting with test-time augmentation ``mode`` (:mod:`dlcv.tta`)."""
        from .tta import with_tta

        return dataclasses.replace(self, forward=with_tta(self.forward, mode))

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """Any uint8 image (grey, RGB, RGBA) as the model's training images were: its channel count,
        resized as the run's preprocessing says."""
        return apply_chain(to_uint8_channels(image, self.input_size[2]), self._chain)

    def decode(self, path: str) -> np.ndarray:
        """An image file as the run's training files were decoded and prepared (the same decoder)."""
        return decode_file(path, self.input_size[2], self._chain, decode=self.decode_mode)

    def decode_upload(self, data: bytes, name: str, pixel_limit: int | None = None) -> np.ndarray:
        """An image file's bytes (an upload) decoded and prepared exactly as :meth:`decode` prepares a file."""
        return decode_upload(data, name, self.input_size[2], self._chain, decode=self.decode_mode,
                             pixel_limit=pixel_limit)

    @cached_property
    def _chain(self) -> list:
        return preprocessors_for(self.preprocessing)

    def predict_arrays(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities for uint8 NHWC images already at the model's size, at the run's temperature
        (``forward`` gives the network's own: test-time augmentation averages those, then calibration)."""
        return self.task.calibrated(self.forward(np.ascontiguousarray(images, dtype=np.uint8)))

    def iter_predictions(self, paths: Iterable[str], batch_size: int = 64, top: int = 1,
                         on_skip: Callable[[str, str], None] | None = None,
                         workers: int | None = None) -> Iterator[Prediction]:
        """The task's record of each image, in order, holding only a few batches at a time: files are decoded
        on every core ahead of the model. An unreadable file goes to ``on_skip(path, reason)`` (or raises if
        None)."""
        batch_paths: list[str] = []
        images: list[np.ndarray] = []
        for path, image in _decode_ahead(self.decode, paths, 2 * batch_size, workers or os.cpu_count() or 1):
            if isinstance(image, UnreadableImage):
                if on_skip is None:
                    raise image
                on_skip(path, str(image))
                continue
            self.check_size(path, image)
            batch_paths.append(path)
            images.append(image)
            if len(images) == batch_size:
                batch = np.stack(images)
                yield from self.records(batch_paths, batch, self.predict_arrays(batch), top)
                batch_paths, images = [], []
        if images:
            batch = np.stack(images)
            yield from self.records(batch_paths, batch, self.predict_arrays(batch), top)

    def predict_files(self, paths: Iterable[str], batch_size: int = 64,
                      skipped: list[str] | None = None) -> list[Prediction]:
        """Every prediction as a list; unreadable files are appended to ``skipped`` (or raise if None)."""
        on_skip = None if skipped is None else (lambda path, _reason: skipped.append(path))
        return list(self.iter_predictions(paths, batch_size, on_skip=on_skip))

    def records(self, paths: list[str], images: np.ndarray, probabilities: np.ndarray, top: int = 1
                ) -> list[Prediction]:
        """The task's record of each image; with the run's ``reject`` rule (unless :meth:`without_reject`), an
        image less familiar than its threshold is labelled as the rule says, ``unknown`` set."""
        rejected = self.rejected(images, probabilities)
        return [self.task.record(path, row, top, unknown=self.task.calibration.reject.label if out else None)
                for path, row, out in zip(paths, probabilities, rejected)]

    def rejected(self, images: np.ndarray | None, probabilities: np.ndarray) -> np.ndarray:
        """Which images the run's reject rule turns away (none without one)."""
        if self.familiarity is None:
            return np.zeros(len(probabilities), bool)
        return self.familiarity.scores(images, probabilities) < self.task.calibration.reject.threshold

    def without_reject(self) -> Classifier:
        """This classifier giving every image its top label (``--no-reject``)."""
        return dataclasses.replace(self, familiarity=None)

    def check_size(self, path: str, image: np.ndarray) -> None:
        """A one-line error where a prepared image is not the model's input size (a bare model file)."""
        if image.shape != tuple(self.input_size):
            raise DlcvError(f"image {path!r} is {_size(image.shape)} but the model expects "
                            f"{_size(self.input_size)}; resize it, or train with "
                            "preprocessing.width/height set so predictions resize automatically")


def _decode_ahead(decode: Callable[[str], np.ndarray], paths: Iterable[str], ahead: int,
                  workers: int) -> Iterator[tuple[str, object]]:
    """(path, image or UnreadableImage) in the order given, decoded by a thread pool at most ``ahead``
    files in front of the consumer (OpenCV releases the GIL, so threads decode in parallel); memory is
    bounded whatever the number of paths."""
    def attempt(path: str):
        try:
            return decode(path)
        except UnreadableImage as exc:
            return exc

    with ThreadPoolExecutor(workers) as pool:
        pending: collections.deque = collections.deque()
        remaining = iter(paths)
        for path in itertools.islice(remaining, ahead):
            pending.append((path, pool.submit(attempt, path)))
        while pending:
            path, future = pending.popleft()
            for more in itertools.islice(remaining, 1):
                pending.append((more, pool.submit(attempt, more)))
            yield path, future.result()


def load_classifier(model_path: str | os.PathLike) -> Classifier:
    """Load a saved ``.h5`` / ``.keras`` model (Keras must be started) or an export of one (a SavedModel
    folder, ``.onnx``, ``.tflite``), with its class names and preprocessing where they were saved."""
    from .export.formats import find_format

    path = Path(model_path)
    exported = find_format(path)
    if exported is not None:
        return _load_export(path, exported)
    check_model_file(path)
    if path.is_dir():
        return _load_ensemble(RunFolder(path))
    folder = RunFolder(path.parent)
    saved_names, saved_config = folder.class_names(), folder.saved_config()  # fail on bad metadata first
    if saved_config is not None and saved_names is not None:  # its task's files too (thresholds.json)
        task = task_of_run(folder, saved_names, saved_config)
    model = _load_model(path)
    classes = model.output_shape[-1]
    class_names = saved_names if saved_names is not None else [str(i) for i in range(classes)]
    if len(class_names) != classes:
        raise DlcvError(f"{folder / 'class_names.json'} lists {len(class_names)} classes but the model has "
                        f"{classes} outputs")
    preprocessing = saved_config.preprocessing if saved_config is not None else PreprocessingConfig()
    decode = saved_config.dataset.decode if saved_config is not None else "exact"
    from .models.heads import output_activation
    from .pipeline import predict_probabilities

    if saved_config is None or saved_names is None:  # a bare model file: its output layer is all there is
        task = task_of_run(folder, class_names, None, output_activation(model))
    return Classifier(lambda images: predict_probabilities(model, images), keras_input_size(model), task,
                      preprocessing, decode, has_run_metadata=saved_names is not None, model=model,
                      familiarity=_familiarity(task, model, folder))


def evaluate_model(model_path: str | Path, test, tta: str = "none") -> tuple:
    """``model_path`` (a Keras model file) scored on ``test``, a prepared split of the same classes (Keras
    started first): (its task's evaluation, the task); ``tta``: test-time augmentation (:mod:`dlcv.tta`)."""
    return evaluate_classifier(load_classifier(model_path), test, tta)


def evaluate_classifier(classifier: Classifier, test, tta: str = "none") -> tuple:
    """:func:`evaluate_model` for a classifier already loaded."""
    from .pipeline import predict_dataset

    if list(test.class_names) != list(classifier.class_names):
        raise DlcvError(f"the config's classes {test.class_names} differ from the model's {classifier.class_names}")
    if classifier.members:  # a k-fold run: the folds' mean probabilities
        scored = [predict_dataset(member.model, test, tta=tta) for member in classifier.members]
        probabilities = np.mean([member.task.calibrated(probabilities)
                                 for member, (probabilities, _) in zip(classifier.members, scored)],
                                axis=0, dtype=np.float32)
        return classifier.task.score(probabilities, scored[0][1]), classifier.task
    return classifier.task.score(*predict_dataset(classifier.model, test, tta=tta)), classifier.task


def check_model_file(model_path: str | os.PathLike) -> None:
    """A Keras model file that exists, or a finished k-fold run's folder (checked before Keras starts)."""
    path = Path(model_path)
    if path.is_dir() and is_parent(path):
        if RunFolder(path).results() is None:
            raise DlcvError(f"{str(path)!r} is an unfinished k-fold run; finish it with dlcv train --resume, "
                            "then predict with its folds")
        return
    if path.suffix not in MODEL_SUFFIXES:
        raise DlcvError(f"model {str(path)!r}: expected a .h5 or .keras file, or an export (a SavedModel "
                        "folder, .onnx, .tflite)")
    if not path.is_file():
        raise DlcvError(f"model file not found: {str(path)!r}")


def keras_input_size(model) -> tuple[int, int, int]:
    """(height, width, channels) a Keras image model takes, whatever its data format."""
    import keras

    shape = tuple(model.input_shape[1:])
    if keras.config.image_data_format() == "channels_first":
        return shape[1], shape[2], shape[0]
    return shape


def _load_export(path: Path, exported) -> Classifier:
    from .export.formats import read_serving_spec

    spec = read_serving_spec(path)
    try:
        preprocessing = PreprocessingConfig(**spec["preprocessing"])
        decode = spec.get("decode", {}).get("mode", "exact")
        height, width, channels = spec["input"]["shape"][1:]
        labels = [str(label) for label in spec["labels"]]
    except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise DlcvError(f"{path.parent / 'serving.json'} is not one dlcv export wrote ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0]})") from None
    task = task_of_spec(spec, labels, path.parent / "serving.json")
    forward = exported.load(path)
    return Classifier(forward, (height, width, channels), task, preprocessing, decode,
                      has_run_metadata=spec.get("has_run_metadata", True), familiarity=_familiarity(task, None, None))


def _familiarity(task: Task, model, folder: RunFolder | None):
    """The scorer of the run's reject rule (None without one)."""
    if task.calibration is None or task.calibration.reject is None:
        return None
    from .familiarity import FamiliarityScorer

    return FamiliarityScorer.for_run(task.calibration.reject.score, model,
                                     folder.features_file if folder is not None else None)


def _load_ensemble(parent: RunFolder) -> Classifier:
    """A k-fold run's folds as one classifier: their mean probabilities, decided by the parent's task (a
    multi-label run's thresholds chosen on the out-of-fold scores)."""
    config, class_names = parent.saved_config(), parent.class_names()
    members = tuple(load_classifier(fold_folder(parent.path, k).model_file())
                    for k in range(1, config.dataset.folds + 1))
    task = task_of_run(parent, class_names, config)

    def forward(images: np.ndarray) -> np.ndarray:  # each fold at its own temperature
        return np.mean([member.predict_arrays(images) for member in members], axis=0, dtype=np.float32)

    return Classifier(forward, members[0].input_size, task, config.preprocessing, config.dataset.decode,
                      members=members)


def _load_model(path: Path):
    import keras

    from . import model_objects  # noqa: F401  (registers dlcv's serialisable schedules)

    try:
        return keras.models.load_model(path, compile=False)  # predicting needs no optimizer or metrics
    except Exception as exc:  # h5py / zipfile / Keras raise many types for a damaged file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DlcvError(f"cannot load model {str(path)!r}: {reason[:200]}") from None


def _size(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)
