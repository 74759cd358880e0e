"""Training on several devices or machines with the engines TensorFlow and Keras already have.

- ``mirrored``: ``tf.distribute.MirroredStrategy`` over this machine's GPUs (its logical CPUs when it
  has none, which is how the tests run it); trains through Keras's ``fit``.
- ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy``; every machine runs the same command
  with its own ``TF_CONFIG``. Keras 3's ``fit`` fails under it (keras-team/keras#20585), so it trains
  through :class:`StrategyRoute`, TensorFlow's custom-loop pattern (``strategy.run`` of Keras's own
  ``train_step``). Only the chief (task 0) writes the run folder.
- ``data_parallel``: ``keras.distribution.DataParallel`` over every JAX device; trains through ``fit``.

    distribution = make_distribution(config)              # first: before anything touches TensorFlow
    with distribution.scope():                            # builds, compiles and trains inside it
        model = compile_model(config, ...)
        route = choose_route(config, nbytes, distribution)

The batch size in the config is the global batch, split across replicas. Keras is imported inside the
functions, so :func:`check_distribution` runs when a config is loaded.
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..config import ExperimentConfig
from ..data import ImageSet
from ..errors import ConfigError, TrainingStopped
from ..runs import cluster_config
from .routes import EpochLoopRoute

BACKEND_OF = {"mirrored": "tensorflow", "multi_worker": "tensorflow", "data_parallel": "jax"}
JOIN_TIMEOUT_SECONDS = float(os.environ.get("DLCV_WORKER_TIMEOUT", 300))
"""How long a multi-worker run waits for the other workers to join (and a collective for its peers)
before it ends in one line ($DLCV_WORKER_TIMEOUT, seconds)."""


@dataclass(frozen=True)
class Distribution:
    """What the engine needs to know of the distribution in force."""

    kind: str = "none"
    replicas: int = 1
    strategy: object | None = None
    """The tf.distribute strategy, where there is one."""
    batch_multiple: int = 1
    """Every batch is cut to a multiple of this (JAX data parallelism splits batches evenly)."""
    loop: type | None = None
    """A route of the distribution's own, when Keras's fit cannot train under it."""
    loop_reason: str = ""
    keras_distribution: object | None = None
    """Keras's own distribution (JAX data parallelism), set while building and training."""

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Build, compile and train inside this (what is created outside it stays a plain local object)."""
        if self.strategy is not None:
            with self.strategy.scope():
                yield
        elif self.keras_distribution is not None:
            import keras

            previous = keras.distribution.distribution()
            keras.distribution.set_distribution(self.keras_distribution)
            try:
                yield
            finally:
                keras.distribution.set_distribution(previous)
        else:
            yield


def check_distribution(config: ExperimentConfig, backend: str) -> None:
    wanted = BACKEND_OF.get(config.distribution)
    if wanted and backend != wanted:
        raise ConfigError(f"distribution: {config.distribution} runs on the {wanted} backend, "
                          f"not {backend}; set backend: {wanted}")
    if config.distribution == "multi_worker" and "TF_CONFIG" not in os.environ:
        raise ConfigError("distribution: multi_worker needs TF_CONFIG describing the cluster and this "
                          "worker's task; see the README")




def make_distribution(config: ExperimentConfig) -> Distribution:
    """The config's distribution, created before anything else touches TensorFlow (a multi-worker
    strategy must configure the runtime first); enter its :meth:`Distribution.scope` to build."""
    if config.distribution == "none":
        return Distribution()
    if config.distribution == "data_parallel":
        import jax
        import keras

        devices = jax.devices()
        if config.batch_size % len(devices):
            raise ConfigError(f"batch_size: {config.batch_size} must divide evenly over {len(devices)} devices")
        return Distribution("data_parallel", len(devices), batch_multiple=len(devices),
                            keras_distribution=keras.distribution.DataParallel(devices=devices))
    import tensorflow as tf

    if config.distribution == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        strategy = tf.distribute.MirroredStrategy(devices=[d.name for d in (gpus or tf.config.list_logical_devices("CPU"))])
        return Distribution("mirrored", strategy.num_replicas_in_sync, strategy)
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=JOIN_TIMEOUT_SECONDS)
    peers = ", ".join(cluster_config().get("cluster", {}).get("worker", [])) or "the cluster"
    # TensorFlow waits for every worker without limit (and ignores SIGTERM while it does): a watchdog
    # ends the process when the cluster has not formed in time.
    with _deadline(JOIN_TIMEOUT_SECONDS, f"the workers of TF_CONFIG ({peers}) did not all join within "
                   f"{JOIN_TIMEOUT_SECONDS:.0f} s; start the same command on every worker (with --resume on "
                   "all of them to continue a run), or raise DLCV_WORKER_TIMEOUT"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        _barrier(strategy)
    return Distribution("multi_worker", strategy.num_replicas_in_sync, strategy, loop=StrategyRoute,
                        loop_reason="a strategy.run loop per epoch: Keras 3's fit fails under "
                                    "MultiWorkerMirroredStrategy (keras-team/keras#20585)")


def _barrier(strategy) -> None:
    """A first collective: it returns once every worker is there."""
    import tensorflow as tf

    @tf.function
    def count_workers():
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(_one), axis=None)

    count_workers()


def _one():
    import tensorflow as tf

    return tf.constant(1.0)


@contextlib.contextmanager
def _deadline(seconds: float, message: str) -> Iterator[None]:
    """End the process with ``message`` (one line on stderr, exit 1) unless the block finishes in time.

    TensorFlow waits for the cluster inside C++ holding the GIL, so no Python thread or signal handler
    can run meanwhile: a small watcher process writes the line, and ``faulthandler`` (a C thread, which
    needs no GIL) ends this process a moment later with exit code 1.
    """
    watcher = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(float(sys.argv[1])); "
                                "sys.stderr.write(sys.argv[2] + '\\n')", str(seconds), f"dlcv: {message}"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    sink = open(os.devnull, "w")
    faulthandler.dump_traceback_later(seconds + 2, exit=True, file=sink)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        sink.close()
        watcher.kill()
        watcher.wait()


class StrategyRoute(EpochLoopRoute):
    """Epochs through ``strategy.run`` of Keras's ``train_step``; a lost worker ends the run in one line."""

    name = "strategy"

    def __init__(self, reason: str, epochs: int, batch_size: int, seed: int, strategy) -> None:
        super().__init__(reason, epochs, batch_size, seed)
        self.strategy = strategy

    def make_trainer(self, model, train, val, class_weight, augmenter=None):
        return StrategyEpochs(model, train, val, self.batch_size, self.seed, self.strategy, class_weight, augmenter)

    def fit(self, model, train, val, callbacks, initial_epoch=0, class_weight=None, verbose="auto", augmenter=None):
        import keras
        import tensorflow as tf

        done = {"epochs": initial_epoch}
        progress = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: done.update(epochs=epoch + 1))
        lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
                tf.errors.AbortedError, tf.errors.InternalError)
        with _native_stderr_held(drop_on=lost):  # TensorFlow logs a lost peer in several C++ lines
            try:
                return super().fit(model, train, val, [*callbacks, progress], initial_epoch, class_weight, verbose,
                                   augmenter)
            except lost as exc:
                raise TrainingStopped(
                    f"{lost_worker(exc)} after epoch {done['epochs']} was committed; run the same command with "
                    "--resume on every worker to continue from there") from None


