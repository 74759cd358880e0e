"""Where a model looks: class-activation heatmaps of a Keras classifier (TensorFlow backend).

A feature map ``A`` (height x width x channels) of a convolutional layer and the gradient ``G`` of one
class's score with respect to it give a map of the image's evidence for that class:

- ``hirescam`` (Draelos & Carin, 2020), the default: ``sum_k G_k * A_k`` at each position. Exact for a
  Flatten head (MiniVGGNet, ShallowNet), where the score is a sum over positions of exactly these terms;
- ``gradcam`` (Selvaraju et al., 2017): ``sum_k mean(G_k) * A_k``, each channel weighted by its gradient
  averaged over the map. Equal to HiResCAM after global average pooling at a backbone's last map, but a
  Flatten head makes it blind to where the evidence is;
- ``layercam`` (Jiang et al., 2021): ``sum_k max(G_k, 0) * A_k``, only the positive gradients.

Each keeps its positive part (the evidence for the class), is resized to the model's input (bilinear) and
divided by its sum: a map that sums to 1, or all zeros where the class has no positive evidence.

The score differentiated is the head's pre-activation output for the class (the ``class_scores`` input of
the final softmax or sigmoid), not the probability, whose gradient vanishes once the model is sure. A layer
inside a nested model (a backbone, a ``from_run`` body) is reached by splitting the model at the nested
one: the layers before it, the nested model to that layer and on to its output, the layers after it.

Written here because Keras has no class-activation maps (the keras.io Grad-CAM example rebuilds the model
from its inputs and fails on nested models with "Graph disconnected") and tf-keras-vis clones the model.

    >>> import numpy as np
    >>> activations = np.ones((1, 2, 2, 1), "float32"); gradients = np.array([[[[1.0], [0.0]], [[3.0], [0.0]]]])
    >>> class_activation_map(activations, gradients, "hirescam")[0].tolist()
    [[1.0, 0.0], [3.0, 0.0]]
    >>> class_activation_map(activations, gradients, "gradcam")[0].tolist()
    [[1.0, 1.0], [1.0, 1.0]]

    explainer = Explainer(model)                       # HiResCAM at the last map of at least 7x7
    maps, scores = explainer.heatmaps(images, classes)  # uint8 NHWC, one class index per image
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import DlcvError

METHODS = ("hirescam", "gradcam", "layercam")
DEFAULT_METHOD = "hirescam"
MIN_MAP_SIDE = 7
"""The default layer is the last whose feature map is at least this many positions on each side: a map of
2x2 says nothing of where (backbones downsample 32 times: at 96 px their last map is 3x3)."""
BATCH = 32


def class_activation_map(activations: np.ndarray, gradients: np.ndarray, method: str) -> np.ndarray:
    """(n, h, w) maps of the positive evidence, from (n, h, w, k) activations and their gradients."""
    if method == "hirescam":
        weighted = gradients * activations
    elif method == "gradcam":
        weighted = gradients.mean(axis=(1, 2), keepdims=True) * activations
    elif method == "layercam":
        weighted = np.maximum(gradients, 0) * activations
    else:
        raise ValueError(f"method {method!r}: expected one of {', '.join(METHODS)}")
    return np.maximum(weighted.sum(axis=-1), 0).astype(np.float32)


def normalised(cam: np.ndarray, height: int, width: int) -> np.ndarray:
    """One map resized to the model's input (bilinear) and divided by its sum; all zeros without evidence."""
    import cv2

    resized = np.maximum(cv2.resize(cam.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR), 0)
    total = float(resized.sum(dtype=np.float64))
    return (resized / total).astype(np.float32) if total > 0 else np.zeros((height, width), np.float32)


def peak(heatmap: np.ndarray) -> list[int] | None:
    """The heatmap's highest point ``[x, y]`` in input pixels (None for an all-zero map)."""
    if not heatmap.any():
        return None
    y, x = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    return [int(x), int(y)]


