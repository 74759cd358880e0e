"""A finished dlcv run's network as the backbone of a new model: pretrain on a big in-house folder, then
adapt to a small one.

    model: {name: from_run, params: {run: output/big_folder, trainable: false}}
    fine_tune: {epochs: 10, unfreeze: all, learning_rate: 1.0e-4}

The run's network without its classifier (everything up to the input of its last Dense layer) becomes the
backbone, behind a new head for the new dataset's classes (pooling where its output is a feature map,
dropout, one softmax Dense layer), frozen, unfrozen and fine-tuned as a pretrained backbone is. The input
size and channels are the run's: :func:`run_input` states them and the checks refuse a config that
contradicts them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from ..config import ExperimentConfig, PreprocessingConfig
from ..errors import ConfigError
from ..runs import RunFolder
from .backbones import Trainable, inference_mode, set_trainable
from .heads import classifier_output
from .layout import image_input
from .registry import register_model


def run_model_file(run: str | Path) -> Path:
    """The finished run's Keras model file (``model.keras``, else ``model.h5``), or a one-line error."""
    folder = RunFolder(Path(run).expanduser())
    for path in (folder.model_keras_file, folder.model_h5_file):
        if path.is_file():
            return path
    raise ConfigError(f"model.params.run: no finished dlcv run in {str(run)!r} (no model.keras or model.h5); "
                      "expected a run folder written by dlcv train")


def run_input(run: str | Path) -> PreprocessingConfig:
    """The preprocessing (input size, channels, resize) the run's network was trained with."""
    run_model_file(run)
    saved = RunFolder(Path(run).expanduser()).saved_config()
    if saved is None:
        raise ConfigError(f"model.params.run: {str(run)!r} has no config.yaml; expected a run folder written by "
                          "dlcv train")
    return saved.preprocessing


@register_model
def from_run(width: int, height: int, depth: int, classes: int, run: str = "", trainable: Trainable = False,
             dropout: Annotated[float, Field(ge=0, lt=1)] = 0.2, pooling: Literal["avg", "max"] = "avg",
             classifier_activation: str = "softmax"):
    """A finished dlcv run's network (model.params.run) without its classifier, with a new head."""
    import keras
    from keras import layers

    from ..model_objects import BackboneInput  # noqa: F401  (a backbone run's file names it)

    saved = keras.models.load_model(run_model_file(run), compile=False)
    classifier = [layer for layer in saved.layers if isinstance(layer, layers.Dense)][-1]
    body = keras.Model(saved.inputs, classifier.input, name=f"{saved.name}_body")
    inference_mode(body)
    inputs = image_input(width, height, depth)
    x = body(inputs)
    if len(x.shape) == 4:
        x = (layers.GlobalAveragePooling2D if pooling == "avg" else layers.GlobalMaxPooling2D)(name="pooling")(x)
    else:
        x = layers.Identity(name="pooling")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = classifier_output(x, classes, classifier_activation, name="head")
    model = keras.Model(inputs, outputs, name="from_run")
    set_trainable(model, trainable)
    return model


def input_from_run(config: ExperimentConfig) -> ExperimentConfig:
    """A from_run config with the run's input size, channels and resize filled in (others unchanged)."""
    if config.model.name != "from_run":
        return config
    trained = run_input(config.model.params["run"])
    return config.model_copy(update={"preprocessing": trained})
