"""``ImageToArrayPreprocessor(dataFormat=None)``: an image as a float32 array in Keras's layout (ch. 12)."""
from __future__ import annotations

from ...preprocessing import ImageToArrayPreprocessor as _ImageToArray


class ImageToArrayPreprocessor(_ImageToArray):
    def __init__(self, dataFormat: str | None = None) -> None:  # noqa: N803  (the book's name)
        super().__init__(data_format=dataFormat)
