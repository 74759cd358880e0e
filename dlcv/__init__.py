"""dlcv — the image-classification toolkit of *Deep Learning for Computer Vision with Python* (Starter
Bundle), on Keras 3.

Importing ``dlcv`` is light: no Keras, no TensorFlow. The flow, module by module:

    dlcv.data            datasets by name, image files, splits          (NumPy, OpenCV, scikit-learn)
    dlcv.preprocessing   the book's preprocessors                        (NumPy, OpenCV)
    dlcv.pipeline        tf.data input pipelines
    dlcv.models          model builders by name                          (Keras)
    dlcv.training        optimizers, schedules, callbacks, the engine    (Keras)
    dlcv.evaluation      reports;  dlcv.inference  loading a run and predicting
    dlcv.reference       the from-scratch NumPy chapters, beside the rest (NumPy only)
"""
__version__ = "0.1.0"
