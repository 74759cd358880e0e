"""``MiniVGGNet.build(width, height, depth, classes)`` (ch. 15), over dlcv's registered ``minivggnet`` builder."""
from __future__ import annotations

from ....models import build_model


class MiniVGGNet:
    @staticmethod
    def build(width: int, height: int, depth: int, classes: int):
        """The uncompiled Keras model, laid out per Keras's image data format."""
        return build_model("minivggnet", width, height, depth, classes)
