"""Classifying any photo with a network pre-trained on ImageNet (ch. 20), from ``keras.applications``.

The networks are the backbones of :mod:`dlcv.models.backbones` with ImageNet's classifier: each has its
own input size and its own pixel preprocessing (VGG and ResNet subtract the ImageNet channel means from
BGR pixels; Inception and Xception scale to [-1, 1]), a layer of the model (``input_conversion``), so a
photo is fed as dlcv feeds every model. Weights are ``"imagenet"`` (downloaded once into Keras's cache,
``~/.keras/models``), a local weights file, or ``None`` (random, for tests).

    classifier = PretrainedClassifier.load("vgg16")
    for guess in classifier.classify(read_image("beagle.jpg"))[:5]:
        print(guess.label, guess.probability)

    classify_images(["beagle.jpg"], "vgg16", weights="imagenet", output=Path("output/classify"))  # dlcv classify
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import files
from ..errors import DlcvError
from ..images import expand_image_paths, read_image
from ..inputs import model_input
from ..models.backbones import BACKBONES, Backbone
from ..models.weights import WeightsFile, fetch
from ..runtime import start_keras

log = logging.getLogger(__name__)

CLASS_INDEX = WeightsFile("imagenet_class_index.json",
                          "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
                          "c2c37ea517e94d9795004a39431a14cb")
"""ImageNet's class names, in Keras's cache beside the weights (as ``decode_predictions`` fetches them)."""

NETWORKS: dict[str, Backbone] = {name: b for name, b in BACKBONES.items()
                                 if name in ("vgg16", "vgg19", "resnet50", "inception_v3", "xception")}
"""The book's chapter-20 networks: the backbones (:mod:`dlcv.models.backbones`) with ImageNet's classifier."""


@dataclass(frozen=True)
class Guess:
    wnid: str
    """The ImageNet (WordNet) id, e.g. n02088364."""
    label: str
    probability: float


def get_network(name: str) -> Backbone:
    """The table entry for a network name, or a one-line error listing the names."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise DlcvError(f"unknown network {name!r}; expected one of: {', '.join(NETWORKS)}") from None


class PretrainedClassifier:
    def __init__(self, model, network: Backbone, class_index: list[tuple[str, str]]) -> None:
        """``model`` takes dlcv's model input (pixels in [0, 1]) and holds the network's own preprocessing."""
        classes = model.output_shape[-1]
        if len(class_index) != classes:
            raise DlcvError(f"the class index lists {len(class_index)} classes but the network has {classes} "
                            "outputs; expected the ImageNet index (1,000) or one matching the weights")
        self.model, self.network, self.class_index = model, network, class_index

    @classmethod
    def load(cls, name: str, weights: str | None = "imagenet",
             class_index: str | os.PathLike | None = None) -> PretrainedClassifier:
        """``weights``: "imagenet" (cached download), a weights file, or None (random)."""
        network = get_network(name)
        index = read_class_index(class_index if class_index is not None else
                                 fetch(CLASS_INDEX, what="ImageNet's class index", instead="or pass --labels FILE"))
        if weights == "imagenet":
            weights = str(fetch(network.weights_file(include_top=True), instead="or pass --weights FILE"))
        elif weights is not None and not Path(weights).is_file():
            raise DlcvError(f"weights file not found: {weights!r}; expected a .h5 file for {name}")
        import keras

        from ..models.backbones import input_conversion

        size = network.native_size
        inputs = keras.Input((size, size, 3))
        try:
            base = network.application()(weights=weights, classes=len(index), classifier_activation="softmax",
                                          input_shape=(size, size, 3))
        except ValueError as exc:  # Keras: a weights file of another shape, or another network's
            raise DlcvError(f"cannot load {name} weights {weights!r}: {str(exc).splitlines()[0]}") from None
        model = keras.Model(inputs, base(input_conversion(inputs, network.input_range)), name=f"{name}_imagenet")
        return cls(model, network, index)

    def classify(self, image: np.ndarray, top: int = 5) -> list[Guess]:
        """The ``top`` most likely classes for one RGB uint8 image of any size."""
        size = self.network.native_size
        # INTER_AREA: photos are nearly always shrunk to 224/299, where it aliases least.
        resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        import keras

        # dlcv's one input contract; the network's own preprocessing (BGR means or [-1, 1]) is in the model
        probabilities = keras.ops.convert_to_numpy(self.model(model_input(resized[None]), training=False))[0]
        best = np.argsort(probabilities)[::-1][:top]
        return [Guess(*self.class_index[i], float(probabilities[i])) for i in best]


def draw_guess(image: np.ndarray, guess: Guess) -> np.ndarray:
    """A BGR copy of the RGB ``image`` with the top guess written on it (the book's output)."""
    canvas = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    text = f"Label: {guess.label}, {guess.probability * 100:.2f}%"
    scale = max(canvas.shape[1] / 640, 0.5)
    cv2.putText(canvas, text, (10, int(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, (0, 255, 0),
                max(int(2 * scale), 1))
    return canvas


def read_class_index(path: str | os.PathLike) -> list[tuple[str, str]]:
    """Keras's ImageNet index format: ``{"0": ["n01440764", "tench"], ...}`` -> [(wnid, label), ...]."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return [(str(raw[str(i)][0]), str(raw[str(i)][1])) for i in range(len(raw))]
    except FileNotFoundError:
        raise DlcvError(f"class index not found: {str(path)!r}") from None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise DlcvError(f"class index {str(path)!r}: expected JSON like "
                        '{"0": ["n01440764", "tench"], "1": [...], ...} with keys 0..N-1') from None


def classify_images(images: list[str], network: str, weights: str | None, output: Path,
                    class_index: str | None = None, top: int = 5, backend: str | None = None,
                    verbose: bool = False) -> dict[str, list[Guess]]:
    """``dlcv classify`` / imagenet_pretrained.py: each image's top-``top`` ImageNet classes, printed; the
    top one drawn on a copy in ``output``."""
    get_network(network)  # an unknown name or a missing image fails before Keras is imported
    paths = expand_image_paths(images)
    output = files.ensure_writable_dir(output)
    start_keras(backend, verbose)
    classifier = PretrainedClassifier.load(network, weights, class_index)
    results = {}
    for path in paths:
        image = read_image(path, channels=3)
        guesses = classifier.classify(image, top)
        size = classifier.network.native_size
        log.info(f"{path}  ({network}, {size}x{size})")
        for rank, guess in enumerate(guesses, start=1):
            log.info(f"  {rank}. {guess.label:<28} {guess.probability * 100:6.2f}%  ({guess.wnid})")
        files.write_image(output / f"{Path(path).stem}_{network}.jpg", draw_guess(image, guesses[0]))
        results[path] = guesses
    log.info(f"[INFO] wrote {len(results)} labelled image(s) to {output}/")
    return results
