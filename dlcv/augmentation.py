"""Data augmentation: the book's ``ImageDataGenerator`` settings as Keras preprocessing layers, applied to
training batches only, on the device.

Keras 3 no longer has ``ImageDataGenerator``; each of its settings maps onto a Keras 3 layer (Keras has
them all, shear included, so dlcv writes none of its own):

| ImageDataGenerator | Keras 3 layer |
|---|---|
| ``rotation_range`` (degrees) | ``RandomRotation(degrees / 360)`` (a fraction of a full turn) |
| ``width_shift_range``, ``height_shift_range`` | ``RandomTranslation(height, width)`` |
| ``shear_range`` (degrees) | ``RandomShear(x_factor=tan(degrees))``, random sign: a horizontal shear |
| ``zoom_range`` z | ``RandomZoom((-z, z), (-z, z))`` |
| ``horizontal_flip``, ``vertical_flip`` | ``RandomFlip`` |

``fill_mode`` is passed to every geometric layer. The layers work on model input (float32 in [0, 1]),
seeded from the run's seed: two runs with the same seed draw the same transformations.

    augmenter = build_augmenter(config.augmentation, seed=42)     # None when nothing is asked for
    x = augmenter(model_input(batch), training=True)
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .config import AugmentationConfig, ExperimentConfig


def build_augmenter(settings: AugmentationConfig, seed: int):
    """A ``keras.Sequential`` of the layers the settings ask for, or None (imports Keras)."""
    if not settings.active:
        return None
    import keras
    from keras import layers

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
    flips = ("horizontal_and_vertical" if settings.horizontal_flip and settings.vertical_flip
             else "horizontal" if settings.horizontal_flip else "vertical" if settings.vertical_flip else None)
    if flips:
        steps.append(layers.RandomFlip(flips, seed=seed + 4))
    return keras.Sequential(steps, name="augmentation")


def preview(config: ExperimentConfig, output: str | Path, images: int = 6, variants: int = 7) -> Path:
    """``dlcv augment``: a grid of training images (first column) and augmented versions of each."""
    import keras

    from .data import prepare_data
    from .inputs import model_input
    from .plotting import new_figure, save_figure

    augmenter = build_augmenter(config.augmentation, config.seed)
    train = prepare_data(config).splits.train
    picks = np.random.default_rng(config.seed).choice(len(train.labels), min(images, len(train.labels)),
                                                      replace=False)
    originals, labels = train.batch(np.sort(picks))
    x = model_input(originals)
    columns = [keras.ops.convert_to_numpy(x)]
    for _ in range(variants):
        columns.append(keras.ops.convert_to_numpy(augmenter(x, training=True)) if augmenter else columns[0])
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
