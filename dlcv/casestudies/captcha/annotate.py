"""Labelling digit crops for training: segment each captcha and file every crop under its label.

Two labellers: :func:`keyboard_labels` shows each crop and takes a key press (the book's
``annotate.py``, for real captchas), and :func:`labels_from_name` reads the answer from a
:func:`~.synthetic.write_captchas` file name. Crops go to ``<output>/<label>/<n>.png``, the
``<class>/<image>`` layout every dlcv dataset loader reads; numbering continues after existing files, so
an annotation session can be stopped and continued.

    summary = annotate(paths, "datasets/captcha_digits", labels_from_name)
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import cv2

from ... import files
from ...errors import DlcvError
from ...images import UnreadableImage, list_images, read_image
from .segment import DigitCrop, segment_digits
from .synthetic import text_from_name

log = logging.getLogger(__name__)

Labeller = Callable[[str, Sequence[DigitCrop]], list[str | None] | None]
"""(captcha path, its crops) -> one label per crop (None: leave that crop out), or None to skip the captcha."""


@dataclass
class AnnotationSummary:
    written: dict[str, int] = field(default_factory=dict)
    """Crops written per label."""
    skipped: list[str] = field(default_factory=list)
    """Captchas left out: unreadable, segmented into the wrong number of characters, or skipped."""


def annotate(captcha_paths: Iterable[str | os.PathLike], output: str | os.PathLike, labeller: Labeller,
             length: int = 4) -> AnnotationSummary:
    """Segment each captcha into ``length`` crops and write each crop under the label ``labeller`` gives."""
    output = files.ensure_writable_dir(output)
    summary = AnnotationSummary()
    next_index: dict[str, int] = {}
    for path in map(str, captcha_paths):
        try:
            crops = segment_digits(read_image(path, channels=1), length)
        except UnreadableImage:
            summary.skipped.append(path)
            continue
        labels = labeller(path, crops) if len(crops) == length else None
        if labels is None:
            summary.skipped.append(path)
            continue
        for crop, label in zip(crops, labels):
            if label is None:
                continue
            folder = output / label
            if label not in next_index:
                folder.mkdir(exist_ok=True)
                numbers = [int(p.stem) for p in folder.glob("*.png") if p.stem.isdigit()]
                next_index[label] = max(numbers, default=-1) + 1  # never over an existing crop
            files.write_image(folder / f"{next_index[label]:06d}.png", crop.image)
            next_index[label] += 1
            summary.written[label] = summary.written.get(label, 0) + 1
    return summary


def labels_from_name(path: str, crops: Sequence[DigitCrop]) -> list[str | None] | None:
    """The digits a generated captcha's file name carries, one per crop (None if they do not match)."""
    text = text_from_name(path)
    return list(text) if text is not None and len(text) == len(crops) else None


SKIP_KEY = ord("'")


def keyboard_labels(path: str, crops: Sequence[DigitCrop]) -> list[str | None]:
    """Show each crop enlarged; the key pressed is its label (``'`` leaves the crop out)."""
    labels: list[str | None] = []
    for crop in crops:
        enlarged = cv2.resize(crop.image, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)
        try:
            cv2.imshow("crop: press its character, ' to skip", enlarged)
            key = cv2.waitKey(0) & 0xFF
        except cv2.error:
            raise DlcvError("the keyboard labeller needs a screen and OpenCV with GUI support "
                            "(pip install opencv-python); for generated captchas use --from-names") from None
        labels.append(None if key == SKIP_KEY else chr(key).upper())
    return labels


def list_captchas(folder: str | os.PathLike) -> list[str]:
    """The captcha images in ``folder``, sorted; a one-line error when there are none."""
    paths = list_images(folder)
    if not paths:
        raise DlcvError(f"no captcha images in {str(folder)!r}; expected .png/.jpg files")
    return paths


def annotate_captcha_files(captchas: str, output: str, from_names: bool, length: int = 4) -> AnnotationSummary:
    """ch. 21's annotate.py: file each segmented digit under its label, typed or from the file name."""
    summary = annotate(list_captchas(captchas), output, labels_from_name if from_names else keyboard_labels,
                       length)
    total = sum(summary.written.values())
    log.info(f"[INFO] wrote {total} digit crops to {output}/: "
          + ", ".join(f"{label} {n}" for label, n in sorted(summary.written.items())))
    if summary.skipped:
        log.info(f"[INFO] skipped {len(summary.skipped)} captcha(s) not segmented into {length} characters")
    return summary
