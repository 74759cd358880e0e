"""``dlcv export``: a trained model in serving formats, each checked against Keras in its own runtime.

The exported graph takes uint8 images (the run's height, width and channels) and returns class
probabilities; :func:`serving_model` wraps the trained network with the one input contract
(:func:`dlcv.inputs.model_input`) so a client sends an image, not a float tensor it must scale exactly
as training did. Every format is written into a temporary folder, loaded back with its runtime and run
on check images — the run's test split when its data is present, else ``check_images``, else generated
images — and compared with the Keras model: a float32 export that differs by more than
``TOLERANCE`` or disagrees on any top-1 label fails the whole export (nothing is left behind). The
folder is renamed into place only when every format passed.

    classifier = load_classifier("output/shallownet/model.keras")
    check = check_images(classifier, RunFolder("output/shallownet").saved_config())   # its test split, if here
    reports = export_model(classifier, ["onnx", "litert"], Path("output/shallownet/export"), check)
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import files
from ..config import ExperimentConfig
from ..errors import DlcvError, ExportFailed
from ..evaluation import wilson_interval
from ..inference import Classifier
from ..task import Task
from .formats import FORMATS, INPUT_NAME, SPEC_NAME, spec_of
from .quantization import Quantization

log = logging.getLogger(__name__)

TOLERANCE = 1e-4
"""Largest absolute difference in any class probability a float32 export may show against Keras."""
MAX_CHECK_IMAGES = 1000
GENERATED_IMAGES = 32


@dataclass(frozen=True)
class CheckImages:
    images: np.ndarray
    labels: np.ndarray | None
    """Class indexes when the images come from the run's test split (then accuracy can be compared)."""
    origin: str


@dataclass(frozen=True)
class FormatReport:
    name: str
    path: Path
    bytes: int
    max_difference: float
    agreement: float
    images_per_second: float
    quantized: bool
    accuracy: float | None
    reference_accuracy: float | None
    quantization: Quantization | None = None
    checked: int = 0
    """How many images it was checked on."""

    @property
    def passed(self) -> bool:
        if self.quantization is None:
            return self.max_difference <= TOLERANCE and self.agreement == 1.0
        if self.quantization.mode == "dynamic":  # reported, never gated (as it always was)
            return True
        return self.agreement >= self.quantization.min_agreement or self.quantization.allow_drop


def serving_model(model, input_size: tuple[int, int, int]):
    """A Keras model taking uint8 NHWC images at ``input_size`` and returning float32 probabilities."""
    import keras

    from ..inputs import model_input

    inputs = keras.Input(input_size, dtype="uint8", name=INPUT_NAME)
    outputs = keras.ops.cast(model(model_input(inputs), training=False), "float32")
    wrapped = keras.Model(inputs, outputs, name=f"{model.name}_serving")
    wrapped(np.zeros((1, *input_size), np.uint8))  # Keras's ONNX export refuses a model never called
    return wrapped


def check_images(classifier: Classifier, config: ExperimentConfig | None, paths: Sequence[str] = ()) -> CheckImages:
    """Images to compare the exports on: the run's test split (its data still present), else the files
    given, else seeded random images at the model's input size."""
    if config is not None:
        test = run_split(config)
        if test is not None and len(test.labels):
            count = min(len(test.labels), MAX_CHECK_IMAGES)
            images, labels = test.batch(np.arange(count))
            return CheckImages(images, np.asarray(labels), f"{len(labels)} images of the run's test split")
    if paths:
        return CheckImages(np.stack([classifier.decode(path) for path in paths]), None,
                           f"{len(paths)} images from --check-images")
    generated = np.random.default_rng(0).integers(0, 256, (GENERATED_IMAGES, *classifier.input_size), dtype=np.uint8)
    return CheckImages(generated, None, f"{GENERATED_IMAGES} generated images (the run's data is not here; "
                                        "--check-images gives real ones)")


def run_split(config: ExperimentConfig, part: str = "test"):
    """The run's ``test`` split (the check images) or ``train`` split (int8's calibration images), reading
    no more than it needs: a folder or store is streamed (only the images used are decoded, whatever the
    dataset's size), other datasets are small and in memory; None where the data is gone."""
    import contextlib
    import io

    from ..data import get_dataset, prepare_data

    if get_dataset(config.dataset.name).streams:
        config = config.model_copy(update={"dataset": config.dataset.model_copy(
            update={"streaming": True, "cache": "none"})})
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the data layer's "streaming N images" line
            return getattr(prepare_data(config, progress=False, with_test=part == "test").splits, part)
    except DlcvError:  # the training data is gone, moved or unreachable: a run folder is portable
        return None


