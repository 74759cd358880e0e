"""Smile detection in video (ch. 22): find faces, classify each with a model trained on SMILES, draw.

The model is any dlcv run trained on face crops (``configs/smiles_lenet.yaml``: LeNet on 28×28 grey
faces); each face is prepared exactly as the run's preprocessing prepared its training images.

    detector = SmileDetector(load_classifier("output/smiles_lenet/model.h5"))
    summary = annotate_video(detector, "clip.mp4", "output/smiles_lenet/clip-annotated.avi")
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import files
from ..errors import DlcvError
from ..inference import Classifier, load_classifier
from ..runtime import start_keras
from .faces import FaceDetector

log = logging.getLogger(__name__)

CODECS = {".avi": "MJPG", ".mp4": "mp4v"}
PALETTE = [(0, 0, 255), (0, 200, 0), (255, 128, 0), (0, 200, 255)]  # BGR; not_smiling red, smiling green


@dataclass(frozen=True)
class FaceLabel:
    box: tuple[int, int, int, int]
    label: str
    probability: float


class SmileDetector:
    def __init__(self, classifier: Classifier, faces: FaceDetector | None = None) -> None:
        self.classifier, self.faces = classifier, faces or FaceDetector()

    def label_frame(self, frame: np.ndarray) -> list[FaceLabel]:
        """Every face in a BGR frame, with the model's label for it."""
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        boxes = self.faces.detect(grey)
        if not boxes:
            return []
        # Grey crops, as SMILES's faces are grey; prepare() gives the model its channel count and size.
        crops = [self.classifier.prepare(grey[y:y + h, x:x + w]) for x, y, w, h in boxes]
        probabilities = self.classifier.predict_arrays(np.stack(crops))
        return [FaceLabel(box, self.classifier.class_names[int(p.argmax())], float(p.max()))
                for box, p in zip(boxes, probabilities)]

    def draw(self, frame: np.ndarray, labels: list[FaceLabel]) -> np.ndarray:
        """A copy of the BGR ``frame`` with each face boxed and labelled, one colour per class."""
        canvas = frame.copy()
        for face in labels:
            x, y, w, h = face.box
            colour = PALETTE[self.classifier.class_names.index(face.label) % len(PALETTE)]
            cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, 2)
            cv2.putText(canvas, f"{face.label} {face.probability:.2f}", (x, max(y - 10, 12)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 2)
        return canvas


@dataclass
class VideoSummary:
    frames: int = 0
    faces: int = 0
    labels: Counter = field(default_factory=Counter)
    output: Path | None = None


def annotate_video(detector: SmileDetector, source: str | int, output: str | os.PathLike,
                   display: bool = False, max_frames: int | None = None) -> VideoSummary:
    """Label every frame of ``source`` (a video file or a camera index) and write the annotated video.

    The video is written to a temporary file and renamed when the source ends (or ``q`` is pressed in
    the ``display`` window, or Ctrl-C stops a camera), so an interrupted run never leaves half a file
    under the output name.
    """
    output = Path(output)
    if output.suffix.lower() not in CODECS:
        raise DlcvError(f"output video {str(output)!r}: expected a .avi (MJPG) or .mp4 (mp4v) file name")
    if isinstance(source, str) and not Path(source).is_file():
        raise DlcvError(f"video file not found: {source!r}")
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise DlcvError(f"cannot open video source {source!r}; expected a video file or a camera index")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    summary, writer = VideoSummary(output=output), None
    try:
        with files.atomic_path(output) as tmp:
            try:
                while max_frames is None or summary.frames < max_frames:
                    grabbed, frame = capture.read()
                    if not grabbed:
                        break
                    labels = detector.label_frame(frame)
                    annotated = detector.draw(frame, labels)
                    if writer is None:
                        height, width = annotated.shape[:2]
                        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*CODECS[output.suffix.lower()]),
                                                 fps, (width, height))
                    writer.write(annotated)
                    summary.frames += 1
                    summary.faces += len(labels)
                    summary.labels.update(face.label for face in labels)
                    if display and _show(annotated):
                        break
            except KeyboardInterrupt:  # a camera has no end: Ctrl-C finishes the file
                pass
            if writer is not None:
                writer.release()
            if summary.frames == 0:
                raise DlcvError(f"no frames could be read from {source!r}")
    finally:
        capture.release()
        if display:
            with contextlib.suppress(cv2.error):
                cv2.destroyAllWindows()
    return summary


def _show(frame: np.ndarray) -> bool:
    """Show a frame; True when the user pressed q."""
    try:
        cv2.imshow("dlcv: smiles (q to quit)", frame)
        return cv2.waitKey(1) & 0xFF == ord("q")
    except cv2.error:
        raise DlcvError("--display needs a screen and OpenCV with GUI support (pip install opencv-python); "
                        "without it, the annotated video is still written") from None


def detect_smiles(model: str, source: str | int, output: Path, display: bool = False,
                  max_frames: int | None = None, backend: str | None = None, verbose: bool = False) -> VideoSummary:
    """ch. 22's detect_smile.py: label the faces of every frame and write the annotated video."""
    if isinstance(source, str) and not os.path.isfile(source):  # before the slow Keras import
        raise DlcvError(f"video file not found: {source!r}")
    files.ensure_writable_dir(Path(output).parent)
    start_keras(backend, verbose)
    summary = annotate_video(SmileDetector(load_classifier(model)), source, output, display, max_frames)
    counts = ", ".join(f"{label} {n}" for label, n in sorted(summary.labels.items())) or "none"
    log.info(f"[INFO] {summary.frames} frames, {summary.faces} faces ({counts}); wrote {summary.output}")
    return summary
