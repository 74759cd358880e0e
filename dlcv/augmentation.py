"""Data augmentation: random transformations of training batches as Keras preprocessing layers, applied to
training batches only, on the device — inside the compiled step on the fast route, in the input pipeline
on ``fit``. Never applied to validation, test or prediction.

The book's ``ImageDataGenerator`` settings map onto Keras 3 layers (Keras has them all, shear included,
so dlcv writes none of its own):

| ImageDataGenerator | Keras 3 layer |
|---|---|
| ``rotation_range`` (degrees) | ``RandomRotation(degrees / 360)`` (a fraction of a full turn) |
| ``width_shift_range``, ``height_shift_range`` | ``RandomTranslation(height, width)`` |
| ``shear_range`` (degrees) | ``RandomShear(x_factor=tan(degrees))``, random sign: a horizontal shear |
| ``zoom_range`` z | ``RandomZoom((-z, z), (-z, z))`` |
| ``horizontal_flip``, ``vertical_flip`` | ``RandomFlip`` |

and today's recipes' parts (timm's, the CIFAR-10 speed records') onto Keras's own layers too:
``random_crop`` (pad-and-crop as ``RandomTranslation`` with zero fill), ``rand_augment`` (``RandAugment``),
``color_jitter`` (``RandomColorJitter``), ``random_erasing`` (``RandomErasing``), ``mixup`` (``MixUp``)
and ``cutmix`` (``CutMix``). In that order: the image's own transformations, then erasing, then mixing
with another image of the batch (timm's order). Mixing also mixes the labels: the batch's labels become
soft (one row of class shares per image), which dlcv's :class:`~dlcv.model_objects.CrossEntropy` takes.

``fill_mode`` is passed to every geometric layer. The layers work on model input (float32 in [0, 1]),
seeded from the run's seed: two runs with the same seed draw the same transformations. Imports Keras.

    augmenter = build_augmenter(config.augmentation, seed=42, classes=3, image_shape=(32, 32, 3))
    x, y = augmenter(model_input(images), labels, training=True)   # None above: nothing is asked for
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import keras
import numpy as np
from keras import layers

from .config import AugmentationConfig, ColorJitterConfig, ExperimentConfig

log = logging.getLogger(__name__)

VALUE_RANGE = (0.0, 1.0)
"""The range of dlcv's model input, which the colour layers need to know."""


