"""Compiled epochs: windows of batches, each window one compiled program, fed from the device or the host.

Keras's ``fit`` returns to Python between batches; for small networks on a GPU that overhead is most of
the time (../BENCHMARKS.md). These trainers run the batches of an epoch in *windows* of K batches, each
window one compiled call. Each batch is Keras's own ``model.train_step``, so the model's compiled loss
(with any regularisation losses), its compiled metrics and its optimizer (with its schedule and loss
scaling) are exactly what ``fit`` would use.

The order of an epoch is the plan's (:class:`~.plan.EpochPlan`: the same as every route's), drawn on the host
from the seed and the epoch, so the shuffle covers every row whichever way the data arrives:

- *resident*: the uint8 training set is put on the device once; a window is a (K, batch) array of row
  indexes into it.
- *host-fed*: the host gathers a window's uint8 images (from memory, or streamed from disk) and moves
  it to the device while the previous window trains (double-buffered).

With one window holding the whole set, host-fed training is the resident route exactly (tested).

- :class:`JaxEpochs` — ``jax.lax.scan`` over the JAX trainer's stateless ``train_step`` (or, where XLA's
  CPU convolutions are slow inside a loop, one jitted step at a time); state read from the model before
  each epoch and written back after it.
- :class:`TensorFlowEpochs` — a ``tf.function`` (XLA where :func:`use_xla` says) whose loop over a
  window's batches AutoGraph turns into one program; ``train_step`` updates the variables in place.

    trainer = build_trainer(model, EpochPlan(splits.train, splits.val, batch_size=32, seed=42), Windows())
    logs = trainer.train_epoch(epoch=0)         # {"loss": ..., "accuracy": ...}
    logs.update(trainer.evaluate())             # {"val_loss": ..., "val_accuracy": ...}
"""
from __future__ import annotations

import abc
import math
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np

from ..inputs import model_input, model_targets
from ..models.layout import leaf_layers
from ..pipeline import eval_batch
from ..progress import interactive
from ..runtime import has_accelerator
from .keras_private import build_compiled
from .plan import EpochPlan
from .windows import Windows

PROGRESS_UPDATES = 8  # windows per epoch of resident data when a progress bar is shown (P1: its cost)


WINDOW_BYTES = 64 * 2**20  # at most, of uint8 images in one window fed from the host to an accelerator
CPU_WINDOW_BYTES = 16 * 2**20
"""At most, of images in one host-fed window when the device is the CPU itself: there is no transfer to
hide, so a larger window only holds more memory (M1: 16 MiB windows train as fast as 64 MiB ones and
peak 64 MB lower)."""
AUTOMATIC = Windows()
"""Windows as the route decides them by default: sizes automatic, the training set on the device."""


