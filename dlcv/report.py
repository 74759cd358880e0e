"""A run's report page, ``report.html``: one self-contained file (images inlined, no script, no network)
with the config, the run's facts and times, the learning curves and rate, per-class precision / recall /
F1, the confusion matrix, and **the mistakes** — the test images the model got wrong, most confident
first, each with its true label, predicted label and probability, and its file (the path under the data
set's folder, linked where the file is there) so that a wrong label can be found and fixed; each cell of
the confusion matrix links to its first mistake shown.

    page = write_report(RunFolder("output/animals"), evaluation, splits.test, limit=100)
    write_report(run, None, unavailable="the dataset folder datasets/animals is not there")  # no images

Written at the end of training and by ``dlcv evaluate``; ``dlcv report RUN`` writes it again.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import files
from .config import ReportConfig
from .html_page import page
from .runs import RunFolder

MISTAKES_SHOWN: int = ReportConfig.model_fields["mistakes"].default
"""The mistakes a page shows by default (``report.mistakes``): a data set with thousands stays a small page."""


@dataclass(frozen=True)
class Mistake:
    index: int
    """The image's position in the test split."""
    true: int
    predicted: int
    probability: float
    """The model's probability for the (wrong) predicted class."""


def mistakes(probabilities: np.ndarray, labels: np.ndarray) -> list[Mistake]:
    """Every misclassified image, most confident first (ties: in split order)."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")]
    return [Mistake(int(i), int(labels[i]), int(predicted[i]), float(probabilities[i, predicted[i]])) for i in order]


@dataclass(frozen=True)
class SetMistake:
    index: int
    """The image's position in the test split."""
    missed: tuple[int, ...]
    """Its classes the model did not give it."""
    extra: tuple[int, ...]
    """Classes the model gave it that it does not have."""
    error: float
    """The largest distance of a wrong class's probability from its threshold (how sure the mistake was)."""


def label_set_mistakes(probabilities: np.ndarray, targets: np.ndarray, thresholds: np.ndarray) -> list[SetMistake]:
    """Every multi-label image with a wrong label (a class missed or one too many), surest mistake first."""
    predicted = probabilities >= thresholds
    truth = np.asarray(targets) >= 0.5
    found = []
    for i in np.flatnonzero((predicted != truth).any(axis=1)):
        wrong = np.flatnonzero(predicted[i] != truth[i])
        found.append(SetMistake(int(i), tuple(int(k) for k in np.flatnonzero(truth[i] & ~predicted[i])),
                                tuple(int(k) for k in np.flatnonzero(predicted[i] & ~truth[i])),
                                float(np.max(np.abs(probabilities[i, wrong] - thresholds[wrong])))))
    return sorted(found, key=lambda m: -m.error)


def write_report(run: RunFolder, evaluation: Any | None, test_set: Any | None = None, limit: int = MISTAKES_SHOWN,
                 unavailable: str | None = None, results: dict | None = None) -> Path:
    """Write ``run``'s report.html from its files and ``evaluation`` (an :class:`~dlcv.evaluation.Evaluation`
    with its probabilities; None: the report's own saved figures only), the mistakes' images read from
    ``test_set`` (or ``unavailable``: why they are not shown). ``results``: results.json's content, when
    the run is writing it now."""
    results = results if results is not None else (run.results() or {})
    names = evaluation.class_names if evaluation is not None else (run.class_names() or [])
    sections = [_heading(run, results), _curves(run)]
    if evaluation is not None and evaluation.multilabel:
        wrong = label_set_mistakes(evaluation.probabilities, evaluation.labels, evaluation.thresholds)
        sections += [_per_class_multilabel(evaluation.per_class),
                     _set_mistakes(wrong, wrong[:limit], len(evaluation.labels), test_set, names, unavailable, run)]
    elif evaluation is not None:
        wrong = mistakes(evaluation.probabilities, evaluation.labels)
        shown = wrong[:limit]
        sections += [_per_class(evaluation.report, names), _confusion(evaluation.confusion, names, shown),
                     _mistakes(wrong, shown, len(evaluation.labels), test_set, names, unavailable, run)]
    else:
        saved = _read_json(run.report_json_file)
        if saved and "confusion_matrix" not in saved:  # a multi-label run's report
            sections.append(_per_class_multilabel(saved["classes"]))
        elif saved:
            sections += [_per_class(saved, names), _confusion(np.asarray(saved["confusion_matrix"]), names, [])]
        sections.append(f"<h2>Mistakes</h2><p class=note>Not shown: {html.escape(unavailable or 'no test predictions')}"
                        ".</p>")
    sections.append(_config(run))
    path = run.report_file
    files.write_text(path, page(f"{results.get('name') or run.path.name}: dlcv report", "\n".join(sections), STYLE))
    return path


