"""Whole epochs as one compiled program over training data held on the device.

Keras's ``fit`` returns to Python between batches; for small networks on a GPU that overhead is most of
the time (../BENCHMARKS.md). These trainers keep the uint8 images on the device, shuffle there, and run
every batch of an epoch inside one compiled function:

- :class:`JaxEpochs` — ``jax.lax.scan`` over ``model.stateless_call`` and the optimizer's
  ``stateless_apply``; the model's variables are written back after each epoch.
- :class:`TensorFlowEpochs` — an XLA-compiled ``tf.function`` whose loop over batches AutoGraph turns
  into one program; it updates the model's variables in place.

Both use the model's compiled optimizer (with its schedule) and the same loss as ``fit``.

    trainer = make_trainer(model, images, labels, batch_size=32, seed=42)
    loss, accuracy = trainer.train_epoch(epoch=0)
    val_loss, val_accuracy = trainer.evaluate(val_images, val_labels)
"""
from __future__ import annotations

import keras
import numpy as np

LOSS = keras.losses.SparseCategoricalCrossentropy


def _model_input(xb):
    """uint8 NHWC batch -> float32 in [0, 1], in Keras's layout; keras.ops, so it traces under JAX and TF."""
    x = keras.ops.cast(xb, "float32") / 255.0
    if keras.config.image_data_format() == "channels_first":
        return keras.ops.transpose(x, (0, 3, 1, 2))
    return x