def build_training_state(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> None:
    """Build the compiled loss and metrics (and the optimizer) before a loop traces ``train_step``.

    ``fit`` does this on its first batch through a private method (:mod:`dlcv.training.keras_private`);
    there is no public way to build the compiled metrics without running a step.
    """
    build_compiled(model, (model_input(images[:1]), labels[:1]))
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def metric_logs(model: keras.Model, prefix: str = "") -> dict[str, float]:
    return {prefix + key: float(keras.ops.convert_to_numpy(value))
            for key, value in model.get_metrics_result().items()}


class EpochTrainer(abc.ABC):
    """The windowing (:class:`~.windows.Windows`), the host feeding and the progress bar over a plan's
    epochs; the backends compile the windows."""

    def __init__(self, model: keras.Model, plan: EpochPlan, windows: Windows = AUTOMATIC) -> None:
        train, batch_size = plan.train, plan.batch_size
        self.model, self.plan, self.train, self.val, self.augmenter = model, plan, train, plan.val, plan.augmenter
        self.batch_size, self.class_weight = batch_size, plan.class_weight
        self.count = len(train.labels)
        self.steps = self.count // batch_size
        self.resident = resident = windows.resident
        self.progress = interactive() if windows.progress is None else windows.progress
        self.shape = train.shape
        self.row_bytes = int(np.prod(self.shape))
        self.window = max(1, min(windows.window or self._auto_window(windows.window_bytes or 2 * WINDOW_BYTES),
                                 max(self.steps, 1)))
        self.eval_rows = eval_batch(self.shape, batch_size)
        first_images, first_labels = train.batch(np.arange(min(2, self.count)))
        build_training_state(model, first_images, first_labels)
        if self.augmenter is not None:  # built: its random state exists
            self.augmenter(model_input(first_images), first_labels, training=False)
        if resident:
            self.x, self.y = self._put(train.images, train.labels)
        self._feeder = ThreadPoolExecutor(1, thread_name_prefix="dlcv-window") if not resident else None

    def _auto_window(self, window_bytes: int) -> int:
        if not self.resident:  # two windows on the device at a time: the one training, the next arriving
            return max(1, window_bytes // (2 * self.batch_size * self.row_bytes))
        if self.progress:
            return max(1, math.ceil(self.steps / PROGRESS_UPDATES))
        return max(self.steps, 1)

    # ---- the backend's part ------------------------------------------------------------------------

    @abc.abstractmethod
    def _put(self, images: np.ndarray, labels: np.ndarray):
        """(x, y) on the device."""

    @abc.abstractmethod
    def _begin(self) -> None:
        """Before an epoch or an evaluation (JAX: read the state from the model)."""

    @abc.abstractmethod
    def _end(self) -> None:
        """After it (JAX: write the state back, so callbacks see the trained model)."""

    @abc.abstractmethod
    def _train_window(self, x, y, rows: np.ndarray) -> None:
        """Train on the batches ``rows`` (K, batch) of row indexes into x, y: one compiled call."""

    @abc.abstractmethod
    def _test_window(self, x, y, rows: np.ndarray) -> None:
        """Update the compiled metrics with test steps over ``rows`` (K, eval batch)."""

    @abc.abstractmethod
    def _forward(self, x) -> np.ndarray:
        """Probabilities for a batch already on the device."""

    # ---- epochs ------------------------------------------------------------------------------------

    def train_epoch(self, epoch: int, skip: int = 0, state: list | None = None, stop=None) -> dict[str, float]:
        """Train one epoch (the state read from the model, so callbacks' changes count); its logs.

        ``skip``: its first batches, trained before (a resumed epoch), with the running metrics ``state``
        they left; ``stop``: when it is true after a window, :class:`~.preemption.EpochInterrupted`."""
        from .preemption import EpochInterrupted, metric_state, restore_metrics

        self.model.reset_metrics()
        if state is not None:
            restore_metrics(self.model, state)
        self._begin()
        order = self.plan.order(epoch)
        full = self.steps * self.batch_size
        span = self.window * self.batch_size
        windows = [order[start:min(start + span, full)] for start in range(skip * self.batch_size, full, span)]
        rest = order[max(full, skip * self.batch_size):]  # the last, smaller batch, as fit trains it too
        self.bar = keras.utils.Progbar(self.total_steps, unit_name="step") if self.progress else None
        done = skip
        for x, y, rows in self._windows(windows):
            self._train_window(x, y, rows)
            done += len(rows)
            if self.bar is not None:
                self.bar.update(done, list(self._logs_now().items()))
            del x, y  # a trained host-fed window is freed before the one after the next is gathered
            if stop and done < self.total_steps:
                self._end()
                raise EpochInterrupted(done, metric_state(self.model))
        if len(rest):
            for x, y, rows in self._windows([rest], batch=len(rest)):
                self._train_window(x, y, rows)
        self._end()
        return metric_logs(self.model)

    @property
    def total_steps(self) -> int:
        return self.steps + bool(self.count % self.batch_size)

    def finish_progress(self, logs: dict[str, float]) -> None:
        """Close the epoch's bar with all its logs (validation included), as Keras's fit does."""
        if getattr(self, "bar", None) is not None:
            self.bar.update(self.total_steps, list(logs.items()), finalize=True)

    def _logs_now(self) -> dict[str, float]:
        self._end()  # sync (JAX: the window's state into the model) to read the running metrics
        return metric_logs(self.model)

    def _windows(self, windows: list[np.ndarray], batch: int | None = None):
        """(x, y, rows) per window: index windows into the resident set, or host-gathered windows moved to
        the device one ahead of the one training."""
        batch = batch or self.batch_size
        if self.resident:
            for rows in windows:
                yield self.x, self.y, rows.reshape(-1, batch)
            return
        pending = self._feeder.submit(self._gather, windows[0], batch) if windows else None
        for i in range(len(windows)):
            current = pending.result()
            pending = self._feeder.submit(self._gather, windows[i + 1], batch) if i + 1 < len(windows) else None
            if current is not None:
                yield current

    def _gather(self, rows: np.ndarray, batch: int):
        images, labels = self.train.batch(rows)
        usable = len(labels) - len(labels) % batch  # a streamed file found unreadable shortens a window
        if not usable:
            return None
        x, y = self._put(images[:usable], labels[:usable])
        return x, y, np.arange(usable).reshape(-1, batch)

    def evaluate(self) -> dict[str, float]:
        """The compiled loss and metrics on the validation set, as ``val_*`` logs."""
        self.model.reset_metrics()
        self._begin()
        for start in range(0, len(self.val.labels), self.eval_rows):
            images, labels = self.val.batch(np.arange(start, min(start + self.eval_rows, len(self.val.labels))))
            if len(labels):
                x, y = self._put(images, labels)
                self._test_window(x, y, np.arange(len(labels)).reshape(1, -1))
        self._end()
        return metric_logs(self.model, "val_")

    def predict(self, images: np.ndarray) -> np.ndarray:
        self._begin()
        outputs = [self._forward(self._put(images[i:i + self.eval_rows], np.zeros(0, np.int64))[0])
                   for i in range(0, len(images), self.eval_rows)]
        return np.concatenate(outputs).astype(np.float32, copy=False)


class JaxEpochs(EpochTrainer):
    """``loop="scan"``: each window one ``lax.scan``; ``"step"``: one jitted step per batch (XLA:CPU's
    convolutions are several times slower inside a scan than as separate jitted steps)."""

    def __init__(self, model: keras.Model, plan: EpochPlan, windows: Windows = AUTOMATIC) -> None:
        import jax

        self.jax, self.loop = jax, windows.loop
        self.state = None
        super().__init__(model, plan, windows)
        # The augmentation's random state (its seed generators) travels with the training state.
        self.aug_state = [v.value for v in self.augmenter.non_trainable_variables] if self.augmenter else []
        weights = self.class_weight
        self.weights = None if weights is None else jax.device_put(weights.astype(np.float32))
        self._window_fn = jax.jit(self._window_scan if self.loop == "scan" else self._one_step, donate_argnums=0)
        self._test_fn = jax.jit(self._test_scan)
        self._predict_fn = jax.jit(self._predict)

    def _put(self, images, labels):
        targets = model_targets(labels)
        if targets.ndim == 1:  # class indexes as int32 on JAX (its default integer width)
            targets = targets.astype(np.int32)
        return self.jax.device_put(images), self.jax.device_put(targets)

    def _data(self, x, y):
        weights = None if self.weights is None else self.weights[y]
        return model_input(x), y, weights

    def _one_step(self, carry, x, y, rows):
        state, aug_state = carry
        inputs, labels, weights = self._data(x[rows], y[rows])
        if self.augmenter is not None:
            (inputs, labels), aug_state = self.augmenter.stateless_call([], aug_state, inputs, labels, training=True)
        _, state = self.model.train_step(state, (inputs, labels, weights))
        return state, aug_state

    def _window_scan(self, carry, x, y, rows):
        def body(carry, batch_rows):
            return self._one_step(carry, x, y, batch_rows), None
        return self.jax.lax.scan(body, carry, rows)[0]

    def _test_scan(self, state, x, y, rows):
        def body(state, batch_rows):
            _, state = self.model.test_step(state, self._data(x[batch_rows], y[batch_rows]))
            return state, None
        return self.jax.lax.scan(body, state, rows)[0]

    def _predict(self, trainable, non_trainable, x):
        y_pred, _ = self.model.stateless_call(trainable, non_trainable, model_input(x), training=False)
        return y_pred

    def _begin(self):
        model = self.model
        self.state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
                      [v.value for v in model.optimizer.variables], [v.value for v in model.metrics_variables])

    def _end(self):
        model = self.model
        for variables, values in zip((model.trainable_variables, model.non_trainable_variables,
                                      model.optimizer.variables, model.metrics_variables), self.state):
            for variable, value in zip(variables, values):
                variable.assign(value)

    def _train_window(self, x, y, rows):
        rows = self.jax.device_put(rows.astype(np.int32))
        carry = (self.state, self.aug_state)
        if self.loop == "scan":
            carry = self._window_fn(carry, x, y, rows)
        else:
            for batch_rows in rows:
                carry = self._window_fn(carry, x, y, batch_rows)
        self.state, self.aug_state = carry

    def _test_window(self, x, y, rows):
        trainable, non_trainable, optimizer, metrics = self.state
        rows = self.jax.device_put(rows.astype(np.int32))
        metrics = self._test_fn((trainable, non_trainable, metrics), x, y, rows)[2]
        self.state = (trainable, non_trainable, optimizer, metrics)

    def _forward(self, x):
        trainable, non_trainable, _, _ = self.state
        return np.asarray(self._predict_fn(trainable, non_trainable, x))


class TensorFlowEpochs(EpochTrainer):
    """A window's batches run in one ``tf.function`` loop (XLA-compiled where :func:`use_xla` says: XLA
    fuses the optimizer's element-wise updates, which dominate at small batch sizes)."""

    def __init__(self, model: keras.Model, plan: EpochPlan, windows: Windows = AUTOMATIC) -> None:
        import tensorflow as tf

        self.tf = tf
        self.on_gpu = has_accelerator()
        super().__init__(model, plan, windows)
        self.weights = None if self.class_weight is None else tf.constant(self.class_weight, tf.float32)
        # TensorFlow's image transformations (ImageProjectiveTransformV3) have no XLA kernel: augmenting
        # windows run without XLA on this backend.
        self.jit_compile = use_xla(model, windows.jit_compile, windows.steps) and plan.augmenter is None
        self._loop = self._test = None  # traced at their first window: see _traced
        self._predict = tf.function(lambda x: self.model(model_input(x), training=False), reduce_retracing=True)

    def _put(self, images, labels):
        tf = self.tf
        with tf.device("/GPU:0" if self.on_gpu else "/CPU:0"):
            return _device_tensor(tf, images, self.on_gpu), tf.identity(model_targets(labels))

    def _data(self, x, y):
        weights = None if self.weights is None else self.tf.gather(self.weights, y)
        return model_input(x), y, weights

    def _loop_fn(self, x, y, rows):
        for i in self.tf.range(self.tf.shape(rows)[0]):  # AutoGraph: a while loop in the program
            inputs, labels, weights = self._data(self.tf.gather(x, rows[i]), self.tf.gather(y, rows[i]))
            if self.augmenter is not None:
                inputs, labels = self.augmenter(inputs, labels, training=True)
            self.model.train_step((inputs, labels, weights))

    def _test_fn(self, x, y, rows):
        for i in self.tf.range(self.tf.shape(rows)[0]):
            self.model.test_step(self._data(self.tf.gather(x, rows[i]), self.tf.gather(y, rows[i])))

    def _begin(self):
        pass

    def _end(self):
        pass

    def _train_window(self, x, y, rows):
        if self._loop is None:
            self._loop = self._traced(self._loop_fn, x, y, jit_compile=self.jit_compile)
        self._loop(x, y, self.tf.constant(rows, self.tf.int64))

    def _test_window(self, x, y, rows):
        if self._test is None:
            self._test = self._traced(self._test_fn, x, y)
        self._test(x, y, self.tf.constant(rows, self.tf.int64))

    def _traced(self, fn, x, y, jit_compile: bool = False):
        """``fn`` as one ``tf.function`` for every window: any number of images, batches and batch size.
        Traced for the first window's shapes, the epoch's last, smaller batch would trace the whole loop
        again (seconds for a backbone; XLA compiles each shape anyway, without a new trace)."""
        tf = self.tf
        signature = [tf.TensorSpec([None, *x.shape[1:]], x.dtype), tf.TensorSpec([None, *y.shape[1:]], y.dtype),
                     tf.TensorSpec([None, None], tf.int64)]
        return tf.function(fn, jit_compile=jit_compile, input_signature=signature)

    def _forward(self, x):
        return self._predict(x).numpy()


def _device_tensor(tf, images: np.ndarray, on_gpu: bool):
    """The images as a tensor on the training device: a copy on a GPU; on the CPU the very same memory
    when it is 64-byte aligned (through DLPack: the data layer allocates so), as TensorFlow's own
    conversion would hold the images twice more."""
    if not on_gpu and images.flags.c_contiguous and images.ctypes.data % 64 == 0:
        return tf.experimental.dlpack.from_dlpack(images.__dlpack__())
    return tf.identity(images)


CONVOLUTIONS = ("Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose")


def has_convolutions(model) -> bool:
    return any(type(layer).__name__ in CONVOLUTIONS for layer in leaf_layers(model))


XLA_CPU_REPAID_AFTER = 5_000
"""On a CPU, XLA's compile (0.5-1.1 s a run) is repaid after about this many batches of a small network,
and after fewer of a larger one: its saving per batch grows with the parameters its fused update reads and
writes (BENCHMARKS.md, "XLA on CPU for dense networks": 0.13-0.31 ms a batch for the linear model and the
quickstart's MLP, 0.67-0.77 ms for the MNIST MLP's 235,000 parameters, 2.2-2.5 ms for the CIFAR MLP's 3.7
million). :func:`use_xla` counts each batch as 1 + parameters / 100,000."""


def use_xla(model: keras.Model, jit_compile: bool | str = "auto", steps: int | None = None) -> bool:
    """Whether the TensorFlow compiled route compiles its windows with XLA (``jit_compile: auto`` here),
    for a run of ``steps`` training batches (None: a long run).

    On a GPU, always. On a CPU, only for networks without convolutions, and only for a run long enough to
    repay the compile (:data:`XLA_CPU_REPAID_AFTER`): XLA fuses the optimizer's element-wise updates, which
    dominate a dense network at small batches (W1: 7.4 -> 5.8 s per epoch), but XLA:CPU's convolutions are
    far slower than TensorFlow's oneDNN kernels (LeNet on 900 28x28 images: 8.0 vs 1.2 s per epoch), which
    is why Keras's own ``auto`` turns XLA off on CPU-only machines.

        use_xla(mlp, steps=30 * 38)   # False on a CPU: the quickstart is over before its compile is repaid
    """
    if jit_compile != "auto":
        return bool(jit_compile)
    if keras.backend.backend() != "tensorflow":
        return True  # JAX compiles with XLA whatever this says
    if has_accelerator():
        return True
    if has_convolutions(model):
        return False
    return steps is None or steps * (1 + model.count_params() / 100_000) >= XLA_CPU_REPAID_AFTER


def build_trainer(model: keras.Model, plan: EpochPlan, windows: Windows = AUTOMATIC) -> EpochTrainer:
    """The compiled trainer of the active backend for ``plan``'s epochs, in ``windows``."""
    backend = keras.backend.backend()
    if backend == "jax":
        return JaxEpochs(model, plan, windows)
    if backend == "tensorflow":
        return TensorFlowEpochs(model, plan, windows)
    raise ValueError(f"compiled epochs run on the jax and tensorflow backends, not {backend}")
