"""Progress that suits where the output goes: a live bar in a terminal, plain lines anywhere else.

When output is not a terminal — a log file, ``nohup``, CI, ``docker logs`` — a carriage-return bar is
kilobytes of noise per epoch; there, progress is one plain line when a task ends (no ``\\r``, no ANSI),
logged. Used as a library, with no console attached and logging not configured, dlcv draws no bar at all
(:func:`dlcv.console.shown`).

    with Progress(len(paths), "decoding", unit="img") as bar:
        for chunk in chunks:
            ...
            bar.update(len(chunk))
    keras_verbose("auto")      # what Keras's fit prints: 1 (a bar) in a terminal, 2 (a line an epoch) else
"""
from __future__ import annotations

import logging
import sys
import time

from .console import TO_STDERR, shown

log = logging.getLogger(__name__)


def interactive(stream=None) -> bool:
    """Whether a bar may be drawn on ``stream`` (stdout by default): it is a terminal, and dlcv's output is
    shown at all (a command, or logging configured)."""
    if not shown():
        return False
    stream = stream or sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def keras_verbose(verbose: int | str) -> int:
    """Keras's ``verbose``: "auto" is a per-batch bar in a terminal, one line per epoch elsewhere, and
    nothing when dlcv's output is not shown (a library call with logging not configured)."""
    if verbose == "auto":
        return (1 if interactive() else 2) if shown() else 0
    return int(verbose)


class Progress:
    """A tqdm bar on a terminal (stderr); otherwise one line, ``desc: N unit in S s``, when it ends."""

    def __init__(self, total: int, desc: str, unit: str = "img", enabled: bool = True, minimum: int = 2) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.enabled = enabled and total >= minimum
        self.done, self._bar, self._started = 0, None, time.perf_counter()
        if self.enabled and interactive(sys.stderr):
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False)

    def update(self, count: int) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and exc[0] is None:
            seconds = time.perf_counter() - self._started
            log.info(f"{self.desc}: {self.done:,} {self.unit} in {seconds:.1f} s", extra=TO_STDERR)
