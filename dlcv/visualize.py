"""Architecture diagrams: ``keras.utils.plot_model`` where pydot and Graphviz exist, text otherwise.

    plot_architecture(model, "output/lenet/architecture.png")   # path, or None with a one-line note
"""
from __future__ import annotations

import logging
from pathlib import Path

from . import files

log = logging.getLogger(__name__)


def model_summary(model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line), line_length=100)
    return "\n".join(lines) + "\n"


def plot_architecture(model, path: str | Path) -> Path | None:
    """Draw the model with its layer shapes; without pydot/Graphviz return None (``dlcv doctor`` says what is
    missing: a line on every run, 32 in one search, told the user nothing new)."""
    import keras

    path = Path(path)
    try:
        with files.atomic_path(path) as tmp:
            keras.utils.plot_model(model, to_file=tmp, show_shapes=True, show_layer_names=True)
    except (ImportError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.debug(f"architecture diagram skipped ({reason[:120]}); the text summary is written instead")
        return None
    return path
