"""Networks pretrained on ImageNet (``keras.applications``) as backbones with a new classification head.

Each :class:`Backbone` names its Keras constructor, the input range it expects (dlcv puts that conversion
inside the model, :func:`input_conversion`), its sizes and its ImageNet weights files.
Every one is registered as a model, in snake case, with the same parameters:

    model: {name: mobilenet_v2, params: {weights: imagenet, trainable: false, dropout: 0.2, pooling: avg}}

- ``weights``: ``imagenet`` (Keras's download, cached in ``$KERAS_HOME/models``, see
  :mod:`dlcv.models.weights`), ``none`` (random), or a file path: one written by
  ``keras.applications.X(include_top=False, ...).save_weights(...)``, or Keras's own ``_notop.h5``;
- ``trainable``: ``false`` freezes the whole backbone, ``true`` trains it all, an integer N trains only its
  last N layers that have weights (BatchNormalization not counted). This counts from the *top*, the
  opposite of Ultralytics' ``freeze=N``, which freezes the first N;
- ``dropout`` before the head, ``pooling``: ``avg`` or ``max`` (the Keras transfer-learning guide's head:
  global pooling, dropout, one softmax Dense layer).

A pretrained backbone always computes as in inference, in either phase of a fine-tune: every
BatchNormalization layer is frozen, so ImageNet's statistics are never replaced by those of small batches
(Keras's guide), and its own dropout is off. A backbone with ``weights: none`` is a network trained from
scratch like any other: it trains whole (``trainable: true``), its normalisation and dropout included.

    >>> from dlcv.models.backbones import BACKBONES, get_backbone
    >>> get_backbone("efficientnet_b0").input_range, get_backbone("resnet50").input_range
    ('raw', 'caffe')
    >>> get_backbone("mobilenet_v2").weights_file(160).name
    'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5'
    >>> from dlcv.config import load_config
    >>> config = load_config(overrides=["model.name=vgg16", "preprocessing.width=64", "preprocessing.height=64"])
    >>> [file.name for file in needed_weights(config)]
    ['vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5']
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from ..config import ExperimentConfig
from ..errors import ConfigError
from .heads import classifier_output
from .layout import batch_norm_layers, image_input, leaf_layers, one_epoch_momentum
from .registry import register_model
from .weights import WeightsFile, fetch, keras_cache

log = logging.getLogger(__name__)

_STORAGE = "https://storage.googleapis.com/"
_APPLICATIONS = _STORAGE + "tensorflow/keras-applications/"
_MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)


@dataclass(frozen=True)
class Backbone:
    name: str
    """dlcv's name for it (snake case): the model name in a config."""
    builder: str
    """Its constructor in ``keras.applications``."""
    input_range: Literal["caffe", "tf", "raw"]
    """What it expects (:func:`input_conversion`): caffe = BGR, ImageNet means subtracted;
    tf = [-1, 1]; raw = [0, 255], rescaled by the network's own first layers."""
    native_size: int
    """The input size its ImageNet weights were trained at."""
    min_size: int
    """The smallest input side Keras builds it for."""
    weighted_layer_count: int
    """Its layers with weights, BatchNormalization not counted: the largest ``trainable: N``."""
    notop: tuple[str, str, str | None]
    """(file name, origin folder, hash) of its ImageNet weights without the classifier."""
    top: tuple[str, str, str | None] | None = None
    """The same with ImageNet's 1,000-class classifier (``dlcv classify``, ch. 20)."""

    def weights_file(self, size: int | None = None, include_top: bool = False) -> WeightsFile:
        """The ImageNet weights file Keras loads for this backbone at input ``size``."""
        name, folder, file_hash = self.top if include_top else self.notop
        if self.builder == "MobileNetV2":  # one file per input size; other sizes load the 224 file
            rows = size if size in _MOBILENET_V2_SIZES else 224
            name = name.format(rows=rows)
        return WeightsFile(name, folder + name, file_hash)

    def application(self):
        """The ``keras.applications`` constructor (imports Keras)."""
        import keras

        return getattr(keras.applications, self.builder)


