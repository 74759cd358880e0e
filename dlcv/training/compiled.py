"""Whole epochs as one compiled program over training data held on the device.

Keras's ``fit`` returns to Python between batches; for small networks on a GPU that overhead is most of
the time (../BENCHMARKS.md). These trainers keep the uint8 images on the device, shuffle there, and run
every batch of an epoch inside one compiled function. Each batch is Keras's own ``model.train_step``, so
the model's compiled loss (with any regularisation losses), its compiled metrics and its optimizer (with
its schedule and loss scaling) are exactly what ``fit`` would use:

- :class:`JaxEpochs` — ``jax.lax.scan`` over the JAX trainer's stateless ``train_step``; the state is
  read from the model before each epoch and written back after it.
- :class:`TensorFlowEpochs` — a ``tf.function`` (XLA where it helps) whose loop over batches AutoGraph
  turns into one program; ``train_step`` updates the model's variables in place.

    trainer = make_trainer(model, splits.train, splits.val, batch_size=32, seed=42)
    logs = trainer.train_epoch(epoch=0)         # {"loss": ..., "accuracy": ...}
    logs.update(trainer.evaluate())             # {"val_loss": ..., "val_accuracy": ...}
"""
from __future__ import annotations

import keras
import numpy as np

from ..data import ImageSet
from ..inputs import model_input
from ..pipeline import eval_batch