class Explainer:
    """Heatmaps of ``model``'s class scores at one of its convolutional layers.

    Args:
        model: a Keras classifier whose last layer applies a softmax or a sigmoid (dlcv's builders end in a
            ``class_scores`` Dense layer and a ``predictions`` activation; an older file's last Dense layer
            applies it itself).
        method: ``hirescam``, ``gradcam`` or ``layercam``.
        layer: the layer's name (inside a nested model too); None: the last layer whose map is at least
            :data:`MIN_MAP_SIDE` on each side.

    Raises :class:`~dlcv.errors.DlcvError` (one line) for a backend other than TensorFlow, a model with no
    feature map, a layer that does not exist or has none, and an unknown method.
    """

    def __init__(self, model, method: str = DEFAULT_METHOD, layer: str | None = None) -> None:
        import keras

        if keras.backend.backend() != "tensorflow":
            raise DlcvError(f"heatmaps need gradients through the model on the TensorFlow backend, not yet on "
                            f"{keras.backend.backend()}; set KERAS_BACKEND=tensorflow (or --backend tensorflow)")
        if method not in METHODS:
            raise DlcvError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
        self.method = method
        self._channels_first = keras.config.image_data_format() == "channels_first"
        path = _named_path(model, layer, self._channels_first) if layer else _default_path(model, self._channels_first)
        self.layer = path[-1].name
        self.map_size = _map_size(path[-1], self._channels_first)
        if self.map_size is None:
            raise DlcvError(f"--layer {layer!r} has no spatial feature map (its output is "
                            f"{tuple(path[-1].output.shape[1:])}); expected a convolutional layer's")
        scores, self._to_scores = _head_scores(model)
        self._forward = _split(keras, model, path, scores)
        self.input_size = tuple(int(n) for n in _input_hw(model, self._channels_first))

    def heatmaps(self, images: np.ndarray, classes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(maps (n, height, width) float32 at the model's input size, each summing to 1 or all zero; each
        image's score for its class) for uint8 NHWC ``images`` and one class index per image."""
        maps, scores = [], []
        for start in range(0, len(images), BATCH):
            batch_maps, batch_scores = self._batch(images[start:start + BATCH], classes[start:start + BATCH])
            maps.append(batch_maps)
            scores.append(batch_scores)
        height, width = self.input_size
        if not maps:
            return np.zeros((0, height, width), np.float32), np.zeros(0, np.float32)
        return np.concatenate(maps), np.concatenate(scores)

    def _batch(self, images: np.ndarray, classes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        import tensorflow as tf

        from .inputs import model_input

        x = model_input(np.ascontiguousarray(images, dtype=np.uint8))
        picked = tf.constant(np.stack([np.arange(len(classes)), np.asarray(classes)], axis=1), tf.int32)
        with tf.GradientTape() as tape:
            features, head_input = self._forward(x)
            tape.watch(features)
            chosen = tf.gather_nd(tf.cast(self._to_scores(head_input), tf.float32), picked)
            total = tf.reduce_sum(chosen)  # the images are independent in inference: one gradient for all
        gradients = tape.gradient(total, features)
        features, gradients = (np.asarray(t, np.float32) for t in (features, gradients))
        if self._channels_first:
            features, gradients = (np.transpose(t, (0, 2, 3, 1)) for t in (features, gradients))
        cams = class_activation_map(features, gradients, self.method)
        height, width = self.input_size
        return np.stack([normalised(cam, height, width) for cam in cams]), np.asarray(chosen, np.float32)


def _input_hw(model, channels_first: bool) -> tuple[int, int]:
    shape = model.input_shape[1:]
    return (shape[1], shape[2]) if channels_first else (shape[0], shape[1])


def _map_size(layer, channels_first: bool) -> tuple[int, int] | None:
    shape = tuple(layer.output.shape)
    if len(shape) != 4 or any(n is None for n in shape[1:]):
        return None
    return (shape[2], shape[3]) if channels_first else (shape[1], shape[2])


def _walk(model, path=()):
    """(path of nested models, layer) for every layer, nested models' included, input to output."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk(layer, (*path, layer))
        else:
            yield (*path, layer)


LAYERS_NAMED = 4
"""The layers an unknown ``--layer``'s message names: the default and the ones before it."""


def _named_path(model, name: str, channels_first: bool) -> tuple:
    for path in _walk(model):
        if any(layer.name == name for layer in path):
            return path[:[layer.name for layer in path].index(name) + 1]
    candidates = [path[-1].name for path in _walk(model) if _maps(path[-1], channels_first)][::-1]
    named = ", ".join(candidates[:LAYERS_NAMED]) or "(none)"
    more = f" and {len(candidates) - LAYERS_NAMED} more" if len(candidates) > LAYERS_NAMED else ""
    raise DlcvError(f"--layer {name!r}: the model has no layer of that name; expected a layer with a feature map "
                    f"of at least {MIN_MAP_SIDE}x{MIN_MAP_SIDE}, e.g. {named}{more}")


# Layers whose output is their input or a padded copy of it: a map there says nothing the layer before does
# (and a padded map's positions are shifted).
_PASSING = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "Identity",
            "ZeroPadding2D", "InputLayer", "ActivityRegularization")


def _maps(layer, channels_first: bool) -> bool:
    """Whether a heatmap at ``layer`` says where: a feature map of at least MIN_MAP_SIDE a side, of its own."""
    size = _map_size(layer, channels_first)
    return size is not None and min(size) >= MIN_MAP_SIDE and type(layer).__name__ not in _PASSING


def _default_path(model, channels_first: bool) -> tuple:
    found = None
    for path in _walk(model):
        if _maps(path[-1], channels_first):
            found = path
    if found is None:
        raise DlcvError(f"model {model.name!r} has no convolutional feature map of at least {MIN_MAP_SIDE}x"
                        f"{MIN_MAP_SIDE} (an MLP looks at no place); heatmaps need a convolutional network")
    return found


def _head_scores(model):
    """(the tensor the head's activation is applied to, what turns it into the class scores)."""
    import keras

    from .models.heads import output_activation

    if output_activation(model) is None:
        raise DlcvError(f"model {model.name!r} does not end in a softmax or a sigmoid; expected a classifier "
                        "dlcv trained")
    last = model.layers[-1]
    if isinstance(last, keras.layers.Activation):  # dlcv's builders: Dense("class_scores") -> Activation
        return last.input, lambda scores: scores
    kernel, bias = last.kernel, last.bias  # an older file: Dense(activation=...) applies it itself

    def dense_scores(features):
        import tensorflow as tf

        scores = tf.matmul(features, tf.cast(kernel, features.dtype))
        return scores if bias is None else scores + tf.cast(bias, features.dtype)

    return last.input, dense_scores


def _call_node(model, nested):
    """The node where ``model``'s graph calls the nested model ``nested`` (Keras keys a model's nodes as
    ``<operation id>_ib-<index>``: a nested model reused elsewhere has other nodes too)."""
    keys = getattr(model, "_nodes", set())
    nodes = [node for index, node in enumerate(nested._inbound_nodes) if f"{id(nested)}_ib-{index}" in keys]
    if len(nodes) != 1:
        raise DlcvError(f"the nested model {nested.name!r} is called {len(nodes)} times; expected once")
    return nodes[0]


def _split(keras, model, path: tuple, outputs):
    """A function: model input -> (the feature map of ``path``'s last layer, ``outputs``), every step in
    one graph so that a gradient tape links them."""
    first, *rest = path
    if not rest:
        whole = keras.Model(model.inputs[0], [first.output, outputs])
        return lambda x: whole(x, training=False)
    node = _call_node(model, first)
    inner = _split(keras, first, tuple(rest), first.outputs[0])
    before = keras.Model(model.inputs[0], node.input_tensors[0])
    after = keras.Model(node.output_tensors[0], outputs)

    def forward(x):
        features, nested_output = inner(before(x, training=False))
        return features, after(nested_output, training=False)

    return forward
