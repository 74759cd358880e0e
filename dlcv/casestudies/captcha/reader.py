"""Reading a captcha with a trained digit classifier: segment, preprocess each crop as the model's run
did in training, classify, and join the digits left to right (the book's ``test_model.py``).

    reader = CaptchaReader(load_classifier("output/captcha/model.h5"))
    reading = reader.read(cv2.imread("captcha.png"))
    reading.text, cv2.imwrite("read.png", reader.draw(image, reading))
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ... import files
from ...images import expand_image_paths, read_image, to_uint8_channels
from ...inference import Classifier, load_classifier
from ...runtime import start_keras
from .segment import DigitCrop, segment_digits
from .synthetic import text_from_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    text: str
    """The characters read, left to right ("" if segmentation found none)."""
    crops: list[DigitCrop]
    probabilities: list[float]

    @property
    def complete(self) -> bool:
        """True when segmentation found as many characters as the captcha has."""
        return len(self.crops) == len(self.text) and bool(self.text)


class CaptchaReader:
    def __init__(self, classifier: Classifier, length: int = 4) -> None:
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        self.classifier, self.length = classifier, length

    def read(self, image: np.ndarray) -> Reading:
        """Segment ``image`` into ``length`` characters and classify each."""
        crops = segment_digits(image, self.length)
        if not crops:
            return Reading("", [], [])
        batch = np.stack([self.classifier.prepare(crop.image) for crop in crops])
        probabilities = self.classifier.predict_arrays(batch)
        best = probabilities.argmax(-1)
        text = "".join(self.classifier.class_names[i] for i in best)
        return Reading(text, crops, [float(p[i]) for p, i in zip(probabilities, best)])

    @staticmethod
    def draw(image: np.ndarray, reading: Reading) -> np.ndarray:
        """A BGR copy of ``image``, enlarged, with each character's box and predicted label drawn on it."""
        scale = 3
        canvas = cv2.resize(to_uint8_channels(image, 3), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        canvas = cv2.copyMakeBorder(canvas, 40, 0, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        for crop, label in zip(reading.crops, reading.text):
            x, y, w, h = (v * scale for v in crop.box)
            cv2.rectangle(canvas, (x - 2, y + 38), (x + w + 2, y + h + 42), (0, 255, 0), 2)
            cv2.putText(canvas, label, (x, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 255), 2)
        return canvas


def read_captcha_files(model: str, captchas: list[str], output: Path, length: int = 4,
                       backend: str | None = None, verbose: bool = False) -> float | None:
    """ch. 21's test_model.py: read each captcha, print it, draw it; the accuracy where names carry answers."""
    paths = expand_image_paths(captchas)
    output = files.ensure_writable_dir(output)
    start_keras(backend, verbose)
    reader = CaptchaReader(load_classifier(model), length)
    right = known = 0
    for path in paths:
        image = read_image(path, channels=1)
        reading = reader.read(image)
        truth = text_from_name(path)
        verdict = "" if truth is None else ("  ok" if reading.text == truth else f"  WRONG (is {truth})")
        log.info(f"{path}\t{reading.text or '(no characters found)'}{verdict}")
        files.write_image(output / f"{Path(path).stem}_read.png", reader.draw(image, reading))
        if truth is not None:
            known, right = known + 1, right + (reading.text == truth)
    if known:
        log.info(f"[INFO] {right}/{known} captchas read fully correctly ({right / known:.2%})")
    log.info(f"[INFO] annotated captchas in {output}/")
    return right / known if known else None
