"""ImageNet weights on disk: where Keras keeps them, which ones a config needs, and fetching them.

Keras downloads a backbone's weights on first use into its cache, ``$KERAS_HOME/models`` (default
``~/.keras/models``), and reads them from there ever after. On a machine or in a container without
network, fetch them where there is one and copy or mount the folder:

    dlcv weights fetch mobilenet_v2 efficientnet_b0          # into ~/.keras/models
    dlcv weights fetch mobilenet_v2 --to ./keras-cache       # then: docker run -v ./keras-cache:/root/.keras

    >>> from dlcv.config import load_config
    >>> config = load_config(overrides=["model.name=mobilenet_v2", "model.params={weights: imagenet}",
    ...                                 "preprocessing.width=160", "preprocessing.height=160"])
    >>> [file.name for file in needed_weights(config)]
    ['mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5']

This module needs no Keras until a file is downloaded.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ..config import ExperimentConfig
from ..errors import DlcvError
from .backbones import BACKBONES, WeightsFile, get_backbone

log = logging.getLogger(__name__)


def keras_cache() -> Path:
    """The folder Keras downloads weights into and looks for them in (``$KERAS_HOME/models``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def needed_weights(config: ExperimentConfig) -> list[WeightsFile]:
    """The ImageNet weights files the config's model loads (none unless ``weights: imagenet``)."""
    backbone = BACKBONES.get(config.model.name)
    if backbone is None or config.model.params.get("weights", "imagenet") != "imagenet":
        return []
    return [backbone.weights_file(config.preprocessing.height)]


def missing_weights(config: ExperimentConfig) -> list[WeightsFile]:
    """The needed weights files not in Keras's cache."""
    return [file for file in needed_weights(config) if not (keras_cache() / file.name).is_file()]


def fetch(file: WeightsFile, to: str | os.PathLike | None = None, fetch_hint: str = "") -> Path:
    """``file`` in Keras's cache (or ``to``/models), downloaded (hash checked) if it is not there yet;
    offline, a one-line error naming the file, where it was looked for, and what to do."""
    import keras

    folder = (Path(to) / "models" if to is not None else keras_cache()).resolve()
    try:  # Keras fixes its own cache folder when it is imported; dlcv's follows $KERAS_HOME when called
        return Path(keras.utils.get_file(file.name, file.origin, cache_subdir="models", file_hash=file.file_hash,
                                         cache_dir=str(folder.parent)))
    except Exception as exc:  # urllib and Keras raise several kinds for "no network"
        # Keras says "URL fetch failure on <url>: None -- <why>"; the why is what the user needs.
        reason = (str(exc).splitlines() or [type(exc).__name__])[0].split(" -- ")[-1][:100]
        raise DlcvError(f"ImageNet weights {file.name} are not in {folder}/ and could not be downloaded "
                        f"({reason}); {fetch_hint or 'fetch them on a machine with network'} and copy the file "
                        f"there (or mount that folder), or set weights: to a weights file") from None


def ensure_weights(config: ExperimentConfig) -> None:
    """Every ImageNet weights file the config needs, in Keras's cache: downloaded now if missing, or a
    one-line error before any data is read."""
    for file in missing_weights(config):
        log.info(f"downloading {file.name} into {keras_cache()}/")
        fetch(file, fetch_hint=f"run `dlcv weights fetch {config.model.name} --size "
                               f"{config.preprocessing.height or get_backbone(config.model.name).native_size}` "
                               "on a machine with network")


def fetch_backbones(names: list[str], to: str | os.PathLike | None = None, size: int | None = None) -> list[Path]:
    """``dlcv weights fetch``: each named backbone's ImageNet weights (no top; at ``size`` where the file
    depends on it), into Keras's cache or ``to``/models."""
    backbones = [get_backbone(name) for name in names]  # every name checked before any download
    return [fetch(backbone.weights_file(size)) if to is None else fetch(backbone.weights_file(size), to)
            for backbone in backbones]
