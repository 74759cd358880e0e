"""Quantized exports: ``dynamic`` (LiteRT: int8 weights, float activations) and ``int8`` (full integer:
activations too, calibrated on training images decoded as in training, so the calibration data is what
clients send).

- LiteRT: the converter's full-integer mode, with a representative data set and
  ``target_spec.supported_ops = [TFLITE_BUILTINS_INT8]`` (Keras's exporter asks for ``TFLITE_BUILTINS`` and
  ``SELECT_TF_OPS``, with which unsupported ops would silently stay float); the input stays uint8, the
  output float32.
- ONNX: ONNX Runtime's static quantization (``quantize_static``: QDQ, per channel, after its pre-processing
  step), with the ``calibration_method`` (minmax, entropy or percentile; LiteRT's converter has its own).

An int8 export is judged by its agreement with the float model's labels on the check images (the test
split, where it is here): below ``min_agreement`` the export fails as a float parity failure does, unless
``allow_drop``.

    quantization = Quantization("int8", images=calibration, method="minmax", min_agreement=0.97)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DlcvError

log = logging.getLogger(__name__)

MODES = ("dynamic", "int8")
METHODS = ("minmax", "entropy", "percentile")
FORMATS_OF = {"dynamic": ("litert",), "int8": ("litert", "onnx")}
"""The formats each mode quantizes (SavedModel: none)."""


@dataclass(frozen=True)
class Quantization:
    mode: str
    images: np.ndarray | None = None
    """int8: the calibration images (uint8, as clients send them)."""
    method: str = "minmax"
    min_agreement: float = 0.97
    allow_drop: bool = False
    origin: str = ""

    def applies_to(self, format_name: str) -> bool:
        return format_name in FORMATS_OF[self.mode]

    def record(self, report) -> dict[str, Any]:
        """serving.json's ``quantization`` of one export."""
        return {"mode": self.mode, "calibration_images": 0 if self.images is None else len(self.images),
                "calibration_method": self.method if self.mode == "int8" else None,
                "accuracy": report.accuracy, "reference_accuracy": report.reference_accuracy,
                "agreement": report.agreement}


def check_quantize_request(mode: str | None, formats, method: str, min_agreement: float) -> None:
    """The request checked before Keras starts: a known mode and method, a format it applies to."""
    if mode is None:
        return
    if mode not in MODES:
        raise DlcvError(f"--quantize {mode}: expected {' or '.join(MODES)}")
    if method not in METHODS:
        raise DlcvError(f"--calibration-method {method}: expected one of {', '.join(METHODS)}")
    if not 0 < min_agreement <= 1:
        raise DlcvError(f"--min-agreement {min_agreement}: expected a share in (0, 1]")
    if "saved_model" in formats:
        raise DlcvError("--quantize: a SavedModel is exported in float32; expected --format litert and/or onnx")
    if not any(name in FORMATS_OF[mode] for name in formats):
        raise DlcvError(f"--quantize {mode} applies to {' and '.join(FORMATS_OF[mode])}; add --format "
                        f"{FORMATS_OF[mode][0]}")


def litert_options(quantization: Quantization | None) -> dict[str, Any]:
    """Keras's ``export(format="litert", ...)`` converter settings of a quantization."""
    if quantization is None:
        return {}
    import tensorflow as tf

    options: dict[str, Any] = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if quantization.mode == "int8":
        images = quantization.images

        def representative():
            for image in images:
                yield [image[None]]

        options.update(representative_dataset=representative,
                       target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]})
    return options


def quantize_onnx(path: Path, quantization: Quantization) -> None:
    """``path`` (a float ONNX model) replaced by its static int8 quantization."""
    import onnxruntime
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    name = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Images(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = iter(quantization.images)

        def get_next(self):
            image = next(self.left, None)
            return None if image is None else {name: image[None]}

    prepared, quantized = path.with_suffix(".pre.onnx"), path.with_suffix(".int8.onnx")
    try:
        # skip_symbolic_shape: its symbolic inference needs sympy, and dlcv's shapes are static but the batch
        quant_pre_process(str(path), str(prepared), skip_symbolic_shape=True)
        method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                  "percentile": CalibrationMethod.Percentile}[quantization.method]
        quantize_static(str(prepared), str(quantized), Images(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=method)
        quantized.replace(path)
    finally:
        prepared.unlink(missing_ok=True)
        quantized.unlink(missing_ok=True)


def calibration_images(classifier, train, count: int, seed: int, paths: list[str]) -> tuple[np.ndarray, str]:
    """Up to ``count`` images of the run's training split ``train`` (None: not here), stratified by class and
    seeded, decoded as in training (or ``paths``, decoded so); fewer than asked is said in one line."""
    if paths:
        return np.stack([classifier.decode(path) for path in paths]), f"{len(paths)} images from --calibration-images"
    if train is None or not len(train.labels):
        raise DlcvError("--quantize int8: the run's training images are not here to calibrate on; expected "
                        "--calibration-images FILES (photos like those it will see)")
    rows = _stratified_rows(np.asarray(train.labels), count, seed)
    if len(rows) < count:
        log.info(f"--calibration-count {count}: the training split has {len(rows)} images; calibrating on those")
    return train.batch(np.sort(rows))[0], f"{len(rows)} images of the run's training split"


def _stratified_rows(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` rows, each class's share kept (multi-label rows: drawn at random), seeded."""
    rng = np.random.default_rng(seed)
    if count >= len(labels):
        return np.arange(len(labels))
    if labels.ndim == 2:
        return rng.choice(len(labels), count, replace=False)
    from sklearn.model_selection import train_test_split

    try:
        rows, _ = train_test_split(np.arange(len(labels)), train_size=count, stratify=labels, random_state=seed)
    except ValueError:  # a class too small to stratify: at random
        rows = rng.choice(len(labels), count, replace=False)
    return np.asarray(rows)