def _efficientnet(variant: str, size: int, layers: int, notop_hash: str) -> Backbone:
    return Backbone(f"efficientnet_{variant}", f"EfficientNet{variant.upper()}", "raw", size, 32, layers,
                    (f"efficientnet{variant}_notop.h5", _STORAGE + "keras-applications/", notop_hash))


BACKBONES: dict[str, Backbone] = {b.name: b for b in (
    Backbone("mobilenet_v2", "MobileNetV2", "tf", 224, 32, 52,
             ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5",
              _APPLICATIONS + "mobilenet_v2/", None)),
    Backbone("mobilenet_v3_small", "MobileNetV3Small", "raw", 224, 32, 52,
             ("weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5", _APPLICATIONS + "mobilenet_v3/",
              "d3e8ec802a04aa4fc771ee12a9a9b836")),
    Backbone("mobilenet_v3_large", "MobileNetV3Large", "raw", 224, 32, 62,
             ("weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5", _APPLICATIONS + "mobilenet_v3/",
              "07fb09a5933dd0c8eaafa16978110389")),
    _efficientnet("b0", 224, 81, "50bc09e76180e00e4465e1a485ddc09d"),
    _efficientnet("b1", 240, 115, "74c4e6b3e1f6a1eea24c589628592432"),
    _efficientnet("b2", 260, 115, "111f8e2ac8aa800a7a99e3239f7bfb39"),
    _efficientnet("b3", 300, 130, "af6d107764bb5b1abb91932881670226"),
    Backbone("efficientnet_v2_b0", "EfficientNetV2B0", "raw", 224, 32, 91,
             ("efficientnetv2-b0_notop.h5", _APPLICATIONS + "efficientnet_v2/",
              "893217f2bb855e2983157299931e43ff")),
    Backbone("resnet50", "ResNet50", "caffe", 224, 32, 53,
             ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", _APPLICATIONS + "resnet/",
              "4d473c1dd8becc155b73f8504c6f6626"),
             ("resnet50_weights_tf_dim_ordering_tf_kernels.h5", _APPLICATIONS + "resnet/",
              "2cb95161c43110f7111970584f804107")),
    Backbone("convnext_tiny", "ConvNeXtTiny", "raw", 224, 32, 99,
             ("convnext_tiny_notop.h5", _APPLICATIONS + "convnext/",
              "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1")),
    Backbone("vgg16", "VGG16", "caffe", 224, 32, 13,
             ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", _APPLICATIONS + "vgg16/",
              "6d6bbae143d832006294945121d1f1fc"),
             ("vgg16_weights_tf_dim_ordering_tf_kernels.h5", _APPLICATIONS + "vgg16/",
              "64373286793e3c8b2b4e3219cbf3544b")),
    Backbone("vgg19", "VGG19", "caffe", 224, 32, 16,
             ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", _APPLICATIONS + "vgg19/",
              "253f8cb515780f3b799900260a226db6"),
             ("vgg19_weights_tf_dim_ordering_tf_kernels.h5", _APPLICATIONS + "vgg19/",
              "cbe5617147190e668d6c5d5026f83318")),
    Backbone("inception_v3", "InceptionV3", "tf", 299, 75, 94,
             ("inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", _APPLICATIONS + "inception_v3/",
              "bcbd6486424b2319ff4ef7d526e38f63"),
             ("inception_v3_weights_tf_dim_ordering_tf_kernels.h5", _APPLICATIONS + "inception_v3/",
              "9a0d58056eeedaa3f26cb7ebd46da564")),
    Backbone("xception", "Xception", "tf", 299, 71, 40,
             ("xception_weights_tf_dim_ordering_tf_kernels_notop.h5", _APPLICATIONS + "xception/",
              "b0042744bf5b25fce3cb969f33bebb97"),
             ("xception_weights_tf_dim_ordering_tf_kernels.h5", _APPLICATIONS + "xception/",
              "0a58e3b7378bc2990ea3b43d5981f1f6")),
)}