@contextlib.contextmanager
def _native_stderr_held(drop_on: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Hold what is written to file descriptor 2 until the block ends; replay it unless the block raised
    one of ``drop_on`` (whose one-line message replaces TensorFlow's log of it)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        dropped = False
        try:
            yield
        except drop_on:
            dropped = True
            raise
        except TrainingStopped:
            dropped = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if not dropped:
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))
                sys.stderr.flush()


def lost_worker(exc: Exception) -> str:
    """One line naming the worker a collective lost, from TensorFlow's error text."""
    text = str(exc)
    found = (re.search(r"unhealthy[^/]*/job:(\w+)/replica:\d+/task:(\d+)", text)
             or re.search(r"reported from /job:(\w+)/(?:replica:\d+/)?task:(\d+)", text))
    if not found:  # TensorFlow does not always say which: name the others
        cluster = cluster_config()
        own = int(cluster.get("task", {}).get("index", -1))
        others = [a for i, a in enumerate(cluster.get("cluster", {}).get("worker", [])) if i != own]
        return (f"a worker of the cluster ({', '.join(others) or 'unknown'}) stopped answering "
                f"({type(exc).__name__})")
    job, index = found.group(1), int(found.group(2))
    addresses = cluster_config().get("cluster", {}).get(job, [])
    where = f" at {addresses[index]}" if index < len(addresses) else ""
    return f"worker {index}{where} was lost ({type(exc).__name__})"


