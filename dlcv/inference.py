"""Using a saved model: load it with its run's class names and preprocessing, then label image files.

A run folder written by ``dlcv train`` holds ``model.h5`` / ``model.keras`` beside ``class_names.json``
and ``config.yaml``; :class:`~dlcv.runs.RunFolder` reads them (never the training data, which may be
long gone) to tell :func:`load_run` how to prepare a new image and what to call each output. A bare
model file with no run beside it still works: its classes are numbered and images must already have the
model's input size.

    run = load_run("output/quickstart/model.h5")
    for p in run.predict_files(["digit.png"]):
        print(p.path, p.label, p.probability)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np

from .config import PreprocessingConfig
from .errors import DlcvError
from .images import UnreadableImage, to_uint8_channels
from .pipeline import predict_probabilities
from .preprocessing import apply_chain, decode_file, preprocessors_for
from .runs import RunFolder

MODEL_SUFFIXES = (".h5", ".keras")


@dataclass(frozen=True)
class Prediction:
    path: str
    label: str
    probability: float


@dataclass
class Run:
    model: object
    class_names: list[str]
    preprocessing: PreprocessingConfig
    has_run_metadata: bool = True
    """False for a bare model file: classes are numbered and nothing is resized."""

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(height, width, channels) the model takes."""
        import keras

        shape = tuple(self.model.input_shape[1:])
        if keras.config.image_data_format() == "channels_first":
            return shape[1], shape[2], shape[0]
        return shape

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """Any uint8 image (grey, RGB, RGBA) as the model's training images were: its channel count,
        resized as the run's preprocessing says."""
        return apply_chain(to_uint8_channels(image, self.input_size[2]), self._chain)

    def decode(self, path: str) -> np.ndarray:
        """An image file as the run's training files were decoded and prepared (the same decoder)."""
        return decode_file(path, self.input_size[2], self._chain)

    @cached_property
    def _chain(self) -> list:
        return preprocessors_for(self.preprocessing)

    def predict_arrays(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities for uint8 NHWC images already at the model's size."""
        return predict_probabilities(self.model, images)

    def predict_files(self, paths: Iterable[str], batch_size: int = 64,
                      skipped: list[str] | None = None) -> list[Prediction]:
        """Label each image; unreadable files are appended to ``skipped`` (or raise if it is None)."""
        height, width, channels = self.input_size
        readable, images = [], []
        for path in paths:
            try:
                images.append(self.decode(path))
            except UnreadableImage:
                if skipped is None:
                    raise
                skipped.append(path)
                continue
            readable.append(path)
        if not images:
            return []
        for path, image in zip(readable, images):
            if image.shape != (height, width, channels):
                raise DlcvError(f"image {path!r} is {_size(image.shape)} but the model expects "
                                f"{_size((height, width, channels))}; resize it, or train with "
                                "preprocessing.width/height set so predictions resize automatically")
        images = np.stack(images)
        predictions = []
        for start in range(0, len(images), batch_size):
            probabilities = self.predict_arrays(images[start:start + batch_size])
            for path, row in zip(readable[start:start + batch_size], probabilities):
                best = int(np.argmax(row))
                predictions.append(Prediction(path, self.class_names[best], float(row[best])))
        return predictions


def load_run(model_path: str | os.PathLike) -> Run:
    """Load a saved ``.h5`` / ``.keras`` model and, if present, its run's class names and preprocessing."""
    path = Path(model_path)
    if path.suffix not in MODEL_SUFFIXES:
        raise DlcvError(f"model {str(path)!r}: expected a .h5 or .keras file")
    if not path.is_file():
        raise DlcvError(f"model file not found: {str(path)!r}")
    folder = RunFolder(path.parent)
    saved_names, saved_config = folder.class_names(), folder.saved_config()  # fail on bad metadata first
    model = _load_model(path)
    classes = model.output_shape[-1]
    class_names = saved_names if saved_names is not None else [str(i) for i in range(classes)]
    if len(class_names) != classes:
        raise DlcvError(f"{folder / 'class_names.json'} lists {len(class_names)} classes but the model has "
                        f"{classes} outputs")
    preprocessing = saved_config.preprocessing if saved_config is not None else PreprocessingConfig()
    return Run(model, class_names, preprocessing, has_run_metadata=saved_names is not None)


def _load_model(path: Path):
    import keras

    from .training import schedules  # noqa: F401  (registers dlcv's serialisable schedules)

    try:
        return keras.models.load_model(path, compile=False)  # predicting needs no optimizer or metrics
    except Exception as exc:  # h5py / zipfile / Keras raise many types for a damaged file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DlcvError(f"cannot load model {str(path)!r}: {reason[:200]}") from None


def _size(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)
