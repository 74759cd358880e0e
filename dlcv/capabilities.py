"""What each backend can run, as facts that need no Keras: which backend a distribution runs on, and
why the fast route cannot train a config. The checks before a run (:mod:`dlcv.checks`) refuse a config
with them; the trainer (:mod:`dlcv.training.routes`) chooses its route with them.

    >>> from dlcv.config import ExperimentConfig
    >>> compiled_route_obstacle(ExperimentConfig(), "torch")
    'the fast route is built for the jax and tensorflow backends, not torch'
    >>> compiled_route_obstacle(ExperimentConfig(), "tensorflow") is None    # the quickstart: it can
    True
"""
from __future__ import annotations

from .config import ExperimentConfig

DISTRIBUTION_BACKEND = {"mirrored": "tensorflow", "multi_worker": "tensorflow", "data_parallel": "jax"}
"""The backend each ``distribution`` runs on."""
COMPILED_ROUTE_BACKENDS = ("jax", "tensorflow")


def compiled_route_obstacle(config: ExperimentConfig, backend: str) -> str | None:
    """Why the fast route cannot train this config on this backend, whatever the data (None: it can)."""
    if backend not in COMPILED_ROUTE_BACKENDS:
        return f"the fast route is built for the jax and tensorflow backends, not {backend}"
    if config.distribution != "none":
        return f"distribution: {config.distribution} trains through the strategy's own step"
    return None


def streaming_obstacle(distribution: str) -> str | None:
    """Why a distribution cannot train on images streamed from disk (None: it can)."""
    if distribution == "multi_worker":
        return "distribution: multi_worker trains on data held in memory"
    return None


def feature_cache_obstacle(config: ExperimentConfig) -> str | None:
    """Why a frozen backbone's features cannot be computed once for this config, whatever the model (None:
    they can): the images change every epoch, or the backbone trains."""
    if config.augmentation.active:
        return "augmentation changes the images every epoch"
    if config.model.params.get("trainable", False) is not False:
        return "the backbone trains (model.params.trainable)"
    if config.distribution != "none":
        return f"distribution: {config.distribution} trains the whole model"
    return None
