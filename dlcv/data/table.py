"""A label table: one row per image, its path and its label, as Kaggle's competitions, labelling tools'
exports and tagged photo collections come.

A CSV file with a header row, or JSON Lines (one object per line), by extension. Each row names an image
by its path relative to the images folder (``dataset.images``; default: the table's own folder), its label,
and optionally its part (``train`` / ``val`` / ``test``, used as given like a pre-split folder's). The
columns are found by their usual names (``path``/``filename``/``image``, ``label``/``labels``/``class``,
``split``) or named in ``dataset.columns``; a label may also be one 0/1 column per class (a one-hot export).

    table = read_table("datasets/pets/labels.csv")            # rows checked, no image decoded
    table.class_names, len(table.paths), table.missing[:3]
    source = table_source(DatasetConfig(name="labels", path="datasets/pets/labels.csv"),
                          PreprocessingConfig(width=64, height=64))

Everything about a row that can be wrong (a missing file aside) is one line naming the row's line and
what was expected, before any image is decoded. Rows whose files are missing are counted and named like
unreadable files; above ``dataset.max_missing`` of the rows, the table is refused.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DatasetConfig, PreprocessingConfig, TableColumns
from ..config.schema import DEFAULT_SEPARATOR
from ..errors import ConfigError, DlcvError
from ..images import check_inside, real_folder
from .folder import SPLIT_FOLDERS, file_groups
from .registry import register_dataset
from .sources import FolderSource

log = logging.getLogger(__name__)

TABLE_FORMATS = {".csv": "CSV", ".jsonl": "JSON Lines"}
"""The table files dlcv reads, by extension."""
PATH_COLUMNS = ("path", "filename", "image")
LABEL_COLUMNS = ("label", "labels", "class")
SPLIT_COLUMN = "split"
MAX_ROWS = 10_000_000
"""The most rows a table may have (a few hundred MB of paths held while it is read)."""
MISSING_SHOWN = 3
"""Missing files named in the line that refuses a table."""


@dataclass(frozen=True)
class LabelTable:
    """A table's rows whose files are there, each with its label (and part, where the table gives one)."""

    paths: list[str]
    labels: np.ndarray
    class_names: list[str]
    given_split: np.ndarray | None
    missing: list[str]
    """Rows naming files that are not there, as "line N: path"."""
    repeated: list[str]
    """Files two or more rows name, as "lines N and M: path"."""
    rows: int
    """The table's rows, missing files included."""
    images: Path
    """The folder its paths are relative to."""
    labels_line: str = "one label per image"
    """What the table's label cells hold, for the log: the task is the config's to decide
    (:func:`dlcv.task.resolve_task`), from the labels read here."""
    separator: str = DEFAULT_SEPARATOR
    """What joins a row's labels in a cell."""

    def label_text(self, row: int) -> str:
        """Row ``row``'s label, or its label set joined by the table's separator."""
        return self.separator.join(self.label_names(row))

    def label_names(self, row: int) -> tuple[str, ...]:
        """Row ``row``'s classes: one, or a multi-label row's any number."""
        label = self.labels[row]
        if self.multilabel:
            return tuple(np.asarray(self.class_names)[np.asarray(label).astype(bool)])
        return (self.class_names[int(label)],)

    @property
    def task(self) -> str:
        """The task its rows make: "multilabel" (multi-hot rows) or "single"."""
        return "multilabel" if self.multilabel else "single"

    @property
    def multilabel(self) -> bool:
        """Whether ``labels`` are multi-hot rows (N, classes) rather than class indexes (N,)."""
        return self.labels.ndim == 2

    @property
    def content_key(self) -> str:
        """What identifies the labelling (the files' contents are the listing's): labels, classes, parts."""
        digest = hashlib.sha256(json.dumps(self.class_names).encode())
        digest.update(self.labels.astype(np.int64).tobytes() + str(self.labels.shape).encode())
        if self.given_split is not None:
            digest.update(self.given_split.astype(np.int8).tobytes())
        return digest.hexdigest()