class StrategyEpochs:
    """TensorFlow's custom-training-loop pattern for a ``tf.distribute`` strategy: each global batch is
    one ``strategy.run`` of Keras's ``train_step`` inside a ``tf.function``, gradients all-reduced by the
    strategy (Keras scales the loss by the replica count, as under ``fit``). The dataset is sharded
    across workers by tf.data's auto-sharding; after each epoch the metric totals are summed across
    workers, so every worker logs the global loss and accuracy."""

    def __init__(self, model, train: ImageSet, val: ImageSet, batch_size: int, seed: int, strategy,
                 class_weight: np.ndarray | None = None, augmenter=None):
        import tensorflow as tf

        from ..inputs import model_input
        from .compiled import build_metrics

        self.tf, self.model, self.strategy = tf, model, strategy
        build_metrics(model, train.images, train.labels)
        weights = None if class_weight is None else tf.constant(class_weight, tf.float32)

        def dataset(part: ImageSet, shuffle: bool):
            data = tf.data.Dataset.from_tensor_slices((part.images, part.labels.astype(np.int64)))
            if shuffle:
                data = data.shuffle(len(part.labels), seed=seed, reshuffle_each_iteration=True)

            def prepare(x, y):
                x = model_input(x)
                if shuffle and augmenter is not None:  # training batches only
                    x = augmenter(x, training=True)
                return (x, y) if weights is None else (x, y, tf.gather(weights, y))
            return strategy.experimental_distribute_dataset(data.batch(batch_size).map(prepare))

        self.train_data, self.val_data = dataset(train, True), dataset(val, False)
        self._train = tf.function(lambda batch: strategy.run(model.train_step, args=(batch,)))
        self._test = tf.function(lambda batch: strategy.run(model.test_step, args=(batch,)))
        self._globalise = tf.function(self._globalise_fn)

    def _globalise_fn(self):
        """Sum every metric variable over all workers, in place. A cross-replica read of a metric variable
        (sync on read, SUM) is this worker's total; the all-reduce adds up the workers' totals."""
        tf = self.tf
        local_replicas = len(self.strategy.extended.worker_devices)
        totals = [tf.convert_to_tensor(variable.value) for variable in self.model.metrics_variables]

        def replica_fn(values):
            context = tf.distribute.get_replica_context()
            return [context.all_reduce(tf.distribute.ReduceOp.SUM, v / tf.cast(local_replicas, v.dtype))
                    for v in values]

        summed = self.strategy.run(replica_fn, args=(totals,))
        for variable, value in zip(self.model.metrics_variables, summed):
            variable.assign(self.strategy.experimental_local_results(value)[0])

    def _pass(self, step, data, prefix: str = "") -> dict[str, float]:
        from .compiled import _logs

        self.model.reset_metrics()
        for batch in data:
            step(batch)
        self._globalise()
        return _logs(self.model, prefix)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        return self._pass(self._train, self.train_data)

    def evaluate(self) -> dict[str, float]:
        return self._pass(self._test, self.val_data, "val_")

    def predict(self, images: np.ndarray) -> np.ndarray:
        # Each worker scores the images itself: a forward pass needs no collectives.
        from ..pipeline import predict_probabilities

        return predict_probabilities(self.model, images)


def broadcast_from_chief(model, strategy, epoch: int, best_val_loss: float | None) -> tuple[int, float | None]:
    """Give every worker the chief's weights, optimizer state, resume epoch and best validation loss
    (all-reduced: the chief contributes its values, the others zeros), so every worker's callbacks decide
    alike: under this strategy creating a variable is a collective, and each Keras ``model.save`` creates
    some (keras-team/keras: ``get_attr_skipset`` caches under another key than it reads), so a checkpoint
    saved on one worker only would unpair the collectives. Returns (epoch, best)."""
    import tensorflow as tf

    variables = list(model.variables) + list(model.optimizer.variables)

    @tf.function
    def gather():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)  # global replica 0: the chief's first
            values = [tf.convert_to_tensor(v.value) for v in variables] + [
                tf.constant(float(epoch)), tf.constant(-1.0 if best_val_loss is None else best_val_loss)]
            return [context.all_reduce(tf.distribute.ReduceOp.SUM, value * tf.cast(first, value.dtype))
                    for value in values]
        return strategy.run(replica_fn)

    gathered = [strategy.experimental_local_results(value)[0] for value in gather()]
    for variable, value in zip(variables, gathered):
        variable.assign(value)
    best = float(gathered[-1].numpy())  # a loss is >= 0: -1 stands for "none yet"
    return int(gathered[-2].numpy()), None if best < 0 else best
