"""``AspectAwarePreprocessor(width, height, inter=cv2.INTER_AREA)``: resize the shorter side, centre-crop."""
from ...preprocessing import AspectAwarePreprocessor

__all__ = ["AspectAwarePreprocessor"]