def is_table(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a label table (by its extension)."""
    return Path(path).suffix.lower() in TABLE_FORMATS


def read_table(path: str | os.PathLike, images: str | os.PathLike | None = None,
               columns: TableColumns | None = None, max_missing: float = 1.0, separator: str = DEFAULT_SEPARATOR,
               task: str = "auto") -> LabelTable:
    """The rows of the table at ``path``, checked (:class:`DlcvError` naming the line otherwise); files are
    looked for under ``images`` (default: the table's folder), no image is decoded. ``task``: single (one
    label per row), multilabel (any number), or auto (multilabel as soon as a row has several)."""
    path = Path(path).expanduser()
    if not is_table(path):
        raise DlcvError(f"{str(path)!r}: not a label table; expected a .csv file with a header row or a .jsonl "
                        "file")
    if not path.is_file():
        raise DlcvError(f"label table not found: {str(path)!r}")
    root = Path(images).expanduser() if images is not None else path.parent
    if not root.is_dir():
        raise DlcvError(f"dataset.images: {str(root)!r} is not a folder; expected the folder the table's paths "
                        "are relative to")
    records = _records(path)
    header = next(records, None)
    if header is None:
        raise DlcvError(f"{path}: the table is empty; expected a header row and one row per image")
    names = _columns(path, header[1], columns or TableColumns())
    table = _rows(path, root, names, records, separator, task)
    if table.rows and len(table.missing) / table.rows > max_missing:
        shown = "; ".join(table.missing[:MISSING_SHOWN]) + ("; ..." if len(table.missing) > MISSING_SHOWN else "")
        share = len(table.missing) / table.rows
        raise DlcvError(f"{path}: {len(table.missing):,} of {table.rows:,} rows ({share:.0%}) name files that are "
                        f"not under {root} ({shown}); expected at most {max_missing:.0%} (dataset.max_missing)")
    if len(table.class_names) < 2:
        found = f"one class ({table.class_names[0]!r})" if table.class_names else "no label in any row"
        raise DlcvError(f"{path}: {found}; a classifier needs at least two classes")
    return table


@dataclass(frozen=True)
class _Columns:
    path: str
    label: str | None
    one_hot: list[str] | None
    split: str | None


CSV_DELIMITERS = (",", ";", "\t")
"""What separates a CSV's cells: a comma; where its header has none, the semicolon (Excel's CSV in locales
whose decimal mark is a comma) or a tab that it has."""


def _delimiter(stream) -> str:
    """The delimiter the header line uses (:data:`CSV_DELIMITERS`), the stream rewound. Not ``csv.Sniffer``:
    it guesses from how often characters repeat across lines, and on a one- or two-column header it can take
    a character of a column name; the header's own separator is what decides here."""
    header = stream.readline()
    stream.seek(0)
    return next((delimiter for delimiter in CSV_DELIMITERS if delimiter in header), ",")


def _records(path: Path):
    """(line number, row as a dict of strings or JSON values), the header's record first (its keys)."""
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as stream:
            try:
                delimiter = _delimiter(stream)
            except UnicodeDecodeError:
                raise DlcvError(f"{path}: not a text file; expected UTF-8 CSV") from None
            reader, last = csv.DictReader(stream, delimiter=delimiter), 0
            try:
                if reader.fieldnames is None:
                    return
                yield 1, {name: name for name in reader.fieldnames}
                last = reader.line_num  # the last line of the last row read: a bad row starts after it
                for row in reader:
                    if None in row:  # more cells than the header names
                        raise DlcvError(f"{path}: line {reader.line_num}: {len(reader.fieldnames) + len(row[None])} "
                                        f"cells for {len(reader.fieldnames)} columns; expected one per column")
                    yield reader.line_num, row
                    last = reader.line_num
            except csv.Error as exc:  # the csv module's line_num does not always count the bad row's lines
                raise DlcvError(f"{path}: line {last + 1}: not valid CSV ({exc})") from None
            except UnicodeDecodeError:
                raise DlcvError(f"{path}: not a text file; expected UTF-8 CSV") from None
        return
    first = True
    with open(path, encoding="utf-8") as stream:
        try:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except RecursionError:  # a row nested thousands deep: Python's parser gives up
                    raise DlcvError(f"{path}: line {number}: nested too deep to read; expected one flat object "
                                    "per line (path, label)") from None
                except ValueError as exc:
                    raise DlcvError(f"{path}: line {number}: not valid JSON ({exc}); expected one object per "
                                    "line") from None
                if not isinstance(row, dict):
                    raise DlcvError(f"{path}: line {number}: a JSON {type(row).__name__}; expected an object "
                                    'such as {"path": "cats/1.jpg", "label": "cat"}')
                if first:
                    yield 0, {name: name for name in row}
                    first = False
                yield number, row
        except UnicodeDecodeError:
            raise DlcvError(f"{path}: not a text file; expected UTF-8 JSON Lines") from None