def export_model(classifier: Classifier, formats: Sequence[str], output: Path, check: CheckImages,
                 quantization: Quantization | None = None, force: bool = False) -> list[FormatReport]:
    """Write ``formats`` of ``classifier``'s Keras model into ``output`` (with ``serving.json`` and the class
    names), each checked against Keras; raises :class:`ExportFailed` (and writes nothing) on a mismatch."""
    serving = serving_model(classifier.model, classifier.input_size)
    reference = classifier.predict_arrays(check.images)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = files.temporary_dir(output.parent, "export-")
    try:
        reports = []
        for name in formats:
            fmt = FORMATS[name]
            path = staging / fmt.filename
            applied = quantization if quantization is not None and quantization.applies_to(name) else None
            with files.reporting_write_failures(output / fmt.filename):
                fmt.write(serving, path, quantization=applied)
            reports.append(_check(name, path, output / fmt.filename, fmt.load(path), check, reference,
                                  applied, classifier.task))
        failed = [report for report in reports if not report.passed]
        if failed:
            raise ExportFailed("export failed its parity check, nothing was written: " + "; ".join(
                _failure(r, classifier.task.agreement) for r in failed) + f" ({check.origin})")
        dropped = [r for r in reports if r.quantization is not None and r.quantization.mode == "int8"
                   and r.agreement < r.quantization.min_agreement]
        for r in dropped:
            log.warning(f"{r.name} ({r.quantization.mode}) agrees with Keras on {r.agreement:.1%} of "
                        f"{classifier.task.agreement}, below --min-agreement {r.quantization.min_agreement:g}: "
                        "written anyway (--allow-drop)")
        _write_metadata(staging, classifier, reports, check)
        _move_into_place(staging, output, force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return reports


def _failure(report: FormatReport, agreement: str) -> str:
    if report.quantization is not None:
        return (f"{report.name} ({report.quantization.mode}) agrees with Keras on {report.agreement:.1%} of "
                f"{agreement}, below --min-agreement {report.quantization.min_agreement:g} (--allow-drop writes "
                "it anyway)")
    return (f"{report.name} differs from Keras by up to {report.max_difference:.2g} (tolerance {TOLERANCE:g}) and "
            f"agrees on {report.agreement:.1%} of {agreement}")


def _check(name: str, staged: Path, final: Path, forward, check: CheckImages, reference: np.ndarray,
           quantization: Quantization | None, task: Task) -> FormatReport:
    """Run the export in its runtime on the check images: difference, agreement (of the ``task``'s
    decisions: top-1 labels, or label sets at the run's thresholds), speed."""
    forward(check.images[:1])  # warm up (allocation, first-call compilation)
    started = time.perf_counter()
    probabilities = np.concatenate([forward(check.images[i:i + 64]) for i in range(0, len(check.images), 64)])
    seconds = time.perf_counter() - started
    probabilities = task.calibrated(probabilities)  # as a client applies serving.json's temperature
    ours, theirs = task.decide(probabilities), task.decide(reference)
    truth = None if check.labels is None else task.truth(check.labels)
    same = task.same_decisions
    return FormatReport(name, final, _size(staged), float(np.max(np.abs(probabilities - reference))),
                        same(ours, theirs), len(check.images) / seconds, quantization is not None,
                        None if truth is None else same(ours, truth), None if truth is None else same(theirs, truth),
                        quantization, len(check.images))


def _write_metadata(staging: Path, classifier: Classifier, reports: list[FormatReport], check: CheckImages) -> None:
    exports = {r.name: {"path": r.path.name, "runtime": FORMATS[r.name].runtime, "bytes": r.bytes,
                        "quantized": r.quantized, "max_abs_difference": r.max_difference,
                        "agreement": r.agreement, "checked_on": check.origin,
                        **({"quantization": r.quantization.record(r)} if r.quantization is not None else {})}
               for r in reports}
    files.write_json(staging / SPEC_NAME, spec_of(classifier, exports))
    files.write_json(staging / "class_names.json", list(classifier.class_names))


def _move_into_place(staging: Path, output: Path, force: bool) -> None:
    """Rename the checked folder onto ``output``; an old one (``--force``) is moved aside first, so at
    every moment ``output`` is either the old export or the new one, whole."""
    with files.reporting_write_failures(output):
        if output.exists():
            if not force and any(output.iterdir()):
                raise DlcvError(f"--output {str(output)!r} exists and is not empty; pass --force to replace it")
            old = files.temporary_dir(output.parent, "old-")
            os.replace(output, old / output.name)
            os.replace(staging, output)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, output)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def log_reports(reports: list[FormatReport], origin: str, target: Path, agreement: str = "top-1 labels") -> None:
    """The exports' table: each format's file, size, largest difference from Keras, agreement and speed."""
    agrees = "sets agree" if agreement == "label sets" else "top-1 agrees"
    log.info(f"\n{'format':<14} {'file':<14} {'size':>9}  {'max |dp|':>9}  {agrees:>12}  {'images/s':>9}")
    for r in reports:
        name = r.name + (f" ({r.quantization.mode})" if r.quantization is not None else "")
        log.info(f"{name:<14} {r.path.name + ('/' if r.path.suffix == '' else ''):<14} {r.bytes / 1e6:>7.2f} MB"
                 f"  {r.max_difference:>9.2g}  {r.agreement:>12.1%}  {r.images_per_second:>9,.0f}")
        if r.quantized and r.accuracy is not None:
            low, high = wilson_interval(round(r.accuracy * r.checked), r.checked)
            change = r.accuracy - r.reference_accuracy
            log.info(f"  {r.name} {r.quantization.mode}: test accuracy {r.accuracy:.4f} (95% interval {low:.4f}-"
                     f"{high:.4f}) against Keras's {r.reference_accuracy:.4f} ({change:+.4f}) on {origin}")
    checked = [r.name for r in reports if not r.quantized]
    if checked:
        log.info(f"{', '.join(checked)}: within {TOLERANCE:g} of Keras's probabilities, the same {agreement}")
    log.info(f"written to {target}/ with serving.json and class_names.json")
