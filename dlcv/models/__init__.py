"""Model builders, registered by name. Importing this package does not import Keras; building does."""
from . import backbones, fastnet, from_run, lenet, minivggnet, mlp, resnet, shallownet  # noqa: F401  (each registers)
from .registry import MODELS, build_model, check_params, describe_models, get_builder, model_params, register_model

__all__ = ["MODELS", "build_model", "check_params", "describe_models", "get_builder", "model_params",
           "register_model"]
