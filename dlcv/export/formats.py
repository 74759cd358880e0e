"""The serving formats ``dlcv export`` writes, each with the runtime that loads it back.

Every export takes a batch of uint8 NHWC images at the run's input size and returns class
probabilities: the run's scaling (and layout) is inside the graph. Writing goes through Keras 3's own
``model.export(format=...)`` (SavedModel, ONNX through tf2onnx, LiteRT); loading uses each format's
real runtime — ``tf.saved_model.load`` with the ``serving_default`` signature (what TensorFlow Serving
calls), ``onnxruntime``, and the LiteRT interpreter of ``ai-edge-litert`` — never Keras.

    fmt = FORMATS["onnx"]
    fmt.missing()                          # pip packages to install first ([] when ready)
    fmt.write(serving_model, "out/model.onnx")
    probabilities = fmt.load("out/model.onnx")(uint8_batch)

Beside the exports, ``serving.json`` (:func:`serving_spec`) says what a client sends and gets back.
"""
from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DlcvError
from ..runtime import native_stderr_captured, native_stderr_silenced

SPEC_NAME = "serving.json"
INPUT_NAME = "images"
SIGNATURE = "serving_default"

Forward = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    filename: str
    """File (or, for the SavedModel, folder) name inside the export folder."""
    runtime: str
    requires: tuple[tuple[str, str], ...]
    """(module to import, pip package that provides it) to write the format (and check it)."""
    runtime_requires: tuple[tuple[str, str], ...]
    """The same, to load and run it: its runtime alone, no Keras or TensorFlow for ONNX and LiteRT."""
    write: Callable[..., None]
    load: Callable[[Path], Forward]

    def missing(self, to_run: bool = False) -> list[str]:
        """The pip packages not installed that writing (or, ``to_run``, running) this format needs."""
        needed = self.runtime_requires if to_run else self.requires
        return [package for module, package in needed if importlib.util.find_spec(module) is None]


def _write_saved_model(model, path: str | Path, quantization=None) -> None:
    model.export(str(path), format="tf_saved_model", verbose=False)


def _load_saved_model(path: Path) -> Forward:
    import tensorflow as tf

    signature = tf.saved_model.load(str(path)).signatures[SIGNATURE]

    def forward(images: np.ndarray) -> np.ndarray:
        outputs = signature(**{INPUT_NAME: tf.constant(images)})  # by name, as TensorFlow Serving calls it
        return next(iter(outputs.values())).numpy()
    return forward


def _write_onnx(model, path: str | Path, quantization=None) -> None:
    import warnings

    with warnings.catch_warnings():  # Keras's tf2onnx shim probes np.object, which NumPy 2 warns about
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*np.object")
        model.export(str(path), format="onnx", verbose=False)
    if quantization is not None and quantization.mode == "int8":
        from .quantization import quantize_onnx

        quantize_onnx(Path(path), quantization)


def _load_onnx(path: Path) -> Forward:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda images: session.run(None, {name: images})[0]


def _write_litert(model, path: str | Path, quantization=None) -> None:
    from .quantization import litert_options

    # The converter's native code writes "fully_quantize: 0, inference_type: 6, ..." to stderr as it
    # quantizes: kept only if the conversion fails
    with native_stderr_captured(replay=lambda raised: raised is not None):
        model.export(str(path), format="litert", verbose=False, **litert_options(quantization))


def _load_litert(path: Path) -> Forward:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    source = interpreter.get_input_details()[0]["index"]
    target = interpreter.get_output_details()[0]["index"]
    shape: list[tuple[int, ...]] = []

    def forward(images: np.ndarray) -> np.ndarray:
        if not shape or shape[0] != images.shape:  # the batch dimension is dynamic: size it per call
            interpreter.resize_tensor_input(source, images.shape)
            with native_stderr_silenced(enabled=True):  # "INFO: Created TensorFlow Lite XNNPACK delegate"
                interpreter.allocate_tensors()
            shape[:] = [images.shape]
        interpreter.set_tensor(source, images)
        interpreter.invoke()
        return interpreter.get_tensor(target).copy()
    return forward


