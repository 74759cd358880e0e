"""``preprocess(image, width, height)`` (ch. 21): fit a digit crop into width x height, padding the short
side with replicated border pixels, over dlcv's :class:`~dlcv.preprocessing.PadPreprocessor`."""
from __future__ import annotations

import numpy as np

from ...preprocessing import PadPreprocessor


def preprocess(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The padded, resized image, with as many dimensions as it came with (a 2-D grey crop stays 2-D)."""
    padded = PadPreprocessor(width, height).preprocess(image)
    return padded[:, :, 0] if np.ndim(image) == 2 else padded