def get_backbone(name: str) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ConfigError(f"unknown backbone {name!r}; expected one of: {', '.join(BACKBONES)}") from None


Trainable = bool | Annotated[int, Field(ge=1)]
"""false: the backbone frozen; true: all of it trains; N: its last N layers with weights (BN not counted)."""


def _register(backbone: Backbone) -> None:
    def build(width: int, height: int, depth: int, classes: int, weights: str | None = "imagenet",
              trainable: Trainable = False, dropout: Annotated[float, Field(ge=0, lt=1)] = 0.2,
              pooling: Literal["avg", "max"] = "avg", classifier_activation: str = "softmax"):
        return build_transfer_model(backbone, width, height, depth, classes, weights, trainable, dropout, pooling,
                                    classifier_activation)

    build.__name__ = build.__qualname__ = backbone.name
    build.__doc__ = (f"{backbone.builder} pretrained on ImageNet (keras.applications), native "
                     f"{backbone.native_size}x{backbone.native_size}, with a pooling-dropout-dense head and the task's "
                     "activation.")
    register_model(build)


CLASSIFIERS_ONLY = ("vgg19", "inception_v3", "xception")
"""The book's chapter-20 networks kept for ``dlcv classify`` (ImageNet's classifier) and not registered as
backbones to train: the registered ones cover their families (VGG16, the [-1, 1] input of MobileNetV2)."""

for _backbone in BACKBONES.values():
    if _backbone.name not in CLASSIFIERS_ONLY:
        _register(_backbone)


def build_transfer_model(backbone: Backbone, width: int, height: int, depth: int, classes: int,
                         weights: str | None = "imagenet", trainable: bool | int = False, dropout: float = 0.2,
                         pooling: str = "avg", classifier_activation: str = "softmax"):
    """``inputs -> input conversion -> backbone -> pooling -> dropout -> Dense -> softmax (or sigmoid)``; a pretrained
    backbone computes as in inference (:func:`inference_mode`), a random one (``weights: none``) trains
    like any network."""
    import keras
    from keras import layers

    inputs = image_input(width, height, depth)
    x = input_conversion(inputs, backbone.input_range)
    pretrained = weights not in (None, "none")
    if weights == "imagenet":  # from the cache dlcv checks and fills ($KERAS_HOME/models), downloaded if missing
        weights = str(fetch(backbone.weights_file(height)))
    base = backbone.application()(include_top=False, weights=weights if pretrained else None,
                                  input_shape=(height, width, 3))
    if pretrained:
        inference_mode(base)
    x = base(x)
    pool = layers.GlobalAveragePooling2D if pooling == "avg" else layers.GlobalMaxPooling2D
    x = pool(name="pooling")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = classifier_output(x, classes, classifier_activation, name="head")
    model = keras.Model(inputs, outputs, name=f"{backbone.name}_transfer")
    set_trainable(model, trainable, batch_norm=not pretrained)
    return model


INPUT_CONVERSION = "backbone_input"
"""The name of a transfer model's input conversion layer."""
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
"""keras.applications.imagenet_utils' caffe means, in BGR order."""


