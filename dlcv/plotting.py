"""Figures without a window: matplotlib's object API on the Agg canvas, saved atomically as PNG.

    figure, axes = new_figure()
    axes.plot(losses)
    save_figure(figure, "output/gd/loss.png")
"""
from __future__ import annotations

import os

from . import files


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (8, 5)):
    """A figure not registered with pyplot (no GUI, no global state) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    axes = figure.subplots(nrows, ncols)
    return figure, axes


def save_figure(figure, path: str | os.PathLike, dpi: int = 100, tight: bool = True) -> None:
    """PNG, written atomically; ``tight``: matplotlib's tight_layout first (it draws the figure once more:
    a figure redrawn every epoch sets its margins itself instead)."""
    if tight:
        figure.tight_layout()
    with files.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
