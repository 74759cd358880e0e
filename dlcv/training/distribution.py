"""Training on several devices or machines with the engines TensorFlow and Keras already have.

- ``mirrored``: ``tf.distribute.MirroredStrategy`` over this machine's GPUs (its logical CPUs when it
  has none, which is how the tests run it); trains through Keras's ``fit``.
- ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy``; every machine runs the same command
  with its own ``TF_CONFIG``. Keras 3's ``fit`` fails under it (keras-team/keras#20585), so it trains
  through :class:`~dlcv.training.strategy_route.StrategyRoute`, TensorFlow's custom-loop pattern
  (``strategy.run`` of Keras's own ``train_step``). Only the chief (task 0) writes the run folder
  (:mod:`dlcv.training.chief` gives every worker its state; :mod:`dlcv.training.watchdog` ends a
  cluster that does not form).
- ``data_parallel``: ``keras.distribution.DataParallel`` over every JAX device; trains through ``fit``.

    distribution = build_distribution(config)              # first: before anything touches TensorFlow
    with distribution.scope():                            # builds, compiles and trains inside it
        model = compile_model(config, classes, steps_per_epoch)
        route = choose_route(config, splits.train, distribution, model)

The batch size in the config is the global batch, split across replicas. Keras is imported inside the
functions; the rules a config must meet are :mod:`dlcv.checks`'s.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from ..config import ExperimentConfig
from ..errors import ConfigError
from .chief import cluster_config
from .strategy_route import StrategyRoute
from .watchdog import deadline

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


def build_distribution(config: ExperimentConfig) -> Distribution:
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
        devices = gpus or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy(devices=[device.name for device in devices])
        return Distribution("mirrored", strategy.num_replicas_in_sync, strategy)
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=JOIN_TIMEOUT_SECONDS)
    peers = ", ".join(cluster_config().get("cluster", {}).get("worker", [])) or "the cluster"
    # TensorFlow waits for every worker without limit (and ignores SIGTERM while it does): a watchdog
    # ends the process when the cluster has not formed in time.
    with deadline(JOIN_TIMEOUT_SECONDS, f"the workers of TF_CONFIG ({peers}) did not all join within "
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