def _columns(path: Path, header: dict[str, Any], given: TableColumns) -> _Columns:
    present = list(header)

    def choose(key: str, wanted: str | None, usual: tuple[str, ...]) -> str | None:
        if wanted is not None:
            if wanted not in present:
                raise DlcvError(f"{path}: dataset.columns.{key}: no column {wanted!r}; the table has "
                                f"{', '.join(present)}")
            return wanted
        return next((name for name in usual if name in present), None)

    path_column = choose("path", given.path, PATH_COLUMNS)
    if path_column is None:
        raise DlcvError(f"{path}: no path column among {', '.join(present)}; expected one of "
                        f"{', '.join(PATH_COLUMNS)}, or dataset.columns.path")
    split_column = choose("split", given.split, (SPLIT_COLUMN,))
    if isinstance(given.label, list):
        missing = [name for name in given.label if name not in present]
        if missing:
            raise DlcvError(f"{path}: dataset.columns.label: no column {', '.join(map(repr, missing))}; the table "
                            f"has {', '.join(present)}")
        return _Columns(path_column, None, list(given.label), split_column)
    label_column = choose("label", given.label, LABEL_COLUMNS)
    if label_column is not None:
        return _Columns(path_column, label_column, None, split_column)
    others = [name for name in present if name not in (path_column, split_column)]
    if len(others) >= 2:  # one 0/1 column per class: checked row by row as the rows are read
        return _Columns(path_column, None, others, split_column)
    raise DlcvError(f"{path}: no label column among {', '.join(present)}; expected one of "
                    f"{', '.join(LABEL_COLUMNS)}, one 0/1 column per class, or dataset.columns.label")