class JaxEpochs:
    def __init__(self, model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                 class_weight: np.ndarray | None = None):
        import jax

        self.jax = jax
        self.model, self.batch_size = model, batch_size
        self.optimizer = model.optimizer
        if not self.optimizer.built:
            self.optimizer.build(model.trainable_variables)
        self.loss = LOSS()
        self.count = len(labels)
        self.x = jax.device_put(images)                       # uint8: a quarter of float32's memory
        self.y = jax.device_put(labels.astype(np.int32))
        self.key = jax.random.PRNGKey(seed)
        self.class_weight = None if class_weight is None else jax.device_put(class_weight.astype(np.float32))
        self.state = ([v.value for v in model.trainable_variables],
                      [v.value for v in model.non_trainable_variables],
                      [v.value for v in self.optimizer.variables])
        self._epoch = jax.jit(self._epoch_fn, donate_argnums=0)
        self._predict = jax.jit(self._predict_fn)


    def _step(self, state, xb, yb):
        trainable, non_trainable, optimizer_vars = state

        def loss_of(trainable, non_trainable):
            y_pred, non_trainable = self.model.stateless_call(trainable, non_trainable, _model_input(xb),
                                                              training=True)
            weights = None if self.class_weight is None else self.class_weight[yb]
            return self.loss(yb, y_pred, sample_weight=weights), (y_pred, non_trainable)

        (loss, (y_pred, non_trainable)), grads = self.jax.value_and_grad(loss_of, has_aux=True)(
            trainable, non_trainable)
        trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads, trainable)
        correct = (y_pred.argmax(-1) == yb).sum()
        return (trainable, non_trainable, optimizer_vars), (loss * yb.shape[0], correct)

    def _epoch_fn(self, state, x, y, key):
        order = self.jax.random.permutation(key, x.shape[0])
        full = (x.shape[0] // self.batch_size) * self.batch_size
        batches = order[:full].reshape(-1, self.batch_size)

        def body(state, rows):
            return self._step(state, x[rows], y[rows])

        state, (losses, corrects) = self.jax.lax.scan(body, state, batches)
        loss_sum, correct = losses.sum(), corrects.sum()
        if full < x.shape[0]:  # the last, smaller batch, as fit trains it too
            rest = order[full:]
            state, (rest_loss, rest_correct) = self._step(state, x[rest], y[rest])
            loss_sum, correct = loss_sum + rest_loss, correct + rest_correct
        return state, loss_sum / x.shape[0], correct / x.shape[0]

    def _predict_fn(self, trainable, non_trainable, xb):
        y_pred, _ = self.model.stateless_call(trainable, non_trainable, _model_input(xb), training=False)
        return y_pred

    def train_epoch(self, epoch: int) -> tuple[float, float]:
        key = self.jax.random.fold_in(self.key, epoch)
        self.state, loss, accuracy = self._epoch(self.state, self.x, self.y, key)
        self._sync()
        return float(loss), float(accuracy)

    def evaluate(self, images: np.ndarray, labels: np.ndarray, batch_size: int = 1024) -> tuple[float, float]:
        trainable, non_trainable, _ = self.state
        predictions = np.concatenate([
            np.asarray(self._predict(trainable, non_trainable, images[i:i + batch_size]))
            for i in range(0, len(images), batch_size)])
        return _scores(self.loss, labels, predictions)

    def _sync(self) -> None:
        """Write the compiled loop's state back, so callbacks (checkpoints, ...) see the trained model."""
        trainable, non_trainable, optimizer_vars = self.state
        for variables, values in ((self.model.trainable_variables, trainable),
                                  (self.model.non_trainable_variables, non_trainable),
                                  (self.optimizer.variables, optimizer_vars)):
            for variable, value in zip(variables, values):
                variable.assign(value)


class TensorFlowEpochs:
    """The epoch's full batches run in one XLA-compiled ``tf.function`` loop (XLA fuses the optimizer's
    element-wise updates, which dominate at small batch sizes); the last, smaller batch runs as one more
    step. The shuffle happens on the device too, just outside the XLA program (XLA has no shuffle op)."""

    def __init__(self, model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                 jit_compile: bool = True, class_weight: np.ndarray | None = None):
        import tensorflow as tf

        self.tf, self.model, self.batch_size, self.seed = tf, model, batch_size, seed
        self.loss = LOSS()
        device = "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"
        with tf.device(device):
            self.x = tf.identity(images)
            self.y = tf.identity(labels.astype(np.int64))
            self.class_weight = None if class_weight is None else tf.constant(class_weight, tf.float32)
        self.count = len(labels)
        self.full = (self.count // batch_size) * batch_size
        self._batches = tf.function(self._batches_fn, jit_compile=jit_compile, reduce_retracing=True)
        self._step_fn = tf.function(self._step, reduce_retracing=True)
        self._predict = tf.function(lambda xb: model(_model_input(xb), training=False), reduce_retracing=True)


    def _step(self, xb, yb):
        tf = self.tf
        with tf.GradientTape() as tape:
            y_pred = self.model(_model_input(xb), training=True)
            weights = None if self.class_weight is None else tf.gather(self.class_weight, yb)
            loss = self.loss(yb, y_pred, sample_weight=weights)
        variables = self.model.trainable_variables
        self.model.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        correct = tf.reduce_sum(tf.cast(tf.argmax(y_pred, -1) == yb, tf.float32))
        return loss * tf.cast(tf.shape(yb)[0], tf.float32), correct

    def _batches_fn(self, batches):
        """Train on every row of ``batches`` (steps, batch_size) of indexes: one compiled loop."""
        tf = self.tf
        loss_sum, correct = tf.constant(0.0), tf.constant(0.0)
        for i in tf.range(tf.shape(batches)[0]):  # AutoGraph: a while loop inside the compiled program
            batch_loss, batch_correct = self._step(tf.gather(self.x, batches[i]), tf.gather(self.y, batches[i]))
            loss_sum, correct = loss_sum + batch_loss, correct + batch_correct
        return loss_sum, correct

    def train_epoch(self, epoch: int) -> tuple[float, float]:
        tf = self.tf
        order = tf.random.experimental.stateless_shuffle(tf.range(self.count), seed=[self.seed, epoch])
        loss_sum, correct = tf.constant(0.0), tf.constant(0.0)
        if self.full:
            loss_sum, correct = self._batches(tf.reshape(order[:self.full], [-1, self.batch_size]))
        if self.full < self.count:  # the last, smaller batch, as fit trains it too
            rest = order[self.full:]
            rest_loss, rest_correct = self._step_fn(tf.gather(self.x, rest), tf.gather(self.y, rest))
            loss_sum, correct = loss_sum + rest_loss, correct + rest_correct
        return float(loss_sum) / self.count, float(correct) / self.count

    def evaluate(self, images: np.ndarray, labels: np.ndarray, batch_size: int = 1024) -> tuple[float, float]:
        predictions = np.concatenate([self._predict(images[i:i + batch_size]).numpy()
                                      for i in range(0, len(images), batch_size)])
        return _scores(self.loss, labels, predictions)


class StrategyEpochs:
    """TensorFlow's custom-training-loop pattern for a ``tf.distribute`` strategy: each global batch is
    one ``strategy.run`` of the step inside a ``tf.function``, gradients all-reduced by the strategy.

    Used for MultiWorkerMirroredStrategy, under which Keras 3's ``fit`` fails (keras-team/keras#20585).
    The dataset is sharded across workers by tf.data's auto-sharding; the loss is averaged over the
    global batch as ``tf.nn.compute_average_loss`` prescribes.
    """

    def __init__(self, model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                 strategy, class_weight: np.ndarray | None = None):
        import tensorflow as tf

        self.tf, self.model, self.strategy, self.batch_size = tf, model, strategy, batch_size
        self.loss = LOSS(reduction=None)
        self.class_weight = None if class_weight is None else tf.constant(class_weight, tf.float32)
        data = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int64)))
        data = data.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
        self.dataset = strategy.experimental_distribute_dataset(data)
        self._step = tf.function(self._step_fn)


    def _replica_step(self, xb, yb):
        tf = self.tf
        with tf.GradientTape() as tape:
            y_pred = self.model(_model_input(xb), training=True)
            per_example = self.loss(yb, y_pred)
            if self.class_weight is not None:
                per_example *= tf.gather(self.class_weight, yb)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.batch_size)
        variables = self.model.trainable_variables
        self.model.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        correct = tf.reduce_sum(tf.cast(tf.argmax(y_pred, -1) == yb, tf.float32))
        return tf.reduce_sum(per_example), correct, tf.cast(tf.shape(yb)[0], tf.float32)

    def _step_fn(self, xb, yb):
        sums = self.strategy.run(self._replica_step, args=(xb, yb))
        return [self.strategy.reduce(self.tf.distribute.ReduceOp.SUM, value, axis=None) for value in sums]

    def train_epoch(self, epoch: int) -> tuple[float, float]:
        loss_sum = correct = count = 0.0
        for xb, yb in self.dataset:
            batch_loss, batch_correct, batch_count = (float(v) for v in self._step(xb, yb))
            loss_sum, correct, count = loss_sum + batch_loss, correct + batch_correct, count + batch_count
        return loss_sum / count, correct / count

    def evaluate(self, images: np.ndarray, labels: np.ndarray, batch_size: int = 1024) -> tuple[float, float]:
        # Each worker scores the (small) validation set itself: a forward pass needs no collectives.
        predictions = np.concatenate([
            keras.ops.convert_to_numpy(self.model(_model_input(images[i:i + batch_size]), training=False))
            for i in range(0, len(images), batch_size)])
        return _scores(LOSS(), labels, predictions)