def _heading(run: RunFolder, results: dict) -> str:
    name = html.escape(str(results.get("name") or run.path.name))
    facts = []
    if "test_map" in results:
        facts.append(f"test mAP <b>{results['test_map']:.4f}</b>, F1 micro {results['test_f1_micro']:.4f}, macro "
                     f"{results['test_f1_macro']:.4f}, exact match {results['test_exact_match']:.4f} "
                     f"({results.get('test_images', '?')} images), loss {results.get('test_loss', float('nan')):.4f}")
    if "test_accuracy" in results:
        low, high = results.get("test_accuracy_interval") or (float("nan"), float("nan"))
        loss = results.get("test_loss", float("nan"))
        facts.append(f"test accuracy <b>{results['test_accuracy']:.4f}</b> (95% interval {low:.4f}–{high:.4f}, "
                     f"Wilson, {results.get('test_images', '?')} images), loss {loss:.4f}")
        if "test_balanced_accuracy" in results:  # runs before these were recorded have none
            facts.append(f"balanced accuracy {results['test_balanced_accuracy']:.4f}, macro F1 "
                         f"{results['test_macro_f1']:.4f}")
    for key, label in (("epochs_run", "epochs"), ("seconds", "seconds"), ("route", "route"), ("backend", "backend"),
                       ("keras_version", "Keras")):
        if results.get(key) not in (None, ""):
            facts.append(f"{label} {html.escape(str(results[key]))}")
    if results.get("book"):
        facts.append("the book: " + html.escape(", ".join(f"{k} {v}" for k, v in results["book"].items())))
    return f"<h1>{name}</h1><p>{' · '.join(facts) or 'no results.json: the run did not finish'}</p>"


def _curves(run: RunFolder) -> str:
    parts = ["<h2>Learning curves</h2>"]
    if run.training_plot_file.is_file():
        parts.append(_img(run.training_plot_file.read_bytes(), "loss and accuracy per epoch"))
    history = _read_json(run.history_file)
    if len(parts) == 1 and history and history.get("learning_rate"):  # training.png has the rate when drawn
        parts.append(_img(_rate_plot(history["learning_rate"]), "learning rate per epoch"))
    return "\n".join(parts) if len(parts) > 1 else parts[0] + "<p class=note>No history was written.</p>"


def _rate_plot(rates: Sequence[float]) -> bytes:
    from matplotlib.ticker import MaxNLocator

    from .plotting import new_figure

    figure, axes = new_figure(figsize=(6, 2.6))
    axes.plot(range(1, len(rates) + 1), rates, marker="o", markersize=2)
    axes.set(xlabel="epoch", ylabel="learning rate", title="Learning rate")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def _per_class(report: dict, names: Sequence[str]) -> str:
    report = report.get("classes", report)  # runs written before the classes had a section of their own
    rows = "".join(f"<tr><td>{html.escape(n)}</td>" + "".join(f"<td>{report[n][k]:.3f}</td>" for k in
                                                                ("precision", "recall", "f1-score"))
                   + f"<td>{int(report[n]['support'])}</td></tr>" for n in names if n in report)
    return ("<h2>Per class</h2><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>"
            f"<th>test images</th></tr>{rows}</table>")


def _per_class_multilabel(per_class: dict) -> str:
    def cell(value) -> str:
        return "–" if value is None else f"{value:.3f}"

    keys = ("average_precision", "threshold", "precision", "recall", "f1")
    rows = "".join(f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{cell(row[k])}</td>" for k in keys)
                   + f"<td>{int(row['support'])}</td></tr>" for name, row in per_class.items())
    return ("<h2>Per class</h2><p class=note>Each class's threshold was chosen on the validation split (the largest "
            "F1); average precision needs no threshold (–: no test image of the class).</p><table><tr><th>class</th>"
            "<th>average precision</th><th>threshold</th><th>precision</th><th>recall</th><th>F1</th>"
            f"<th>test images</th></tr>{rows}</table>")


def _set_mistakes(every: Sequence[SetMistake], wrong: Sequence[SetMistake], total: int, test_set: Any | None,
                  names: Sequence[str], unavailable: str | None, run: RunFolder) -> str:
    heading = (f"<h2>Mistakes</h2><p>{len(every)} of {total} test images with a wrong label (one missed or one "
               "too many)" + (f"; the {len(wrong)} surest are shown (report.mistakes)" if len(every) > len(wrong)
                              else ", the surest first") + ".</p>")
    if not wrong:
        return heading
    images = None
    if test_set is not None and unavailable is None:
        images = test_set.batch(np.asarray([m.index for m in wrong]))[0]
    if images is None:
        why = unavailable or "the test images are not available"
        heading += f"<p class=note>Images not shown: {html.escape(why)}.</p>"
    paths = getattr(test_set, "paths", None) if test_set is not None else None
    root = _data_root(run)
    cards = []
    for i, m in enumerate(wrong):
        path = paths[m.index] if paths is not None else None
        shown = _shown_path(path, root) if path else None
        alt = f"test image {m.index}" + (f": {shown}" if shown else "")
        picture = _img(_png(images[i]), alt) if images is not None else ""
        said = [f"missed <b>{html.escape(', '.join(names[k] for k in m.missed))}</b>" if m.missed else "",
                f"extra <b>{html.escape(', '.join(names[k] for k in m.extra))}</b>" if m.extra else ""]
        cards.append(f"<figure class=mistake>{picture}<figcaption>#{m.index}: {'; '.join(s for s in said if s)}"
                     f"{_file_link(path, shown, run) if path else ''}</figcaption></figure>")
    return heading + "<div class=mistakes>" + "".join(cards) + "</div>"


