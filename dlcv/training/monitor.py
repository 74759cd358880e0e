"""TrainingMonitor: after every epoch, append the logs to a JSON history; redraw the curves as a PNG.

The PNG is redrawn after an epoch that ends ``min_interval`` seconds or more after the last redraw (or the
start of training), and after the last epoch, as Keras's ``Progbar`` updates at most every ``interval``:
drawing it takes about 0.1 s, and a redraw after each of the quickstart's 30 epochs of 0.03 s was half its
training time. Epochs of a second or longer are each drawn; shorter ones together. ``min_interval=0``:
after every epoch.

On a resumed run, ``start_at`` truncates the reloaded history to the epochs before it, so the curves
continue with no gap and no duplicate. ``phase_starts``: epochs where a new phase began (a fine-tune),
drawn as dotted lines; a second ``on_train_begin`` (the next phase) continues the same history. Both
files are replaced atomically: a run killed at any moment leaves the previous complete JSON and PNG,
never a half-written one (the PNG up to ``min_interval`` of epochs behind; the resumed run redraws it).

    monitor = TrainingMonitor("output/run/training.png", json_path="output/run/history.json")
    model.fit(train, validation_data=val, epochs=20, callbacks=[monitor])
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from .. import files
from ..plotting import new_figure, save_figure


class TrainingMonitor(keras.callbacks.Callback):
    def __init__(self, fig_path: str | os.PathLike, json_path: str | os.PathLike | None = None,
                 start_at: int = 0, phase_starts: Sequence[int] = (), min_interval: float = 1.0) -> None:
        super().__init__()
        if start_at < 0:
            raise ValueError(f"start_at must be >= 0, got {start_at}")
        if not (math.isfinite(min_interval) and min_interval >= 0):
            raise ValueError(f"min_interval must be a number of seconds >= 0, got {min_interval}")
        self.fig_path = Path(fig_path)
        self.json_path = Path(json_path) if json_path is not None else None
        self.start_at = start_at
        self.phase_starts = tuple(phase_starts)
        self.min_interval = min_interval
        self.history: dict[str, list[float]] = {}
        self._begun = False
        self._drawn_at, self._undrawn = 0.0, False

    def on_train_begin(self, logs=None) -> None:
        if self._begun:  # the next phase of the same run (a fine-tune): the history goes on
            return
        self._begun = True
        self._drawn_at = time.monotonic()
        self.history = {}
        if self.json_path is not None and self.json_path.exists() and self.start_at > 0:
            saved = files.read_json(self.json_path)
            self.history = {key: values[:self.start_at] for key, values in saved.items()}

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self.json_path is not None:
            files.write_json(self.json_path, self.history)
        self._undrawn = True
        if time.monotonic() - self._drawn_at >= self.min_interval:
            self._draw()

    def on_train_end(self, logs=None) -> None:
        if self._undrawn:
            self._draw()

    def _draw(self) -> None:
        if self.history.get("loss"):
            self._plot()
        self._drawn_at, self._undrawn = time.monotonic(), False

    def _plot(self) -> None:
        """Redraw the curves. The figure is built once and its lines updated each epoch: building axes
        and ticks anew was most of the cost of a plot redrawn every epoch."""
        rates = self.history.get("learning_rate")
        if getattr(self, "_figure", None) is None or self._with_rates != bool(rates):
            self._build_figure(bool(rates))
        axes = self._panels[0]
        epochs = np.arange(1, len(self.history["loss"]) + 1)
        added = False
        for key, values in self.history.items():
            if key == "learning_rate" or len(values) != len(epochs):
                continue
            if key not in self._lines:
                base = key.removeprefix("val_")  # a metric and its val_ twin share a colour
                colour = self._colours.setdefault(base, f"C{len(self._colours)}")
                self._lines[key], = axes.plot([], [], label=key, color=colour,
                                              linestyle="--" if key.startswith("val_") else "-")
                added = True
            self._lines[key].set_data(epochs, values)
        if added:  # beside the panel, never over a curve
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9)
        for start in self.phase_starts:  # e.g. where a fine-tune unfroze the backbone
            if start < len(epochs) and start not in self._phases_drawn:
                self._phases_drawn.add(start)
                axes.axvline(start + 0.5, color="0.5", linestyle=":", linewidth=1)
                axes.annotate("fine-tune", (start + 0.5, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                              textcoords="offset points", color="0.4", fontsize=8)
        axes.set_title(f"Training loss and metrics [epoch {len(epochs)}]")
        if rates:
            self._rate_line.set_data(np.arange(1, len(rates) + 1), rates)
        for panel in self._panels:
            panel.relim()
            panel.autoscale_view()
        save_figure(self._figure, self.fig_path, tight=False)

    def _build_figure(self, with_rates: bool) -> None:
        self._figure, panels = new_figure(nrows=2 if with_rates else 1, figsize=(8, 7) if with_rates else (8, 5))
        self._panels = list(panels) if with_rates else [panels]
        self._with_rates, self._lines, self._colours, self._phases_drawn = with_rates, {}, {}, set()
        from matplotlib.ticker import MaxNLocator

        self._panels[0].set(xlabel="epoch", ylabel="loss / metric")
        if with_rates:
            self._rate_line, = self._panels[1].plot([], [], color="C7", marker="o", markersize=3)
            self._panels[1].set(xlabel="epoch", ylabel="learning rate", title="Learning rate at the end of each epoch")
            self._panels[1].ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))  # 1e-4, not 0.00010
        for panel in self._panels:
            panel.grid(alpha=0.3)
            panel.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        # Fixed margins, room for the labels and for the legend at the right: tight_layout would draw the
        # figure a second time each epoch.
        self._figure.subplots_adjust(left=0.11, right=0.80, bottom=0.08 if with_rates else 0.11,
                                     top=0.95 if with_rates else 0.93, hspace=0.35)
