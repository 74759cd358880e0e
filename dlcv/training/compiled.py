"""Whole epochs as one compiled program over training data held on the device.

Keras's ``fit`` returns to Python between batches; for small networks on a GPU that overhead is most of
the time (../BENCHMARKS.md). These trainers keep the uint8 images on the device, shuffle there, and run
every batch of an epoch inside one compiled function:

- :class:`JaxEpochs` — ``jax.lax.scan`` over ``model.stateless_call`` and the optimizer's
  ``stateless_apply``; the model's variables are written back after each epoch.
- :class:`TensorFlowEpochs` — a ``tf.function`` whose loop over batches AutoGraph turns into one graph;
  it updates the model's variables in place.

Both use the model's compiled optimizer (with its schedule) and the same loss as ``fit``.

    trainer = make_trainer(model, images, labels, batch_size=32, seed=42)
    loss, accuracy = trainer.train_epoch(epoch=0)
    val_loss, val_accuracy = trainer.evaluate(val_images, val_labels)
"""
from __future__ import annotations

import keras
import numpy as np

LOSS = keras.losses.SparseCategoricalCrossentropy


def _channels_first() -> bool:
    return keras.config.image_data_format() == "channels_first"


class JaxEpochs:
    def __init__(self, model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int):
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
        self.state = ([v.value for v in model.trainable_variables],
                      [v.value for v in model.non_trainable_variables],
                      [v.value for v in self.optimizer.variables])
        self._epoch = jax.jit(self._epoch_fn, donate_argnums=0)
        self._predict = jax.jit(self._predict_fn)

    def _inputs(self, xb):
        x = xb.astype("float32") / 255.0
        return x.transpose(0, 3, 1, 2) if _channels_first() else x

    def _step(self, state, xb, yb):
        trainable, non_trainable, optimizer_vars = state

        def loss_of(trainable, non_trainable):
            y_pred, non_trainable = self.model.stateless_call(trainable, non_trainable, self._inputs(xb),
                                                              training=True)
            return self.loss(yb, y_pred), (y_pred, non_trainable)

        (loss, (y_pred, non_trainable)), grads = self.jax.value_and_grad(loss_of, has_aux=True)(
            trainable, non_trainable)
        trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads, trainable)
        correct = (y_pred.argmax(-1) == yb).sum()
        return (trainable, non_trainable, optimizer_vars), (loss * yb.shape[0], correct)

    def _epoch_fn(self, state, x, y, key):
        jnp = self.jax.numpy
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
        y_pred, _ = self.model.stateless_call(trainable, non_trainable, self._inputs(xb), training=False)
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
    def __init__(self, model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                 jit_compile: bool = False):
        import tensorflow as tf

        self.tf, self.model, self.batch_size, self.seed = tf, model, batch_size, seed
        self.loss = LOSS()
        device = "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"
        with tf.device(device):
            self.x = tf.identity(images)
            self.y = tf.identity(labels.astype(np.int64))
        self.count = len(labels)
        self._epoch = tf.function(self._epoch_fn, jit_compile=jit_compile, reduce_retracing=True)
        self._predict = tf.function(lambda xb: model(self._inputs(xb), training=False), reduce_retracing=True)

    def _inputs(self, xb):
        x = self.tf.cast(xb, self.tf.float32) / 255.0
        return self.tf.transpose(x, [0, 3, 1, 2]) if _channels_first() else x

    def _step(self, xb, yb):
        tf = self.tf
        with tf.GradientTape() as tape:
            y_pred = self.model(self._inputs(xb), training=True)
            loss = self.loss(yb, y_pred)
        variables = self.model.trainable_variables
        self.model.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        correct = tf.reduce_sum(tf.cast(tf.argmax(y_pred, -1) == yb, tf.float32))
        return loss * tf.cast(tf.shape(yb)[0], tf.float32), correct

    def _epoch_fn(self, seed):
        tf = self.tf
        n = tf.shape(self.y)[0]
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed)
        loss_sum, correct = tf.constant(0.0), tf.constant(0.0)
        for start in tf.range(0, n, self.batch_size):  # AutoGraph: a tf.while_loop inside the graph
            rows = order[start:start + self.batch_size]
            batch_loss, batch_correct = self._step(tf.gather(self.x, rows), tf.gather(self.y, rows))
            loss_sum, correct = loss_sum + batch_loss, correct + batch_correct
        count = tf.cast(n, tf.float32)
        return loss_sum / count, correct / count

    def train_epoch(self, epoch: int) -> tuple[float, float]:
        loss, accuracy = self._epoch(self.tf.constant([self.seed, epoch], dtype=self.tf.int64))
        return float(loss), float(accuracy)

    def evaluate(self, images: np.ndarray, labels: np.ndarray, batch_size: int = 1024) -> tuple[float, float]:
        predictions = np.concatenate([self._predict(images[i:i + batch_size]).numpy()
                                      for i in range(0, len(images), batch_size)])
        return _scores(self.loss, labels, predictions)


def _scores(loss, labels: np.ndarray, predictions: np.ndarray) -> tuple[float, float]:
    value = float(keras.ops.convert_to_numpy(loss(labels, predictions)))
    return value, float(np.mean(predictions.argmax(-1) == labels))


def make_trainer(model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                 jit_compile: bool = False):
    backend = keras.backend.backend()
    if backend == "jax":
        return JaxEpochs(model, images, labels, batch_size, seed)
    if backend == "tensorflow":
        return TensorFlowEpochs(model, images, labels, batch_size, seed, jit_compile=jit_compile)
    raise ValueError(f"the fast route supports the jax and tensorflow backends, not {backend}")
