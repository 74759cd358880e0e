"""Splitting a captcha into one crop per character with contours (the book's approach).

Pad the image with replicated borders (so characters touching the edge get a closed contour), threshold
with Otsu (dark ink becomes foreground), keep the ``count`` largest external contours (specks of noise
are smaller than any character), and sort them left to right.

    crops = segment_digits(captcha_image, count=4)
    [crop.box for crop in crops]      # (x, y, w, h) in the original image, left to right
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import imutils
import imutils.contours
import numpy as np

from ...images import to_uint8_channels

BORDER = 20
MARGIN = 5


@dataclass(frozen=True)
class DigitCrop:
    image: np.ndarray
    """uint8 greyscale crop around one character, with a small margin."""
    box: tuple[int, int, int, int]
    """(x, y, width, height) of the character in the original image."""


def segment_digits(image: np.ndarray, count: int = 4) -> list[DigitCrop]:
    """The ``count`` largest dark blobs of ``image`` (grey or RGB), left to right; fewer if fewer exist."""
    grey = to_uint8_channels(image, 1)[:, :, 0]
    padded = cv2.copyMakeBorder(grey, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_REPLICATE)
    mask = cv2.threshold(padded, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1]
    contours = imutils.grab_contours(cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE))
    # The border closes the contours of characters touching the edge; it must not add blobs of its own
    # (a dark speck in a corner, replicated, becomes a 20x20 square): keep blobs mostly inside the image.
    contours = [c for c in contours if _inside_fraction(cv2.boundingRect(c), grey.shape) >= 0.5]
    contours = sorted(contours, key=cv2.contourArea, reverse=True)[:count]
    if not contours:
        return []
    contours, boxes = imutils.contours.sort_contours(contours, method="left-to-right")
    crops = []
    for x, y, w, h in boxes:
        crop = padded[max(y - MARGIN, 0):y + h + MARGIN, max(x - MARGIN, 0):x + w + MARGIN]
        crops.append(DigitCrop(crop, (x - BORDER, y - BORDER, w, h)))
    return crops


def _inside_fraction(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> float:
    """How much of a bounding box (in padded coordinates) lies inside the original image."""
    x, y, w, h = box
    inside_w = min(x + w, BORDER + shape[1]) - max(x, BORDER)
    inside_h = min(y + h, BORDER + shape[0]) - max(y, BORDER)
    return max(inside_w, 0) * max(inside_h, 0) / (w * h)