_TF = ("tensorflow", "tensorflow")
_ORT = ("onnxruntime", "onnxruntime")
_LITERT = ("ai_edge_litert", "ai-edge-litert")
FORMATS: dict[str, ExportFormat] = {
    "saved_model": ExportFormat("saved_model", "saved_model", "tf.saved_model.load (TensorFlow Serving)",
                                (_TF,), (_TF,), _write_saved_model, _load_saved_model),
    "onnx": ExportFormat("onnx", "model.onnx", "onnxruntime",
                         (_TF, ("tf2onnx", "tf2onnx"), ("onnx", "onnx"), _ORT), (_ORT,), _write_onnx, _load_onnx),
    "litert": ExportFormat("litert", "model.tflite", "LiteRT interpreter (ai-edge-litert)",
                           (_TF, _LITERT), (_LITERT,), _write_litert, _load_litert),
}


def find_format(path: Path) -> ExportFormat | None:
    """The format of an exported model at ``path`` (None: not an export)."""
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return FORMATS["saved_model"]
    for fmt in FORMATS.values():
        if fmt.name != "saved_model" and path.suffix == Path(fmt.filename).suffix:
            return fmt
    return None


def serving_spec(input_size: tuple[int, int, int], task, preprocessing: dict[str, Any],
                 decode: dict[str, Any], has_run_metadata: bool, exports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What ``serving.json`` says: the input a client sends, the output it gets, and how to prepare an
    image file so that the model sees what it was trained on (``decode``: the mode and the client's
    steps, :func:`dlcv.preprocessing.client_recipe`); the ``task`` (:mod:`dlcv.task`) says what the
    output means and how it becomes labels (a multi-label model's thresholds)."""
    height, width, channels = input_size
    return {
        "input": {"name": INPUT_NAME, "dtype": "uint8", "shape": [None, height, width, channels],
                  "layout": "NHWC", "colour": "RGB" if channels == 3 else "grey", "range": [0, 255]},
        **task.serving_fields(),
        "preprocessing": preprocessing,
        "decode": decode,
        "how_to_prepare": "run decode.steps with this width and height and send the uint8 result; the "
                          "scaling to [0, 1] is inside the model",
        "labels": list(task.class_names),
        "has_run_metadata": has_run_metadata,
        "signature": SIGNATURE,
        "exports": exports,
    }


def spec_of(classifier, exports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """:func:`serving_spec` of a loaded :class:`~dlcv.inference.Classifier`: its input size, task,
    preprocessing and decode (what an export's serving.json holds, and ``dlcv serve``'s /metadata)."""
    from ..preprocessing import client_recipe

    size = dict(zip(("height", "width", "channels"), classifier.input_size))
    preprocessing = classifier.preprocessing.model_copy(update=size)
    decode = {"mode": classifier.decode_mode, **client_recipe(preprocessing, classifier.decode_mode)}
    return serving_spec(classifier.input_size, classifier.task, preprocessing.model_dump(), decode,
                        classifier.has_run_metadata, exports)


def read_serving_spec(model_path: Path) -> dict[str, Any]:
    """``serving.json`` of the export folder that holds ``model_path``."""
    spec_path = model_path.parent / SPEC_NAME
    if not spec_path.is_file():
        raise DlcvError(f"{str(model_path)!r} has no {SPEC_NAME} beside it; expected a folder written by "
                        "dlcv export (its labels and preprocessing are there)")
    try:
        return json.loads(spec_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DlcvError(f"{spec_path} is not valid JSON ({exc})") from None


def check_export_request(formats: Sequence[str], backend: str | None, quantize: str | None) -> None:
    """``dlcv export``'s request checked before Keras starts: known formats, their runtimes installed, the
    TensorFlow backend, ``quantize`` with formats it applies to."""
    unknown = [name for name in formats if name not in FORMATS]
    if unknown or not formats:
        raise DlcvError(f"--format {' '.join(unknown) or '(none)'}: expected one or more of {', '.join(FORMATS)}")
    if backend not in (None, "tensorflow"):
        raise DlcvError(f"--backend {backend}: exports are written on the TensorFlow backend (SavedModel, "
                        "ONNX through tf2onnx and LiteRT are all TensorFlow graphs); a model trained on any "
                        "backend loads there: drop --backend")
    missing = sorted({package for name in formats for package in FORMATS[name].missing()})
    if missing:
        raise DlcvError(f"--format {' '.join(formats)} needs {', '.join(missing)}: pip install "
                        f"{' '.join(missing)} (or pip install 'dlcv[export]')")
    if quantize == "dynamic" and "litert" not in formats:
        raise DlcvError("--quantize applies to LiteRT only; add --format litert")
