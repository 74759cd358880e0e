"""The book's ``pyimagesearch.datasets``."""
from .simpledatasetloader import SimpleDatasetLoader

__all__ = ["SimpleDatasetLoader"]
