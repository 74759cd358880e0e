"""Model builders, registered by name (importing this package imports Keras)."""
from . import mlp  # noqa: F401  (registers linear, mlp)
from .registry import MODELS, build_model, register_model

__all__ = ["MODELS", "build_model", "register_model"]
