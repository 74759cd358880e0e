"""dlcv — the image-classification toolkit of *Deep Learning for Computer Vision with Python* (Starter
Bundle), on Keras 3.

Importing ``dlcv`` is light: no Keras, no TensorFlow. The flow, module by module:

    dlcv.data            datasets by name, image folders, stores, splits  (NumPy, OpenCV, scikit-learn)
    dlcv.preprocessing   the book's preprocessors                         (NumPy, OpenCV)
    dlcv.inputs          uint8 images -> model input, the one contract;  dlcv.pipeline  tf.data / PyDataset
    dlcv.models          model builders by name                           (Keras, imported when building)
    dlcv.training        optimizers, schedules, callbacks, routes, the engine
    dlcv.evaluation      reports;  dlcv.saving  a run's files;  dlcv.runs  reading a run folder back
    dlcv.export          serving formats (SavedModel, ONNX, LiteRT), checked against Keras
    dlcv.inference       loading a run (or an export) and predicting;  dlcv.predictions  text/CSV/JSON
    dlcv.app             one function per user action (the CLI and the scripts call these)
    dlcv.pyimagesearch   the book's own names and signatures
    dlcv.reference       the from-scratch NumPy chapters, beside the rest (NumPy only)
"""
import logging
import os

__version__ = "0.1.0"

# A second line against decompression bombs (dlcv.images checks each file's header first): OpenCV's own
# pixel limit, read when cv2 is first imported, lowered from its 2**30 to dlcv's ($DLCV_MAX_PIXELS, else
# Pillow's 89,478,485), where neither the user nor an earlier import of cv2 has set it. OpenCV parses it
# with C++'s stoull and aborts the process on what is not a number: only a whole number reaches it; any
# other $DLCV_MAX_PIXELS is refused in one line by dlcv.images.max_pixels where the limit is used.
_limit = os.environ.get("DLCV_MAX_PIXELS", "").strip()
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS",
                      _limit if _limit.isascii() and _limit.isdigit() and 0 < int(_limit) < 2**63 else "89478485")

# The library logs under "dlcv" and is silent until logging is configured (dlcv.console: the command
# line's printing); without this, Python would print warnings through its last-resort handler.
logging.getLogger(__name__).addHandler(logging.NullHandler())