def _scores(loss, labels: np.ndarray, predictions: np.ndarray) -> tuple[float, float]:
    value = float(keras.ops.convert_to_numpy(loss(labels, predictions)))
    return value, float(np.mean(predictions.argmax(-1) == labels))


CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.SeparableConv2D,
                keras.layers.DepthwiseConv2D, keras.layers.Conv2DTranspose)


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
    return not any(isinstance(layer, CONVOLUTIONS) for layer in _all_layers(model))


def _all_layers(model) -> list:
    layers = []
    for layer in getattr(model, "layers", []):
        layers += [layer, *_all_layers(layer)]  # a nested model's own layers too
    return layers


def make_trainer(model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                 jit_compile: bool | str = "auto", strategy=None, class_weight: np.ndarray | None = None):
    """``jit_compile``: True, False or "auto" (see :func:`use_xla`); ``class_weight``: one loss weight per
    class (as ``fit(class_weight=...)``), or None."""
    if strategy is not None:
        return StrategyEpochs(model, images, labels, batch_size, seed, strategy, class_weight)
    backend = keras.backend.backend()
    if backend == "jax":
        return JaxEpochs(model, images, labels, batch_size, seed, class_weight)
    if backend == "tensorflow":
        return TensorFlowEpochs(model, images, labels, batch_size, seed, use_xla(model, jit_compile), class_weight)
    raise ValueError(f"the fast route supports the jax and tensorflow backends, not {backend}")