def _rows(path: Path, root: Path, columns: _Columns, records, separator: str, task: str) -> LabelTable:
    paths, labels, parts, missing = [], [], [], []
    lines_of: dict[str, list[int]] = {}
    labels_of: dict[str, tuple[int, list[str]]] = {}  # each file's first row: (line, its labels)
    conflict = None  # the first row naming a file already named with other labels
    inside = real_folder(root)
    several = unlabelled = None  # the first row with several labels, with none: (line, its labels)
    rows = 0
    for line, row in records:
        rows += 1
        if rows > MAX_ROWS:
            raise DlcvError(f"{path}: more than {MAX_ROWS:,} rows; expected a table of at most that many images")
        where = f"{path}: line {line}"
        relative = _text(row.get(columns.path)).replace("\\", "/")  # a table written on Windows reads here too
        if not relative:
            raise DlcvError(f"{where}: empty {columns.path}; expected an image path relative to {root}")
        if os.path.isabs(relative) or os.path.normpath(relative).split(os.sep)[0] == "..":
            raise DlcvError(f"{where}: {columns.path} {relative!r} leaves the images folder {root}; expected a path "
                            "relative to it (dataset.images)")
        names = _labels(where, row, columns, separator)
        if len(names) != 1:
            if task == "single":
                _refuse_for_single_label(where, names, columns)
            if len(names) > 1 and several is None:
                several = (line, names)
            if not names and unlabelled is None:
                unlabelled = line
        if columns.split is not None:
            part = _text(row.get(columns.split)).lower()
            if part not in SPLIT_FOLDERS:
                raise DlcvError(f"{where}: {columns.split} {part!r}; expected train, val (or valid, validation) "
                                "or test")
        file = root / relative
        if not file.is_file():
            missing.append(f"line {line}: {relative}")
            continue
        check_inside(file, inside, f"{where}: ")
        if columns.split is not None:
            parts.append(SPLIT_FOLDERS[part])
        key = os.path.normpath(relative)
        first = labels_of.setdefault(key, (line, names))
        if conflict is None and sorted(first[1]) != sorted(names):
            conflict = (line, relative, names, first)
        lines_of.setdefault(key, []).append(line)
        paths.append(str(file))
        labels.append(names)
    if not rows:
        raise DlcvError(f"{path}: no rows under the header; expected one row per image")
    if not paths:
        raise DlcvError(f"{path}: none of its {rows:,} rows names a file under {root} (e.g. {missing[0]}); expected "
                        "paths relative to the images folder (dataset.images)")
    multilabel = task == "multilabel" or (task == "auto" and several is not None)
    if not multilabel and unlabelled is not None:  # a single-label table's row without a label
        _refuse_for_single_label(f"{path}: line {unlabelled}", [], columns)
    if not multilabel and conflict is not None:  # one image, two classes: which is it?
        line, relative, names, (first_line, first_names) = conflict
        raise DlcvError(f"{path}: line {line}: {relative} is labelled {', '.join(names)}, but line {first_line} "
                        f"labels it {', '.join(first_names)}; expected one label for each file")
    class_names = list(columns.one_hot) if columns.one_hot else sorted({name for names in labels for name in names})
    index = {name: i for i, name in enumerate(class_names)}
    if multilabel:
        targets = np.zeros((len(labels), len(class_names)), np.uint8)
        for row, names in enumerate(labels):
            targets[row, [index[name] for name in names]] = 1
    else:
        targets = np.array([index[names[0]] for names in labels], np.int64)
    class_names, targets = _without_empty_classes(path, class_names, targets)
    repeated = [f"{_line_list(lines)}: {relative}" for relative, lines in lines_of.items() if len(lines) > 1]
    held = ("one label per image" if unlabelled is None else "at most one label per image") if several is None \
        else f"several labels per image (line {several[0]} has {len(several[1])}: {', '.join(several[1])})"
    return LabelTable(paths, targets, class_names, np.array(parts, np.int8) if columns.split is not None else None,
                      missing, repeated, rows, root, held, separator)


CLASSES_NAMED = 5
"""Classes a message names before "..."."""


