"""ImageNet weights on disk: where Keras keeps them, which ones a config needs, and fetching them.

Keras downloads a backbone's weights on first use into its cache, ``$KERAS_HOME/models`` (default
``~/.keras/models``), and reads them from there ever after. On a machine or in a container without
network, fetch them where there is one and copy or mount the folder:

    dlcv weights fetch mobilenet_v2 efficientnet_b0          # into ~/.keras/models
    dlcv weights fetch mobilenet_v2 --to ./keras-cache       # then: docker run -v ./keras-cache:/root/.keras

Which files a config needs is :func:`dlcv.models.backbones.needed_weights`'s. This module needs no Keras
until a file is downloaded.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DlcvError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightsFile:
    """One file of Keras's weights download: its name in the cache, where it comes from, its hash."""

    name: str
    origin: str
    file_hash: str | None


def keras_cache() -> Path:
    """The folder Keras downloads weights into and looks for them in (``$KERAS_HOME/models``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def fetch(file: WeightsFile, to: str | os.PathLike | None = None, fetch_hint: str = "",
          instead: str = "or set weights: to a weights file", what: str = "ImageNet weights") -> Path:
    """``file`` in Keras's cache (or ``to``/models), downloaded (hash checked) if it is not there yet;
    offline, a one-line error naming ``what`` it is, the file, where it was looked for, and what to do."""
    import keras

    folder = (Path(to) / "models" if to is not None else keras_cache()).resolve()
    try:  # Keras fixes its own cache folder when it is imported; dlcv's follows $KERAS_HOME when called
        return Path(keras.utils.get_file(file.name, file.origin, cache_subdir="models", file_hash=file.file_hash,
                                         cache_dir=str(folder.parent)))
    except Exception as exc:  # urllib and Keras raise several kinds for "no network"
        # Keras says "URL fetch failure on <url>: None -- <why>"; the why is what the user needs.
        reason = (str(exc).splitlines() or [type(exc).__name__])[0].split(" -- ")[-1][:100]
        raise DlcvError(f"{what} {file.name}: not in {folder}/ and could not be downloaded "
                        f"({reason}); {fetch_hint or 'fetch them on a machine with network'} and copy the file "
                        f"there (or mount that folder)" + (f", {instead}" if instead else "")) from None


