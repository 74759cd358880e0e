"""Finding faces with OpenCV's Haar cascade, the detector the book's smile case study uses (ch. 22).

Why a Haar cascade: it comes with the ``opencv-python(-headless)`` wheel (the XML files are in
``cv2.data.haarcascades``), works offline and runs in real time on a CPU. OpenCV 5 removed
``CascadeClassifier`` from the main module, which is why requirements.txt pins OpenCV 4.x; OpenCV's DNN
detectors (YuNet) would need a model file downloaded separately.

    faces = FaceDetector()
    for x, y, w, h in faces.detect(frame):
        ...
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import DlcvError
from ..images import to_uint8_channels

FRONTAL_FACE = "haarcascade_frontalface_default.xml"


class FaceDetector:
    def __init__(self, cascade: str | os.PathLike | None = None, scale_factor: float = 1.1,
                 min_neighbors: int = 5, min_size: tuple[int, int] = (30, 30)) -> None:
        if scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be > 1 (the image pyramid's step), got {scale_factor}")
        if min_neighbors < 0:
            raise ValueError(f"min_neighbors must be >= 0, got {min_neighbors}")
        path = Path(cascade) if cascade else Path(cv2.data.haarcascades) / FRONTAL_FACE
        classifier = cv2.CascadeClassifier(str(path)) if path.is_file() else None
        if classifier is None or classifier.empty():
            raise DlcvError(f"cannot load the face cascade {str(path)!r}; expected an OpenCV Haar cascade XML")
        self._classifier = classifier
        self.scale_factor, self.min_neighbors, self.min_size = scale_factor, min_neighbors, tuple(min_size)

    def detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """(x, y, width, height) of each face in a grey or BGR/RGB uint8 image."""
        grey = image if image.ndim == 2 else to_uint8_channels(image, 1)[:, :, 0]
        found = self._classifier.detectMultiScale(grey, scaleFactor=self.scale_factor,
                                                  minNeighbors=self.min_neighbors, minSize=self.min_size,
                                                  flags=cv2.CASCADE_SCALE_IMAGE)
        return [tuple(int(v) for v in box) for box in found]
