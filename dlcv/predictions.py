"""Writing predictions as they come: text, CSV or JSON, to stdout or to a file that appears whole.

Each writer takes the task's prediction records (:mod:`dlcv.task`) one at a time, so a folder of 100,000
images is labelled with a few batches in memory. A file given with ``--output`` is written under a
temporary name and renamed when the last row is out: a killed run never leaves a file that looks
complete.

    with open_output("labels.csv") as stream:
        CsvWriter(stream, classifier.task, top=3).write_all(predictions)

- ``text``: the record's cells tab-separated: single-label ``path<TAB>label<TAB>probability`` (then the
  next label and probability for ``top`` > 1); multi-label ``path<TAB>labels<TAB>probabilities``, the
  labels and each one's own probability joined by the run's separator in the same order (then the ``top``
  classes); paths and labels escaped (:func:`escaped`: a newline in a file name cannot forge a row, nor a
  name send the terminal its codes);
- ``csv``: the task's header, then the same cells;
- ``json``: one array of records (``{"path", "label", "probability"[, "top"]}``, or ``{"path", "labels",
  "probabilities": {class: p}[, "top"]}``).
"""
from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from . import files
from .console import printable
from .task import Prediction, Task


class TextWriter:
    digits = 4

    def __init__(self, stream: IO[str], task: Task, top: int = 1) -> None:
        self.stream, self.task, self.top = stream, task, top

    def write_all(self, predictions: Iterable[Prediction]) -> int:
        """Write every prediction; the number written."""
        count = 0
        self.begin()
        for prediction in predictions:
            self.row(prediction, first=count == 0)
            count += 1
        self.end()
        return count

    def begin(self) -> None:
        pass

    def end(self) -> None:
        self.stream.flush()

    def row(self, p: Prediction, first: bool) -> None:
        self.stream.write("\t".join(escaped(cell) for cell in p.cells(self.digits)) + "\n")


class CsvWriter(TextWriter):
    digits = 6

    def begin(self) -> None:
        self._csv = csv.writer(self.stream, lineterminator="\n")
        self._csv.writerow(self.task.header(self.top))

    def row(self, p: Prediction, first: bool) -> None:
        self._csv.writerow(p.cells(self.digits))


class JsonWriter(TextWriter):
    def begin(self) -> None:
        self.stream.write("[")

    def row(self, p: Prediction, first: bool) -> None:
        self.stream.write(("\n" if first else ",\n") + json.dumps(p.to_json()))

    def end(self) -> None:
        self.stream.write("\n]\n")
        self.stream.flush()


WRITERS = {"text": TextWriter, "csv": CsvWriter, "json": JsonWriter}

_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escaped(text: str) -> str:
    """``text`` with backslashes, tabs, line breaks and every other control or format character written as
    escapes (``\\n``, ``\\x1b``, ``\\u202e``), as Python writes them; printable text unchanged.

        >>> print(escaped("cats/a\\nb\\tc\\x1b[31m.jpg"))
        cats/a\\nb\\tc\\x1b[31m.jpg
    """
    return printable("".join(_ESCAPES.get(char, char) for char in text))  # then no line break or tab is left


@contextlib.contextmanager
def open_output(path: str | Path | None) -> Iterator[IO[str]]:
    """Standard output, or ``path`` written atomically (temp file, then rename)."""
    if path is None:
        yield sys.stdout
        return
    with files.atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as stream:
        yield stream
