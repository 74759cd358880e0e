"""Training a head on a frozen backbone's features, computed once (the book's follow-up volume does this
with HDF5 feature files).

While the backbone is frozen and nothing augments the images, each image's pooled features are the same
every epoch, so running the backbone every epoch repeats the same work: here it runs once over the
training and validation images, and each epoch trains only the head (dropout and the softmax Dense layer,
the model's own layers, so the model holds the trained head) on the features. The model's optimizer
does the training, so its state, the callbacks, the checkpoints and ``--resume`` see one run.

    trainer = FeatureTrainer(model, EpochPlan(splits.train, splits.val, batch_size=32, seed=42))
    run_epochs(trainer, model, callbacks, epochs=10)     # what the "features" route does

The features are held in memory (``images x pooled width`` floats: 1,280 per image for MobileNetV2, 5 KB);
a resumed run computes them again.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from .plan import EpochPlan

log = logging.getLogger(__name__)

FEATURE_LAYER = "pooling"
"""The layer of a transfer model whose output the head takes."""


def head_is_separable(model) -> bool:
    """Whether the model is a backbone model whose backbone has nothing to train now (its features fixed)."""
    from ..models.backbones import backbone_layer

    backbone = backbone_layer(model)
    names = {layer.name for layer in model.layers}
    return backbone is not None and not backbone.trainable_weights and FEATURE_LAYER in names


class FeatureTrainer:
    """``train_epoch`` / ``evaluate`` for :func:`~dlcv.training.routes.run_epochs`, on cached features."""

    def __init__(self, model, plan: EpochPlan) -> None:
        import keras

        from ..pipeline import eval_batch

        train, val = plan.train, plan.val
        started = time.perf_counter()
        frozen = keras.Model(model.inputs, model.get_layer(FEATURE_LAYER).output, name="frozen_part")
        rows = min(eval_batch(train.shape), 32)  # a convolutional backbone's activations: small batches run faster
        self.train_features, self.train_labels = features_of(frozen, train, rows)
        self.val_features, self.val_labels = features_of(frozen, val, rows) if len(val.labels) else (None, None)
        images = len(self.train_labels) + (len(self.val_labels) if self.val_labels is not None else 0)
        seconds = time.perf_counter() - started
        log.info(f"feature cache: {images} images through the frozen backbone once ({seconds:.1f} s), "
                 f"{self.train_features.shape[1]} features each")
        features = keras.Input(shape=self.train_features.shape[1:], name="features")
        x = features
        for layer in model.layers[model.layers.index(model.get_layer(FEATURE_LAYER)) + 1:]:
            x = layer(x)  # the model's own head layers: training them trains the model
        self.head = keras.Model(features, x, name="head")
        # The model's optimizer, loss (label smoothing included) and metrics, built on the same variables (the
        # frozen backbone has none to train); nothing mixes images on this route.
        self.head.compile(optimizer=model.optimizer, loss=model.loss, metrics=_metrics_of(model), jit_compile=False)
        self.plan, self.batch_size = plan, plan.batch_size
        self.class_weight = None if plan.class_weight is None else np.asarray(plan.class_weight, np.float32)

    def train_epoch(self, epoch: int, skip: int = 0, state: dict | None = None, stop=None) -> dict[str, float]:
        """One epoch over the cached features; its logs are the epoch's means, as ``fit`` logs them (each
        batch's values weighted by its size: Keras's loss tracker counts samples, and its compiled
        ``metrics``, unlike ``weighted_metrics``, do not take the class weights). ``skip``: its first
        batches, trained before, with the sums ``state`` they left; ``stop``: when it is true after a batch,
        :class:`~.preemption.EpochInterrupted`."""
        from .preemption import EpochInterrupted

        # Batch by batch (Keras's train_on_batch): a fit call per epoch costs more than a head's epoch. But
        # train_on_batch resets the metrics on every call and returns that batch's values alone, so the
        # epoch's means are summed up here.
        order = self.plan.order(epoch, self.train_labels)  # the readable images' features
        totals: dict[str, float] = dict(state or {})
        for start in range(skip * self.batch_size, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            weights = None if self.class_weight is None else self.class_weight[self.train_labels[rows]]
            logs = self.head.train_on_batch(self.train_features[rows], self.train_labels[rows], sample_weight=weights,
                                            return_dict=True)
            for key, value in logs.items():
                totals[key] = totals.get(key, 0.0) + float(value) * len(rows)
            done = start // self.batch_size + 1
            if stop and start + len(rows) < len(order):
                raise EpochInterrupted(done, totals)
        return {key: total / len(order) for key, total in totals.items()}

    def evaluate(self) -> dict[str, float]:
        if self.val_features is None:
            return {}
        self.head.reset_metrics()
        logs = self.head.test_on_batch(self.val_features, self.val_labels, return_dict=True)  # small: one batch
        return {f"val_{key}": float(value) for key, value in logs.items()}


def _metrics_of(model) -> list:
    """Fresh copies of the metrics ``model`` was compiled with (as the other routes log them)."""
    import keras

    compiled = model.get_compile_config().get("metrics") or []
    return [keras.metrics.deserialize(metric) if isinstance(metric, dict) else metric for metric in compiled]


def features_of(frozen, data, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The frozen part's output for every readable image of ``data`` (and their labels), ``rows`` at a time:
    the last batch padded to ``rows``, so the forward pass is traced once for every set."""
    from ..inputs import model_input

    features, labels = [], []
    for start in range(0, len(data.labels), rows):
        images, batch_labels = data.batch(np.arange(start, min(start + rows, len(data.labels))))
        if len(images):
            padded = np.concatenate([images, np.zeros((rows - len(images), *images.shape[1:]), images.dtype)])
            features.append(np.asarray(frozen.predict_on_batch(model_input(padded)))[:len(images)])
            labels.append(batch_labels)
    return np.concatenate(features).astype(np.float32, copy=False), np.concatenate(labels)
