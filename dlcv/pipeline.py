"""Input pipelines: a data set (held in memory, or streamed from disk) in, batches of
:func:`~dlcv.inputs.model_input` out.

A data set is anything with ``labels`` and ``batch(positions) -> (uint8 images, labels)``: an
:class:`~dlcv.data.ImageSet` gathers from its one array (nothing is copied into the pipeline), a
:class:`~dlcv.data.StreamedSet` reads the rows from its source (the decode-once cache, or the files).
Training batches follow the run's plan (:class:`~dlcv.training.plan.EpochPlan`): epoch e's rows in the
plan's order, the same on every route, so a run resumed in the middle of an epoch can skip exactly the
batches it had trained.

On the TensorFlow backend a ``tf.data.Dataset`` (reads in a parallel map, prefetched); on JAX and PyTorch
a :class:`~dlcv.batches.Batches` (a Keras ``PyDataset`` with worker threads), so those backends never
import TensorFlow.

    plan = EpochPlan(splits.train, splits.val, batch_size=32, seed=42)
    model.fit(training_pipeline(plan, epochs=(0, 10)), epochs=10, steps_per_epoch=plan.steps(),
              validation_data=build_pipeline(splits.val, batch_size=32))
"""
from __future__ import annotations

import numpy as np

from .inputs import model_input, model_targets


def build_pipeline(data, batch_size: int, multiple_of: int = 1, labelled: bool = True):
    """Batches of ``(x, y)`` (or ``(x,)`` when not ``labelled``) of ``data`` in its order, for ``evaluate``
    and ``predict``; ``multiple_of``: every batch cut to a multiple of it (JAX's data parallelism)."""
    return _pipeline(data, batch_size, multiple_of, labelled)


def training_pipeline(plan, epochs: tuple[int, int] = (0, 1), skip: int = 0, multiple_of: int = 1):
    """The training batches of ``plan`` (:class:`~dlcv.training.plan.EpochPlan`) for epochs ``epochs[0]`` to
    ``epochs[1] - 1``, one after the other, each epoch in the plan's order, the first without its first
    ``skip`` batches (a resumed epoch), the plan's augmenter applied: ``fit`` takes them with
    ``steps_per_epoch``."""
    return _pipeline(plan.train, plan.batch_size, multiple_of, True, plan, epochs, skip)


def _pipeline(data, batch_size: int, multiple_of: int, labelled: bool, plan=None, epochs: tuple[int, int] = (0, 1),
              skip: int = 0):
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    import keras

    streamed = data.reads_from_disk
    if keras.backend.backend() != "tensorflow":
        from .batches import Batches

        return Batches(data, batch_size, multiple_of, labelled, workers=_reader_threads() if streamed else 1,
                       plan=plan, first_epoch=epochs[0], skip=skip)
    import tensorflow as tf

    count = len(data.labels)
    shape = data.shape
    augmenter = None if plan is None else plan.augmenter
    if plan is not None:
        first = epochs[0]

        def positions_of(epoch):
            return plan.rows(int(epoch), skip if int(epoch) == first else 0)

        def epoch_batches(epoch):
            rows = tf.ensure_shape(tf.numpy_function(positions_of, [epoch], tf.int64, stateful=False), (None,))
            return tf.data.Dataset.from_tensor_slices(rows).batch(batch_size)

        batches = tf.data.Dataset.range(*epochs).flat_map(epoch_batches)
    else:
        batches = tf.data.Dataset.range(count).batch(batch_size)

    targets = model_targets(data.labels[:1])
    label_type, label_shape = tf.as_dtype(targets.dtype), (None, *targets.shape[1:])

    def read(rows):
        images, labels = data.batch(rows)
        return images, model_targets(labels)

    def load(rows):
        images, labels = tf.numpy_function(read, [rows], (tf.uint8, label_type), stateful=False)
        images = tf.ensure_shape(images, (None, *shape))
        x, labels = model_input(images), tf.ensure_shape(labels, label_shape)
        if augmenter is not None:
            x, labels = augmenter(x, labels, training=True)
        return (x, labels) if labelled else (x,)

    parallel = tf.data.AUTOTUNE if streamed else 1
    return batches.map(load, num_parallel_calls=parallel, deterministic=True).prefetch(tf.data.AUTOTUNE)


EVAL_INPUT_BYTES = 4 * 2**20  # input per prediction step: large batches, but bounded activations


def eval_batch(image_shape: tuple[int, ...], at_least: int = 32) -> int:
    """Rows per prediction (or evaluation) step: as many as fit in ``EVAL_INPUT_BYTES`` of input — a
    128x128 photo's convolution outputs are ~40x its bytes —, at least ``at_least``, at most 1024."""
    row_bytes = max(int(np.prod(image_shape)), 1)
    return int(min(1024, max(at_least, EVAL_INPUT_BYTES // row_bytes)))


def _reader_threads() -> int:
    import os

    return max(2, os.cpu_count() or 1)


def predict_probabilities(model, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Class probabilities for uint8 NHWC images, as float32 NumPy (forward passes in inference mode)."""
    if len(images) == 0:
        raise ValueError("no images to predict")
    batch_size = batch_size or eval_batch(images.shape[1:])
    forward = _forward(model)
    outputs = [forward(model_input(images[start:start + batch_size])) for start in range(0, len(images), batch_size)]
    return np.concatenate(outputs).astype(np.float32, copy=False)


def _forward(model):
    """One batch through the model: Keras's compiled ``predict_on_batch`` (no pipeline to build, memory
    reused between batches), or a direct call under MultiWorkerMirroredStrategy, where Keras 3's predict
    functions fail (keras-team/keras#20585)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            return lambda x: keras.ops.convert_to_numpy(model(x, training=False))
    return lambda x: np.asarray(model.predict_on_batch(x))


def predict_dataset(model, data, batch_size: int | None = None, tta: str = "none") -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) over a whole data set, in order: a streamed set's labels are those of the
    images that could be read, so both always line up. ``tta``: test-time augmentation (:mod:`dlcv.tta`)."""
    from .tta import with_tta

    batch_size = batch_size or eval_batch(data.shape)
    forward = _forward(model)
    probabilities_of = with_tta(lambda images: forward(model_input(images)), tta)
    probabilities, labels = [], []
    for start in range(0, len(data.labels), batch_size):
        images, batch_labels = data.batch(np.arange(start, min(start + batch_size, len(data.labels))))
        if len(images):
            probabilities.append(probabilities_of(images))
            labels.append(batch_labels)
    return (np.concatenate(probabilities).astype(np.float32, copy=False), np.concatenate(labels))