def _without_empty_classes(path: Path, class_names: list[str], targets: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The classes with at least one image, and the targets over them: a one-hot column no row sets (or whose
    rows all name missing files) would be an output the model can never learn, and its size with it."""
    counts = targets.sum(axis=0) if targets.ndim == 2 else np.bincount(targets, minlength=len(class_names))
    kept = np.flatnonzero(counts > 0)
    if len(kept) == len(class_names):
        return class_names, targets
    empty = [name for name, n in zip(class_names, counts) if n == 0]
    log.info(f"data: {path.name}: {len(empty):,} class(es) with no image dropped ("
             + ", ".join(empty[:CLASSES_NAMED]) + (", ..." if len(empty) > CLASSES_NAMED else "")
             + f"); {len(kept):,} kept")
    if targets.ndim == 2:
        return [class_names[k] for k in kept], targets[:, kept]
    return [class_names[k] for k in kept], np.searchsorted(kept, targets).astype(np.int64)


def _labels(where: str, row: dict[str, Any], columns: _Columns, separator: str) -> list[str]:
    """The row's labels: the label column's, split at ``separator``, or the one-hot columns that are 1."""
    if columns.label is not None:
        value = row.get(columns.label)
        names = [_text(v) for v in value] if isinstance(value, list) else _text(value).split(separator)
        return list(dict.fromkeys(name.strip() for name in names if name.strip()))
    hot = []
    for name in columns.one_hot:
        value = _text(row.get(name))
        if value not in ("0", "1", "0.0", "1.0", "true", "false", "True", "False"):
            raise DlcvError(f"{where}: {name} is {value!r}; expected 0 or 1 in each class's column")
        if value in ("1", "1.0", "true", "True"):
            hot.append(name)
    return hot


def _refuse_for_single_label(where: str, names: list[str], columns: _Columns) -> None:
    if columns.label is not None and not names:
        raise DlcvError(f"{where}: empty {columns.label}; expected a class name")
    found = ("no class is 1" if columns.one_hot else "no label") if not names else \
        (f"{' and '.join(names)} are all 1" if columns.one_hot else f"{len(names)} labels ({', '.join(names)})")
    raise DlcvError(f"{where}: {found}; expected exactly one per image in a single-label table (several labels "
                    "per image: task: multilabel)")


def _text(value: Any) -> str:
    """A cell as text: CSV gives strings, JSON numbers and booleans too (a JSON true is "true")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _line_list(lines: list[int], shown: int = 3) -> str:
    """``lines 2, 5 and 9``; past ``shown`` lines, ``lines 2, 5, 9 and 1,000 more`` (a file named by a million
    rows is not a million numbers)."""
    if len(lines) > shown + 1:
        return f"lines {', '.join(map(str, lines[:shown]))} and {len(lines) - shown:,} more"
    return f"lines {', '.join(map(str, lines[:-1]))} and {lines[-1]}"


def read_table_of(dataset: DatasetConfig, task: str = "auto") -> LabelTable:
    """The table a labels dataset's config names, read as its keys say."""
    return read_table(dataset.path, dataset.images, dataset.columns, dataset.max_missing, dataset.separator, task)


def check_split_keys(dataset: DatasetConfig, table: LabelTable) -> None:
    """``dataset.splits`` and ``group_by`` against the table's split column (the one place this is ruled)."""
    given = table.given_split if dataset.splits != "random" else None
    if dataset.splits == "folders" and table.given_split is None:
        raise ConfigError(f"dataset.splits: folders: {dataset.path} has no split column; expected a column "
                          "naming each image's part (train, val, test), or splits: auto")
    if given is not None and dataset.group_by is not None:
        raise ConfigError(f"dataset.group_by: {dataset.path} gives each image's part (its split column), so "
                          "nothing is split at random; expected group_by: null, or splits: random")


def table_source(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> FolderSource:
    """A table's images, decoded only when read: its parts as given (``dataset.splits``), its files grouped
    by ``dataset.group_by`` for a random split, its missing files recorded as skipped."""
    table = read_table_of(dataset)
    log.info(f"data: {Path(dataset.path).name}: {table.labels_line}")
    if table.repeated:  # dlcv data check lists them all
        log.warning(f"data: {Path(dataset.path).name}: {len(table.repeated):,} file(s) named by more than one row, "
                    f"each row trained as an image ({table.repeated[0]}"
                    + (", ..." if len(table.repeated) > 1 else "") + "); dlcv data check lists them")
    check_split_keys(dataset, table)
    given = table.given_split if dataset.splits != "random" else None
    groups = file_groups(table.paths, dataset.group_by) if dataset.group_by is not None else None
    source = FolderSource(table.paths, table.labels, table.class_names, preprocessing, decode=dataset.decode,
                          given_split=given, groups=groups, group_by=dataset.group_by,
                          max_pixels=dataset.max_pixels, labelling=table.content_key)
    for i, missing in enumerate(table.missing):
        source._skip(-1 - i, f"{missing} (no such file)")
    return source


@register_dataset("labels", needs_path=True, needs_size=True, streams=True,
                  own_keys=("images", "columns", "separator", "max_missing"))
def load_labels(dataset: DatasetConfig, preprocessing: PreprocessingConfig) -> FolderSource:
    """Your photos named in a label table (CSV or JSON Lines: path, label, optionally split)."""
    return table_source(dataset, preprocessing)
