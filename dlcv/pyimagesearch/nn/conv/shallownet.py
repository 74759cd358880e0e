"""``ShallowNet.build(width, height, depth, classes)`` (ch. 12), over dlcv's registered ``shallownet`` builder."""
from __future__ import annotations

from ....models import build_model


class ShallowNet:
    @staticmethod
    def build(width: int, height: int, depth: int, classes: int):
        """The uncompiled Keras model, laid out per Keras's image data format."""
        return build_model("shallownet", width, height, depth, classes)