def input_conversion(x, mode: str, name: str = INPUT_CONVERSION):
    """dlcv's model input (float RGB or grey in [0, 1]) as an ImageNet backbone expects it, inside the model
    graph, so that the pipeline, ``dlcv predict`` and every export feed it alike:

    - ``caffe`` (ResNet50, VGG): BGR in [0, 255] less ImageNet's channel means, as
      ``keras.applications.resnet50.preprocess_input``;
    - ``tf`` (MobileNetV2, Inception, Xception): [-1, 1], as ``mobilenet_v2.preprocess_input``;
    - ``raw`` (EfficientNet, EfficientNetV2, MobileNetV3, ConvNeXt): [0, 255], which their own first
      layers rescale.

    A grey image becomes three equal channels. All of it is one affine map per pixel, so it is one fixed
    1x1 convolution (a channel permutation and scale in its kernel, the offsets in its bias) that does not
    train: a layer of Keras's own, so a saved model loads with plain ``keras.saving.load_model``.

        >>> import keras, numpy as np
        >>> x = keras.Input((1, 1, 3))
        >>> model = keras.Model(x, input_conversion(x, "caffe"))
        >>> [round(v, 3) for v in model.predict(np.array([[[[1.0, 0.5, 0.0]]]]), verbose=0).ravel().tolist()]
        [-103.939, 10.721, 131.32]
    """
    import keras
    import numpy as np

    from .layout import channel_axis

    channels = x.shape[channel_axis()]
    scale, offset = {"tf": (2.0, (-1.0,) * 3), "raw": (255.0, (0.0,) * 3),
                     "caffe": (255.0, tuple(-m for m in _CAFFE_BGR_MEAN))}[mode]
    kernel = np.zeros((1, 1, channels, 3), np.float32)
    for out in range(3):  # output channel `out` reads input channel `source` (reversed for caffe's BGR)
        source = 0 if channels == 1 else (2 - out if mode == "caffe" else out)
        kernel[0, 0, source, out] = scale
    layer = keras.layers.Conv2D(3, 1, trainable=False, name=name)
    y = layer(x)
    layer.set_weights([kernel, np.asarray(offset, np.float32)])
    return y


def inference_mode(base) -> None:
    """Make a pretrained backbone compute as in inference even while the model trains: its
    BatchNormalization layers frozen (Keras 3 runs a frozen BN layer in inference mode) and its own dropout
    (EfficientNet's stochastic depth) off. Keras's guide calls the base with ``training=False`` instead, but
    Keras 3's functional models pass the outer call's ``training=True`` down to a nested model over it, so
    that alone would not hold; with this a frozen backbone is a fixed function, whose features can be
    computed once."""
    import keras

    for layer in leaf_layers(base):
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


NOT_IN_H5 = ("MobileNetV3Small", "MobileNetV3Large", "ConvNeXtTiny")
"""Backbones Keras's legacy HDF5 format cannot load back: its loader cannot rebuild MobileNetV3's
hard-swish nodes (``x + 3.0``), and ConvNeXt's ``LayerScale`` layer is not registered for it. The
``.keras`` format holds both."""


def saves_to_h5_name(name: str) -> bool:
    """Whether a model of this registered name can be saved to (and loaded from) an ``.h5`` file."""
    backbone = BACKBONES.get(name)
    return backbone is None or backbone.builder not in NOT_IN_H5


def saves_to_h5(model) -> bool:
    """Whether Keras's legacy HDF5 format can load this built model back (see :data:`NOT_IN_H5`)."""
    backbone = backbone_layer(model)  # Keras names it after its constructor: MobileNetV3Small, convnext_tiny
    return backbone is None or backbone.name.lower().replace("_", "") not in {n.lower() for n in NOT_IN_H5}


def fit_batch_norm_momentum(model, steps_per_epoch: int) -> float | None:
    """A from-scratch backbone's BatchNormalization momentum, fitted to the run's length: at most one epoch's
    memory (1 - 1 / steps per epoch), never more than the application's own (0.999 for MobileNetV2, 0.99 for
    others). keras.applications' momenta are set for ImageNet's 5,000 steps an epoch: on a few hundred
    photos (6 steps an epoch) the moving statistics barely leave their 0/1 start in 15 epochs, and the
    model, right on its training images, scored chance on any other (test accuracy 0.333 on the Animals
    sample). Returns the momentum set (None: no backbone trained from scratch, nothing changed)."""
    backbone = backbone_layer(model)
    if backbone is None:
        return None
    layers = batch_norm_layers(backbone)
    if not layers:
        return None  # a pretrained backbone's statistics are frozen (inference_mode): kept as they are
    fitted = one_epoch_momentum(steps_per_epoch)
    for layer in layers:
        layer.momentum = min(layer.momentum, fitted)
    return fitted


