"""The book's ``pyimagesearch.callbacks``."""
from .trainingmonitor import TrainingMonitor

__all__ = ["TrainingMonitor"]
