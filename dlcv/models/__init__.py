"""Model builders, registered by name (importing this package imports Keras)."""
from . import lenet, minivggnet, mlp, shallownet  # noqa: F401  (each registers its builders)
from .registry import MODELS, build_model, register_model

__all__ = ["MODELS", "build_model", "register_model"]
