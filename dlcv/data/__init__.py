"""Data: datasets by name, image folders, label tables, HDF5 stores, the decode-once cache, splits, streaming.
NumPy, scikit-learn, OpenCV, h5py (no Keras).

Importing the package registers every source (``digits``, ``mnist``, ``cifar10``, ``folder``, ``labels``, ``hdf5``).
"""
from . import builtin, folder, store, table  # noqa: F401  (each registers its datasets)
from .prepare import PreparedData, count_split, prepare_data
from .registry import DATASETS, DatasetSpec, get_dataset, load_dataset, register_dataset
from .sources import ImageSource, StreamedSet
from .types import ImageSet, Splits

__all__ = ["DATASETS", "DatasetSpec", "ImageSet", "ImageSource", "PreparedData", "Splits", "StreamedSet",
           "count_split", "get_dataset", "load_dataset", "prepare_data", "register_dataset"]