def build_metrics(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> None:
    """Build the compiled loss and metrics (and the optimizer) before a loop traces ``train_step``.

    ``fit`` does this on its first batch through ``Trainer._symbolic_build`` (a private method, pinned to
    Keras 3.15 like the checkpoint override in callbacks.py); there is no public way to build the
    compiled metrics without running a step.
    """
    model._symbolic_build(data_batch=(model_input(images[:1]), labels[:1]))
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def _logs(model: keras.Model, prefix: str = "") -> dict[str, float]:
    return {prefix + key: float(keras.ops.convert_to_numpy(value))
            for key, value in model.get_metrics_result().items()}


def _batches(count: int, batch_size: int) -> tuple[int, int]:
    """(number of full batches, rows they cover)."""
    full = count // batch_size
    return full, full * batch_size


class JaxEpochs:
    def __init__(self, model: keras.Model, train: ImageSet, val: ImageSet, batch_size: int, seed: int,
                 class_weight: np.ndarray | None = None):
        import jax

        self.jax, self.model, self.batch_size = jax, model, batch_size
        build_metrics(model, train.images, train.labels)
        self.eval_batch = eval_batch(train.images.shape[1:], batch_size)
        self.x, self.y = jax.device_put(train.images), jax.device_put(train.labels.astype(np.int32))
        self.val_x, self.val_y = jax.device_put(val.images), jax.device_put(val.labels.astype(np.int32))
        self.key = jax.random.PRNGKey(seed)
        self.class_weight = None if class_weight is None else jax.device_put(class_weight.astype(np.float32))
        self._epoch = jax.jit(self._epoch_fn, donate_argnums=0)
        self._evaluate = jax.jit(self._evaluate_fn)
        self._predict = jax.jit(self._predict_fn)

    def _data(self, x, y):
        weights = None if self.class_weight is None else self.class_weight[y]
        return model_input(x), y, weights

    def _epoch_fn(self, state, x, y, key):
        order = self.jax.random.permutation(key, x.shape[0])
        steps, full = _batches(x.shape[0], self.batch_size)

        def body(state, rows):
            _, state = self.model.train_step(state, self._data(x[rows], y[rows]))
            return state, None

        if steps:
            state, _ = self.jax.lax.scan(body, state, order[:full].reshape(steps, self.batch_size))
        if full < x.shape[0]:  # the last, smaller batch, as fit trains it too
            state, _ = body(state, order[full:])
        return state

    def _evaluate_fn(self, state, x, y):
        steps, full = _batches(x.shape[0], self.eval_batch)

        def body(state, start):
            xb, yb = (self.jax.lax.dynamic_slice_in_dim(a, start, self.eval_batch) for a in (x, y))
            _, state = self.model.test_step(state, self._data(xb, yb))
            return state, None

        if steps:
            state, _ = self.jax.lax.scan(body, state, self.jax.numpy.arange(steps) * self.eval_batch)
        if full < x.shape[0]:
            _, state = self.model.test_step(state, self._data(x[full:], y[full:]))
        return state[2]

    def _predict_fn(self, trainable, non_trainable, images):
        y_pred, _ = self.model.stateless_call(trainable, non_trainable, model_input(images), training=False)
        return y_pred

    def _state(self) -> tuple:
        model = self.model
        return ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
                [v.value for v in model.optimizer.variables], [v.value for v in model.metrics_variables])

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch (state read from the model, so callbacks' changes count) and return its logs."""
        self.model.reset_metrics()
        key = self.jax.random.fold_in(self.key, epoch)
        state = self._epoch(self._state(), self.x, self.y, key)
        model = self.model
        for variables, values in zip((model.trainable_variables, model.non_trainable_variables,
                                      model.optimizer.variables, model.metrics_variables), state):
            for variable, value in zip(variables, values):
                variable.assign(value)  # callbacks (checkpoints, the monitor) see the trained model
        return _logs(model)

    def evaluate(self) -> dict[str, float]:
        """The compiled loss and metrics on the validation set, as ``val_*`` logs."""
        self.model.reset_metrics()
        trainable, non_trainable, _, metrics = self._state()
        for variable, value in zip(self.model.metrics_variables,
                                   self._evaluate((trainable, non_trainable, metrics), self.val_x, self.val_y)):
            variable.assign(value)
        return _logs(self.model, "val_")

    def predict(self, images: np.ndarray) -> np.ndarray:
        trainable, non_trainable, _, _ = self._state()
        return np.concatenate([np.asarray(self._predict(trainable, non_trainable, images[i:i + self.eval_batch]))
                               for i in range(0, len(images), self.eval_batch)]).astype(np.float32, copy=False)


class TensorFlowEpochs:
    """The epoch's full batches run in one ``tf.function`` loop (XLA-compiled where :func:`use_xla` says:
    XLA fuses the optimizer's element-wise updates, which dominate at small batch sizes); the last,
    smaller batch runs as one more step. The shuffle happens on the device too, outside the XLA program
    (XLA has no shuffle op)."""

    def __init__(self, model: keras.Model, train: ImageSet, val: ImageSet, batch_size: int, seed: int,
                 jit_compile: bool = True, class_weight: np.ndarray | None = None):
        import tensorflow as tf

        self.tf, self.model, self.batch_size, self.seed = tf, model, batch_size, seed
        self.eval_batch = eval_batch(train.images.shape[1:], batch_size)
        build_metrics(model, train.images, train.labels)
        on_gpu = bool(tf.config.list_logical_devices("GPU"))
        with tf.device("/GPU:0" if on_gpu else "/CPU:0"):
            self.x, self.val_x = (_device_tensor(tf, part.images, on_gpu) for part in (train, val))
            self.y, self.val_y = (tf.identity(part.labels.astype(np.int64)) for part in (train, val))
            self.class_weight = None if class_weight is None else tf.constant(class_weight, tf.float32)
        self.count = len(train.labels)
        self._loop = tf.function(self._loop_fn, jit_compile=jit_compile, reduce_retracing=True)
        self._step = tf.function(self._step_fn, reduce_retracing=True)
        self._test = tf.function(self._test_fn, reduce_retracing=True)
        self._predict = tf.function(lambda xb: model(model_input(xb), training=False), reduce_retracing=True)

    def _data(self, x, y):
        weights = None if self.class_weight is None else self.tf.gather(self.class_weight, y)
        return model_input(x), y, weights

    def _step_fn(self, rows):
        self.model.train_step(self._data(self.tf.gather(self.x, rows), self.tf.gather(self.y, rows)))

    def _loop_fn(self, batches):
        """Train on every row of ``batches`` (steps, batch_size) of indexes: one compiled loop."""
        for i in self.tf.range(self.tf.shape(batches)[0]):  # AutoGraph: a while loop in the program
            self._step_fn(batches[i])

    def _test_fn(self, x, y):
        self.model.test_step(self._data(x, y))

    def train_epoch(self, epoch: int) -> dict[str, float]:
        tf = self.tf
        self.model.reset_metrics()
        order = tf.random.experimental.stateless_shuffle(tf.range(self.count), seed=[self.seed, epoch])
        steps, full = _batches(self.count, self.batch_size)
        if steps:
            self._loop(tf.reshape(order[:full], [steps, self.batch_size]))
        if full < self.count:  # the last, smaller batch, as fit trains it too
            self._step(order[full:])
        return _logs(self.model)

    def evaluate(self) -> dict[str, float]:
        self.model.reset_metrics()
        for start in range(0, int(self.val_y.shape[0]), self.eval_batch):
            self._test(self.val_x[start:start + self.eval_batch], self.val_y[start:start + self.eval_batch])
        return _logs(self.model, "val_")

    def predict(self, images: np.ndarray) -> np.ndarray:
        return np.concatenate([self._predict(images[i:i + self.eval_batch]).numpy()
                               for i in range(0, len(images), self.eval_batch)]).astype(np.float32, copy=False)


def _device_tensor(tf, images: np.ndarray, on_gpu: bool):
    """The images as a tensor on the training device: a copy on a GPU; on the CPU the very same memory
    when it is 64-byte aligned (through DLPack: the data layer allocates so), as TensorFlow's own
    conversion would hold the images twice more."""
    if not on_gpu and images.flags.c_contiguous and images.ctypes.data % 64 == 0:
        return tf.experimental.dlpack.from_dlpack(images.__dlpack__())
    return tf.identity(images)


CONVOLUTIONS = ("Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose")


def use_xla(model: keras.Model, jit_compile: bool | str = "auto") -> bool:
    """Whether the TensorFlow fast route compiles its epoch with XLA (``jit_compile: auto`` decides here).

    On a GPU, always. On a CPU, only for networks without convolutions: XLA fuses the optimizer's
    element-wise updates, which dominate a dense network at small batches (W1: 7.4 -> 5.8 s per epoch),
    but XLA:CPU's convolutions are far slower than TensorFlow's oneDNN kernels (LeNet on 900 28x28
    images: 8.0 vs 1.2 s per epoch), which is why Keras's own ``auto`` turns XLA off on CPU-only machines.
    """
    if jit_compile != "auto":
        return bool(jit_compile)
    if keras.backend.backend() != "tensorflow":
        return True  # JAX compiles with XLA whatever this says
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        return True
    return not any(type(layer).__name__ in CONVOLUTIONS for layer in _all_layers(model))


def _all_layers(model) -> list:
    layers = []
    for layer in getattr(model, "layers", []):
        layers += [layer, *_all_layers(layer)]  # a nested model's own layers too
    return layers


def make_trainer(model: keras.Model, train: ImageSet, val: ImageSet, batch_size: int, seed: int,
                 jit_compile: bool | str = "auto", class_weight: np.ndarray | None = None):
    """The compiled trainer of the active backend. ``jit_compile``: True, False or "auto" (see
    :func:`use_xla`); ``class_weight``: one loss weight per class (as ``fit(class_weight=...)``), or None."""
    backend = keras.backend.backend()
    if backend == "jax":
        return JaxEpochs(model, train, val, batch_size, seed, class_weight)
    if backend == "tensorflow":
        return TensorFlowEpochs(model, train, val, batch_size, seed, use_xla(model, jit_compile), class_weight)
    raise ValueError(f"compiled epochs run on the jax and tensorflow backends, not {backend}")
