"""The book's ``pyimagesearch`` package, as thin names over dlcv's own code.

A script from *Deep Learning for Computer Vision with Python* (Starter Bundle) runs on Keras 3 after
replacing ``pyimagesearch`` with ``dlcv.pyimagesearch`` in its imports — once its own Keras calls are
Keras 3's (``SGD(learning_rate=...)``, ``H.history["accuracy"]``...; README, "Coming from the book"):

    from dlcv.pyimagesearch.preprocessing import SimplePreprocessor, ImageToArrayPreprocessor
    from dlcv.pyimagesearch.datasets import SimpleDatasetLoader
    from dlcv.pyimagesearch.nn.conv import ShallowNet
    from dlcv.pyimagesearch.callbacks import TrainingMonitor

Same module names (``preprocessing.simplepreprocessor``...), class names and signatures as the book;
the behaviour is dlcv's (e.g. the loader decodes on every core and skips unreadable files).
"""
