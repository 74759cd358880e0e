"""Every run under a folder, as one table (``dlcv runs``): finished runs with their test scores, and
interrupted or unfinished ones said as such, never skipped silently. Folders that hold no run (a cache,
a search's own folder, anything else) are passed over; a search's trials are runs and are listed.

    rows = find_runs("output")
    print(format_rows(sort_rows(rows, "test_accuracy"), "text"))
    write_index(rows, Path("output/runs.html"))       # each run linked to its report.html
"""
from __future__ import annotations

import csv
import html
import io
import json
import os
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from . import files
from .console import printable
from .errors import ConfigError, DlcvError
from .html_page import page
from .runs import DamagedRun, RunFolder

TABLE_FORMATS = ("text", "csv", "json")


@dataclass(frozen=True)
class RunRow:
    name: str
    """The run's folder, relative to the folder listed (a search's trials: ``<search>/trials/<n>``)."""
    status: str
    """finished; pruned after epoch N (a search's trial the pruner stopped); interrupted after epoch N
    (``--resume`` continues it); unfinished (or still running); damaged (a record of the run is not what
    dlcv wrote: the row says which)."""
    model: str
    task: str
    """The run's task (:mod:`dlcv.task`): which of the score columns below it has."""
    dataset: str
    image_size: str
    epochs: str
    route: str
    backend: str
    val_accuracy: float | None
    """A single-label run's validation accuracy with the weights it ended with (a search's trials: what the
    search judged)."""
    val_map: float | None
    """A multi-label run's validation mAP with the weights it ended with."""
    test_accuracy: float | None
    """A single-label run's test accuracy (a multi-label run has none: see test_map)."""
    test_map: float | None
    """A multi-label run's test mean average precision."""
    test_loss: float | None
    evaluated: str
    """The primary score ``dlcv evaluate`` last gave the run's model (evaluation.json), beside the run's own."""
    seconds: float | None
    date: str
    """When the run finished (its results.json), else when it last wrote its folder (UTC)."""
    path: str


COLUMNS = tuple(field.name for field in fields(RunRow))
"""The table's columns, which --sort takes: RunRow's fields, in order."""


def find_runs(root: str | os.PathLike) -> list[RunRow]:
    """The runs under ``root`` (any depth): every folder with a run's config.yaml."""
    base = Path(root)
    if not base.is_dir():
        raise DlcvError(f"{root}: not a folder; expected an output folder holding run folders")
    return [row for config in sorted(base.rglob("config.yaml")) if (row := _row(RunFolder(config.parent), base))]