class Augmenter(keras.layers.Layer):
    """``augmenter(images, labels, training=True) -> (images, labels)``: the image transformations, then
    mixing (one mixer, or one of two drawn per batch, as timm does)."""

    def __init__(self, transforms: list, mixers: list, classes: int, seed: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.transforms = keras.Sequential(transforms, name="transforms") if transforms else None
        self.mixers, self.classes = mixers, classes
        self.coin = keras.random.SeedGenerator(seed) if len(mixers) > 1 else None

    def call(self, images, labels, training=True):
        x = self.transforms(images, training=training) if self.transforms is not None else images
        if not self.mixers:
            return x, labels
        ops = keras.ops
        y = ops.cast(labels, x.dtype) if len(labels.shape) == 2 else \
            ops.one_hot(ops.cast(labels, "int32"), self.classes, dtype=x.dtype)  # multi-hot rows mix as they are
        mixed = [mixer({"images": x, "labels": y}, training=training) for mixer in self.mixers]
        if len(mixed) == 1:
            return mixed[0]["images"], mixed[0]["labels"]
        first = keras.random.uniform((), seed=self.coin) < 0.5
        return (ops.where(first, mixed[0]["images"], mixed[1]["images"]),
                ops.where(first, mixed[0]["labels"], mixed[1]["labels"]))


def build_augmenter(settings: AugmentationConfig, seed: int, classes: int,
                    image_shape: tuple[int, int, int]) -> Augmenter | None:
    """The :class:`Augmenter` the settings ask for, for (height, width, channels) images and ``classes``
    classes, or None when they ask for nothing. Labels come in as integers and go out as integers, or
    as soft labels (N, classes) where images are mixed."""
    transforms = _transforms(settings, seed, image_shape) if settings.active else []
    mixers = _mixers(settings, seed)
    if not transforms and not mixers:
        return None
    return Augmenter(transforms, mixers, classes, seed + 10, name="augmentation")


def _transforms(settings: AugmentationConfig, seed: int, image_shape: tuple[int, int, int]) -> list:
    """The image transformations, in order: geometry, cropping, flips, RandAugment, colour, erasing."""
    height, width, channels = image_shape
    fill = settings.fill_mode
    steps = []
    if settings.rotation_range:
        steps.append(layers.RandomRotation(settings.rotation_range / 360.0, fill_mode=fill, seed=seed))
    if settings.width_shift_range or settings.height_shift_range:
        steps.append(layers.RandomTranslation(settings.height_shift_range, settings.width_shift_range,
                                              fill_mode=fill, seed=seed + 1))
    if settings.shear_range:
        steps.append(layers.RandomShear(x_factor=(0.0, math.tan(math.radians(settings.shear_range))),
                                        y_factor=0.0, fill_mode=fill, seed=seed + 2))
    if settings.zoom_range:
        zoom = (-settings.zoom_range, settings.zoom_range)
        steps.append(layers.RandomZoom(zoom, zoom, fill_mode=fill, seed=seed + 3))
    if settings.random_crop:
        # Pad-and-crop by p pixels is a shift of up to p pixels with zeros moved in: Keras's RandomTranslation
        # with constant fill and nearest interpolation (integer shifts). Keras's RandomCrop would say it
        # directly, but slices with traced offsets, which a jitted JAX step cannot do.
        steps.append(layers.RandomTranslation(settings.random_crop / height, settings.random_crop / width,
                                              fill_mode="constant", interpolation="nearest", seed=seed + 5))
    flips = ("horizontal_and_vertical" if settings.horizontal_flip and settings.vertical_flip
             else "horizontal" if settings.horizontal_flip else "vertical" if settings.vertical_flip else None)
    if flips:
        steps.append(layers.RandomFlip(flips, seed=seed + 4))
    if settings.rand_augment:
        steps.append(layers.RandAugment(value_range=VALUE_RANGE, num_ops=settings.rand_augment.num_ops,
                                        factor=settings.rand_augment.factor, seed=seed + 6))
    if settings.color_jitter:
        jitter = color_jitter_layer(settings.color_jitter, channels, seed + 7)
        if jitter is not None:
            steps.append(jitter)
    if settings.random_erasing:
        probability = settings.random_erasing  # a single factor f would draw each image's probability from [0, f]
        steps.append(layers.RandomErasing(factor=(probability, probability), value_range=VALUE_RANGE, seed=seed + 8))
    return steps


def color_jitter_layer(jitter: ColorJitterConfig, channels: int, seed: int):
    """Keras's ``RandomColorJitter`` for torchvision-style strengths (:class:`~dlcv.config.ColorJitterConfig`):
    saturation s multiplies by m in [1 - s, 1 + s], which Keras's RandomSaturation takes as m / (1 + m);
    hue h turns by up to h, which Keras's RandomHue takes as a factor up to 2h. On grey images saturation
    and hue do not apply: they are skipped, and said once. None when nothing is left to do."""
    saturation, hue = jitter.saturation, jitter.hue
    if channels == 1 and (saturation or hue):
        log.info("color_jitter: the images are grey; saturation and hue are skipped")
        saturation, hue = 0.0, 0.0
    factors = dict(
        brightness_factor=jitter.brightness or None,
        contrast_factor=jitter.contrast or None,
        saturation_factor=(max(0.0, 1 - saturation) / (2 - saturation), (1 + saturation) / (2 + saturation))
        if saturation else None,
        hue_factor=(0.0, 2 * hue) if hue else None)
    if not any(value is not None for value in factors.values()):
        return None
    return layers.RandomColorJitter(value_range=VALUE_RANGE, seed=seed, **factors)


def _mixers(settings: AugmentationConfig, seed: int) -> list:
    mixers = []
    if settings.mixup:
        mixers.append(layers.MixUp(alpha=settings.mixup, seed=seed + 11))
    if settings.cutmix:
        mixers.append(layers.CutMix(factor=settings.cutmix, seed=seed + 12))
    return mixers


def preview(config: ExperimentConfig, output: str | Path, images: int = 6, variants: int = 7) -> Path:
    """``dlcv augment``: a grid of training images (first column) and augmented versions of each (mixed
    with others of the grid where MixUp or CutMix is on)."""
    from .data import prepare_data
    from .inputs import model_input
    from .plotting import new_figure, save_figure

    prepared = prepare_data(config)
    train = prepared.splits.train
    augmenter = build_augmenter(config.augmentation, config.seed, len(prepared.class_names), train.shape)
    picks = np.random.default_rng(config.seed).choice(len(train.labels), min(images, len(train.labels)),
                                                      replace=False)
    originals, labels = train.batch(np.sort(picks))
    x = model_input(originals)
    columns = [keras.ops.convert_to_numpy(x)]
    for _ in range(variants):
        columns.append(keras.ops.convert_to_numpy(augmenter(x, labels, training=True)[0]) if augmenter
                       else columns[0])
    if keras.config.image_data_format() == "channels_first":
        columns = [np.transpose(column, (0, 2, 3, 1)) for column in columns]
    figure, grid = new_figure(nrows=len(originals), ncols=variants + 1,
                              figsize=(1.4 * (variants + 1), 1.5 * len(originals)))
    grid = np.atleast_2d(grid)
    for row, label in enumerate(labels):
        for column, batch in enumerate(columns):
            axes = grid[row, column]
            picture = np.clip(batch[row], 0, 1)
            axes.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray", vmin=0, vmax=1)
            axes.set_xticks([])
            axes.set_yticks([])
            if column == 0:
                axes.set_ylabel(train.class_names[int(label)], fontsize=8)
        grid[0, 0].set_title("original", fontsize=8)
    for column in range(1, variants + 1):
        grid[0, column].set_title(f"augmented {column}", fontsize=8)
    save_figure(figure, output)
    return Path(output)
