"""``LeNet.build(width, height, depth, classes)`` (ch. 14), over dlcv's registered ``lenet`` builder."""
from __future__ import annotations

from ....models import build_model


class LeNet:
    @staticmethod
    def build(width: int, height: int, depth: int, classes: int):
        """The uncompiled Keras model, laid out per Keras's image data format."""
        return build_model("lenet", width, height, depth, classes)
