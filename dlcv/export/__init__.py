"""Exporting a trained model for serving: SavedModel (TensorFlow Serving), ONNX, LiteRT.

    dlcv export output/shallownet_animals --format saved_model onnx litert

:mod:`dlcv.export.formats` writes each format and loads it in its own runtime (prediction uses it
too, so this package imports nothing itself); :mod:`dlcv.export.exporter` bakes the run's
preprocessing into the graph, checks every export against Keras and renames the folder into place.
"""