def backbone_layer(model):
    """The backbone inside a transfer model (the one nested Keras model), or None."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested[0] if len(nested) == 1 else None


def weighted_layers(backbone) -> list:
    """The backbone's layers that have weights, input to output; BatchNormalization (never trained here)
    and Normalization (an input-preprocessing constant, e.g. EfficientNet's ImageNet mean) not counted."""
    import keras

    return [layer for layer in leaf_layers(backbone) if layer.weights
            and not isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Normalization))]


def set_trainable(model, trainable: bool | int | str, batch_norm: bool = False) -> list[str]:
    """Freeze or unfreeze a transfer model's backbone: ``False``, ``True`` / ``"all"``, or its last N
    layers with weights. BatchNormalization layers stay frozen (pretrained statistics), unless
    ``batch_norm`` (a backbone trained from scratch: they train with it). Returns the names of the
    backbone's layers that now train (the head always trains)."""
    import keras

    backbone = backbone_layer(model)
    if backbone is None:
        raise ValueError(f"model {model.name!r} has no backbone to freeze or unfreeze")
    candidates = weighted_layers(backbone)
    count = len(candidates) if trainable in (True, "all") else 0 if trainable is False else int(trainable)
    if count > len(candidates):
        raise ConfigError(f"trainable: {count} layers, but {backbone.name} has {len(candidates)} layers with "
                          f"weights (BatchNormalization not counted); expected at most {len(candidates)}")
    chosen = {id(layer) for layer in candidates[len(candidates) - count:]}
    backbone.trainable = count > 0  # a nested model's flag gates its layers' own
    for layer in leaf_layers(backbone):
        is_norm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = count > 0 and batch_norm if is_norm else id(layer) in chosen
    names = [layer.name for layer in candidates if id(layer) in chosen]
    if names:
        shown = names if len(names) <= 12 else [*names[:6], f"... ({len(names) - 12} more) ...", *names[-6:]]
        log.info(f"{backbone.name}: {len(names)} of {len(candidates)} layers with weights train: {', '.join(shown)}")
    return names


# ---- the ImageNet weights a config needs ------------------------------------------------------------------


def needed_weights(config: ExperimentConfig) -> list[WeightsFile]:
    """The ImageNet weights files the config's model loads (none unless ``weights: imagenet``)."""
    backbone = BACKBONES.get(config.model.name)
    if backbone is None or config.model.params.get("weights", "imagenet") != "imagenet":
        return []
    return [backbone.weights_file(config.preprocessing.height)]


def loads_weights(config: ExperimentConfig) -> bool:
    """Whether building the config's model reads weights: a backbone's (ImageNet's or a file), or an
    earlier run's model."""
    backbone = BACKBONES.get(config.model.name)
    return config.model.name == "from_run" or (backbone is not None and config.model.params.get("weights") != "none")


def missing_weights(config: ExperimentConfig) -> list[WeightsFile]:
    """The needed weights files not in Keras's cache."""
    return [file for file in needed_weights(config) if not (keras_cache() / file.name).is_file()]


def ensure_weights(config: ExperimentConfig) -> None:
    """Every ImageNet weights file the config needs, in Keras's cache: downloaded now if missing, or a
    one-line error before any data is read."""
    for file in missing_weights(config):
        log.info(f"downloading {file.name} into {keras_cache()}/")
        fetch(file, fetch_hint=f"run `dlcv weights fetch {config.model.name} --size "
                               f"{config.preprocessing.height or get_backbone(config.model.name).native_size}` "
                               "on a machine with network")


def fetch_backbones(names: list[str], to: str | os.PathLike | None = None, size: int | None = None) -> list[Path]:
    """``dlcv weights fetch``: each named backbone's ImageNet weights (no top; at ``size`` where the file
    depends on it), into Keras's cache or ``to``/models."""
    backbones = [get_backbone(name) for name in names]  # every name checked before any download
    return [fetch(backbone.weights_file(size), to, fetch_hint="run the same command on a machine with network",
                  instead="") for backbone in backbones]
