"""``SimplePreprocessor(width, height, inter=cv2.INTER_AREA)``: resize, ignoring the aspect ratio (ch. 7)."""
from ...preprocessing import SimplePreprocessor

__all__ = ["SimplePreprocessor"]
