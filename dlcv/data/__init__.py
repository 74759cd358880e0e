"""Data: datasets by name, image files, splits. NumPy, scikit-learn and OpenCV only (no Keras)."""
from .datasets import DATASETS, ImageSet, load_dataset, register_dataset
from .images import list_images, read_image
from .split import Splits, split_dataset

__all__ = ["DATASETS", "ImageSet", "Splits", "list_images", "load_dataset", "read_image",
           "register_dataset", "split_dataset"]
