"""Data: datasets by name, image folders, HDF5 stores, splits. NumPy, scikit-learn, OpenCV, h5py (no Keras).

Importing the package registers every source (``digits``, ``mnist``, ``cifar10``, ``folder``, ``hdf5``).
"""
from . import builtin, folder, store  # noqa: F401  (each registers its datasets)
from .prepare import PreparedData, count_split, prepare_data
from .registry import DATASETS, DatasetSpec, get_dataset, load_dataset, register_dataset
from .split import split_dataset
from .types import ImageSet, Splits

__all__ = ["DATASETS", "DatasetSpec", "ImageSet", "PreparedData", "Splits", "count_split", "get_dataset",
           "load_dataset", "prepare_data", "register_dataset", "split_dataset"]
