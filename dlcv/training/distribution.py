"""Training on several devices or machines with the engines TensorFlow and Keras already have.

- ``mirrored``: ``tf.distribute.MirroredStrategy`` over this machine's GPUs (its logical CPUs when it
  has none, which is how the tests run it).
- ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy``; every machine runs the same command
  with its own ``TF_CONFIG``. Only the chief (task 0) writes the run folder; the other workers write to a
  scratch folder they delete at the end, as TensorFlow's guide recommends.
- ``data_parallel``: ``keras.distribution.DataParallel`` over every JAX device.

    with distribution_scope(config):        # builds, compiles and trains inside the strategy
        model = compile_model(config, ...)

The batch size in the config is the global batch, split across replicas. Mirrored and data-parallel
runs train through Keras's ``fit``; multi-worker runs through TensorFlow's custom-loop pattern
(``strategy.run``), because Keras 3's ``fit`` fails under MultiWorkerMirroredStrategy
(keras-team/keras#20585).
"""
from __future__ import annotations

import contextlib
import json
import os
from typing import Iterator

import keras

from ..config import ExperimentConfig
from ..errors import ConfigError

BACKEND_OF = {"mirrored": "tensorflow", "multi_worker": "tensorflow", "data_parallel": "jax"}


def check_backend(config: ExperimentConfig) -> None:
    wanted = BACKEND_OF.get(config.distribution)
    if wanted and keras.backend.backend() != wanted:
        raise ConfigError(f"distribution: {config.distribution} runs on the {wanted} backend, "
                          f"not {keras.backend.backend()}; set backend: {wanted}")


def is_chief() -> bool:
    """True unless TF_CONFIG makes this process a non-chief worker of a multi-worker run."""
    cluster_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = cluster_config.get("task")
    if not task:
        return True
    if "chief" in cluster_config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


@contextlib.contextmanager
def distribution_scope(config: ExperimentConfig) -> Iterator[tuple[int, object]]:
    """Enter the config's distribution; yields (number of replicas, the tf.distribute strategy or None)."""
    if config.distribution == "none":
        yield 1, None
        return
    check_backend(config)
    if config.distribution == "data_parallel":
        import jax

        devices = jax.devices()
        if config.batch_size % len(devices):
            raise ConfigError(f"batch_size: {config.batch_size} must divide evenly over {len(devices)} devices")
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        try:
            yield len(devices), None
        finally:
            keras.distribution.set_distribution(previous)
        return
    import tensorflow as tf

    if config.distribution == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        strategy = tf.distribute.MirroredStrategy(devices=devices)
    else:
        if "TF_CONFIG" not in os.environ:
            raise ConfigError("distribution: multi_worker needs TF_CONFIG describing the cluster and this "
                              "worker's task; see the README")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        yield strategy.num_replicas_in_sync, strategy
