"""``SimpleDatasetLoader(preprocessors=None)`` and ``load(imagePaths, verbose=-1)`` (ch. 7).

As the book's: images come in OpenCV's BGR order (it read them with ``cv2.imread``), labels are the
names of the folders the images are in, and ``verbose=N`` prints a line every N images. dlcv's own
loader underneath decodes on every core and skips unreadable files instead of crashing on them.
"""
from __future__ import annotations

from collections.abc import Sequence

from ...data.loader import SimpleDatasetLoader as _Loader


class SimpleDatasetLoader(_Loader):
    def __init__(self, preprocessors: Sequence | None = None) -> None:
        super().__init__(preprocessors, channels=3, progress=False, channel_order="bgr")

    def load(self, imagePaths, verbose: int = -1):  # noqa: N803  (the book's name)
        return super().load(imagePaths, verbose=verbose)
