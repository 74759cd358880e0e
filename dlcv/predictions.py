"""Writing predictions as they come: text, CSV or JSON, to stdout or to a file that appears whole.

Each writer takes :class:`~dlcv.inference.Prediction` objects one at a time, so a folder of 100,000
images is labelled with a few batches in memory. A file given with ``--output`` is written under a
temporary name and renamed when the last row is out: a killed run never leaves a file that looks
complete.

    with open_output("labels.csv") as stream:
        CsvWriter(stream, top=3).write_all(predictions)

- ``text``: ``path<TAB>label<TAB>probability`` (then the next label and probability for ``top`` > 1), paths
  and labels escaped (:func:`escaped`: a newline in a file name cannot forge a row, nor a name send the
  terminal its codes);
- ``csv``: a header, then ``path,label,probability[,label_2,probability_2,...]``;
- ``json``: one array of ``{"path", "label", "probability"[, "top": [{"label", "probability"}, ...]]}``.
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
from .inference import Prediction


class TextWriter:
    def __init__(self, stream: IO[str], top: int = 1) -> None:
        self.stream, self.top = stream, top

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
        cells = [p.path] + [f"{value:.4f}" if isinstance(value, float) else value for value in _ranked(p)]
        self.stream.write("\t".join(escaped(cell) for cell in cells) + "\n")


class CsvWriter(TextWriter):
    def begin(self) -> None:
        self._csv = csv.writer(self.stream, lineterminator="\n")
        header = ["path", "label", "probability"]  # a multi-label model's label: its labels, joined
        for rank in range(2, self.top + 1):
            header += [f"label_{rank}", f"probability_{rank}"]
        self._csv.writerow(header)

    def row(self, p: Prediction, first: bool) -> None:
        self._csv.writerow([p.path] + [f"{value:.6f}" if isinstance(value, float) else value for value in _ranked(p)])


class JsonWriter(TextWriter):
    def begin(self) -> None:
        self.stream.write("[")

    def row(self, p: Prediction, first: bool) -> None:
        record = {"path": p.path, "label": p.label, "probability": round(p.probability, 6)} if p.labels is None \
            else {"path": p.path, "labels": list(p.labels)}
        if p.top:
            record["top"] = [{"label": label, "probability": round(prob, 6)} for label, prob in p.top]
        self.stream.write(("\n" if first else ",\n") + json.dumps(record))

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
    import unicodedata

    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif unicodedata.category(char)[0] == "C":  # Cc controls, Cf format (bidi overrides), Cs, Co, Cn
            out.append(repr(char)[1:-1] if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    return "".join(out)


def _ranked(p: Prediction) -> list:
    """label, probability[, label_2, probability_2, ...]"""
    pairs = p.top or ((p.label, p.probability),)
    return [item for pair in pairs for item in pair]


@contextlib.contextmanager
def open_output(path: str | Path | None) -> Iterator[IO[str]]:
    """Standard output, or ``path`` written atomically (temp file, then rename)."""
    if path is None:
        yield sys.stdout
        return
    with files.atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as stream:
        yield stream