def _row(run: RunFolder, base: Path) -> RunRow | None:
    try:
        config = run.saved_config()
    except ConfigError:
        # a dlcv run's config.yaml, damaged (the folder holds the run's other files), is listed as such;
        # another program's is passed over
        others = [name for name in RunFolder.entries(folders=False) if name != run.config_file.name]
        return _damaged_config(run, base) if any((run.path / name).exists() for name in others) else None
    if config is None:
        return None
    try:
        results, point = run.results(), run.resume_point()
    except DamagedRun as exc:  # listed, so that one damaged folder hides nothing
        results, point, damaged = None, None, exc.path
    else:
        damaged = None
    if damaged is not None:
        status, epochs = f"damaged ({damaged.name})", f"?/{config.total_epochs}"
    elif results is not None and results.get("pruned_after") is not None:
        status, epochs = f"pruned after epoch {results['pruned_after']}", str(results.get("epochs_run", ""))
    elif results is not None and results.get("kind") == "k-fold":  # its folds' epochs together, each its own row
        status, epochs = "finished", f"{results.get('epochs_run', '?')} in {results.get('folds', '?')} folds"
    elif results is not None:
        status, epochs = "finished", str(results.get("epochs_run", ""))
    elif point is not None:
        status, epochs = f"interrupted after epoch {point.epoch}", f"{point.epoch}/{config.total_epochs}"
    else:
        status, epochs = "unfinished (or running)", f"?/{config.total_epochs}"
    finished = results is not None
    results = results or {}
    validation = results.get("validation") or {}
    when = run.results_file.stat().st_mtime if finished else max(
        (p.stat().st_mtime for p in run.path.iterdir() if p.is_file()), default=run.path.stat().st_mtime)
    p = config.preprocessing
    return RunRow(
        name=str(run.path.relative_to(base)), status=status, task=results.get("task") or config.task,
        model=config.model.name, dataset=config.dataset.name, image_size=f"{p.width}x{p.height}x{p.channels}",
        epochs=epochs, route=str(results.get("route", "")), backend=str(results.get("backend", "")),
        val_accuracy=validation.get("val_accuracy"), val_map=validation.get("val_map"),
        test_accuracy=results.get("test_accuracy"), test_map=results.get("test_map"),
        test_loss=results.get("test_loss"), evaluated=_evaluated(run), seconds=results.get("seconds"),
        date=datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%d %H:%M"), path=str(run.path))


def _damaged_config(run: RunFolder, base: Path) -> RunRow:
    return RunRow(name=str(run.path.relative_to(base)), status="damaged (config.yaml)", model="?", task="?",
                  dataset="?", image_size="?", epochs="?", route="", backend="", val_accuracy=None, val_map=None,
                  test_accuracy=None, test_map=None, test_loss=None, evaluated="", seconds=None,
                  date=datetime.fromtimestamp(run.config_file.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M"),
                  path=str(run.path))


def _evaluated(run: RunFolder) -> str:
    """evaluation.json's primary score, as "name value" (empty: never evaluated, or not readable)."""
    try:
        primary = json.loads(run.evaluation_file.read_text(encoding="utf-8"))["primary_metric"]
        return f"{primary['name']} {float(primary['value']):.4f}"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def sort_rows(rows: list[RunRow], column: str = "date", descending: bool | None = None) -> list[RunRow]:
    """By a column (scores and dates: highest first), runs without a value last."""
    if column not in COLUMNS:
        raise DlcvError(f"--sort {column}: no such column; expected one of: {', '.join(COLUMNS)}")
    descending = column in ("val_accuracy", "val_map", "test_accuracy", "test_map", "date", "seconds") \
        if descending is None else descending
    present = [r for r in rows if getattr(r, column) not in (None, "")]
    missing = [r for r in rows if getattr(r, column) in (None, "")]
    return sorted(present, key=lambda r: getattr(r, column), reverse=descending) + missing


def format_rows(rows: list[RunRow], output_format: str = "text") -> str:
    if output_format == "json":
        return json.dumps([asdict(r) for r in rows], indent=1) + "\n"
    if output_format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[f.name for f in fields(RunRow)], lineterminator="\n")
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
        return out.getvalue()
    columns = shown_columns(rows)
    table = [columns] + [tuple(printable(_shown(getattr(r, c), c)) for c in columns) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() + "\n" for line in table)


def write_index(rows: list[RunRow], path: Path) -> Path:
    """runs.html: the table, each run's name linked to its report.html (relative, so the folder can move)."""
    columns = shown_columns(rows)
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = []
    for r in rows:
        report = Path(r.path) / "report.html"
        name = html.escape(r.name)
        if report.is_file():
            name = f'<a href="{html.escape(os.path.relpath(report, path.parent))}">{name}</a>'
        cells = [name] + [html.escape(_shown(getattr(r, c), c)) for c in columns[1:]]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    files.write_text(path, page("dlcv runs", f"<h1>Runs in {html.escape(str(path.parent))}</h1><table><tr>{head}</tr>"
                                             f"{''.join(body)}</table>", "td{text-align:left;white-space:nowrap}"))
    return path


def shown_columns(rows: list[RunRow]) -> tuple[str, ...]:
    """The columns the text table and runs.html show: the name, and each other column some run has a value
    in (single-label runs alone show no mAP column; runs never re-evaluated, no ``evaluated``). CSV and JSON
    keep every column, for the scripts that read them."""
    return tuple(c for c in COLUMNS[:-1] if c == "name" or any(getattr(r, c) not in (None, "") for r in rows))


def _shown(value, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}" if column == "seconds" else f"{value:.4f}"
    return str(value)