def _confusion(matrix: np.ndarray, names: Sequence[str], shown_mistakes: Sequence[Mistake]) -> str:
    shown = {(m.true, m.predicted) for m in shown_mistakes}
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for t, name in enumerate(names):
        cells = []
        for p in range(len(names)):
            count = int(matrix[t, p])
            text = f'<a href="#m-{t}-{p}">{count}</a>' if (t, p) in shown else str(count)
            cells.append(f'<td class="{"hit" if t == p else "miss" if count else ""}">{text}</td>')
        rows.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
    return ("<h2>Confusion matrix</h2><p class=note>Rows: the true class; columns: the predicted one. A linked "
            f"count opens its mistakes.</p><table class=matrix><tr><th></th>{head}</tr>{''.join(rows)}</table>")


def _mistakes(every: Sequence[Mistake], wrong: Sequence[Mistake], total: int, test_set: Any | None,
              names: Sequence[str], unavailable: str | None, run: RunFolder) -> str:
    heading = (f"<h2>Mistakes</h2><p>{len(every)} of {total} test images misclassified"
               + (f"; the {len(wrong)} most confident are shown (report.mistakes)" if len(every) > len(wrong) else
                  ", most confident first") + ".</p>")
    if not wrong:
        return heading
    images = None
    if test_set is not None and unavailable is None:
        images = test_set.batch(np.asarray([m.index for m in wrong]))[0]
    if images is None:
        why = unavailable or "the test images are not available"
        heading += f"<p class=note>Images not shown: {html.escape(why)}.</p>"
    paths = getattr(test_set, "paths", None) if test_set is not None else None
    root = _data_root(run)
    cards, seen = [], set()
    for i, m in enumerate(wrong):
        anchor = f' id="m-{m.true}-{m.predicted}"' if (m.true, m.predicted) not in seen else ""
        seen.add((m.true, m.predicted))
        path = paths[m.index] if paths is not None else None
        shown = _shown_path(path, root) if path else None
        alt = f"test image {m.index}" + (f": {shown}" if shown else "")
        picture = _img(_png(images[i]), alt) if images is not None else ""
        cards.append(f'<figure{anchor} class=mistake>{picture}<figcaption>#{m.index}: true <b>'
                     f"{html.escape(names[m.true])}</b>, predicted <b>{html.escape(names[m.predicted])}</b> "
                     f"({m.probability:.3f}){_file_link(path, shown, run) if path else ''}</figcaption></figure>")
    return heading + "<div class=mistakes>" + "".join(cards) + "</div>"


def _data_root(run: RunFolder) -> str | None:
    """The folder the run's image paths are under (its config.yaml): a folder data set's, a label table's images."""
    from .errors import DlcvError

    try:
        config = run.saved_config()
    except DlcvError:
        return None
    if config is None or config.dataset.path is None:
        return None
    if config.dataset.name == "labels":  # a table's paths are relative to its images folder
        return config.dataset.images or os.path.dirname(config.dataset.path)
    return config.dataset.path if config.dataset.name == "folder" else None


def _shown_path(path: str, root: str | None) -> str:
    """The file's path under the data set's folder (as a user finds it there), else as it is."""
    if root is not None:
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
        if not relative.startswith(os.pardir):
            return relative
    return path


def _file_link(path: str, shown: str, run: RunFolder) -> str:
    """The file's name, a link (relative to the page) where the file is there."""
    text = html.escape(shown)
    if not os.path.isfile(path):
        return f"<br><span class=file>{text}</span>"
    href = os.path.relpath(os.path.abspath(path), os.path.abspath(run.path))
    from urllib.parse import quote

    return f'<br><a class=file href="{html.escape(quote(href))}">{text}</a>'


def _config(run: RunFolder) -> str:
    text = run.config_file.read_text(encoding="utf-8") if run.config_file.is_file() else "(no config.yaml)"
    return f"<h2>Config</h2><pre>{html.escape(text)}</pre>"


def _png(image: np.ndarray) -> bytes:
    import cv2

    pixels = image[..., 0] if image.shape[-1] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(pixels))
    if not ok:
        raise ValueError(f"could not encode a {image.shape} image as PNG")
    return encoded.tobytes()


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


STYLE = """.matrix td.hit{background:#e6f4e6}.matrix td.miss{background:#fbe9e7}
.mistakes{display:flex;flex-wrap:wrap;gap:10px}
figure.mistake{margin:0;width:180px;font-size:12px}figure.mistake img{width:128px;image-rendering:pixelated}
.file{word-break:break-all}"""
"""The report's own style, beside the common one (:mod:`dlcv.html_page`)."""
