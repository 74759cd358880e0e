"""A run's report page, ``report.html``: one self-contained file (images inlined, no script, no network)
with the config, the run's facts and times, the learning curves and rate, the task's per-class section
(:mod:`dlcv.task`: precision / recall / F1 and the confusion matrix, or each class's average precision and
threshold), and **the mistakes** — the test images the model got wrong, surest first, each with what its
task says of it (true and predicted labels, with probabilities) and its file (the path under the data
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
from pathlib import Path
from typing import Any

import numpy as np

from . import files
from .config import ReportConfig
from .html_page import page
from .runs import RunFolder
from .task import Task, task_of_run

MISTAKES_SHOWN: int = ReportConfig.model_fields["mistakes"].default
"""The mistakes a page shows by default (``report.mistakes``): a data set with thousands stays a small page."""


def book_text(book: dict) -> str:
    """A config's ``book`` section as one line: its figures, then its note (``accuracy >0.79; the book's ...``).

    >>> book_text({"accuracy": 0.57, "val_accuracy": 0.5739, "note": "overfits after about epoch 10"})
    'accuracy 0.57, val_accuracy 0.5739; overfits after about epoch 10'
    """
    figures = ", ".join(f"{key} {value}" for key, value in book.items() if key != "note")
    return "; ".join(part for part in (figures, str(book.get("note") or "")) if part)


def write_report(run: RunFolder, evaluation: Any | None, test_set: Any | None = None, limit: int = MISTAKES_SHOWN,
                 unavailable: str | None = None, results: dict | None = None, task: Task | None = None,
                 model: Any | None = None) -> Path:
    """Write ``run``'s report.html from its files and ``evaluation`` (its task's scores with their
    probabilities; None: the report's own saved figures only), the mistakes' images read from ``test_set``
    (or ``unavailable``: why they are not shown). ``results``: results.json's content, when the run is
    writing it now; ``task``: the run's (default: as its folder records it); ``model``: the Keras model,
    whose heatmaps are drawn beside the mistakes (None: none, ``report.heatmaps: false``)."""
    results = results if results is not None else (run.results() or {})
    names = evaluation.class_names if evaluation is not None else (run.class_names() or [])
    task = task or task_of_run(run, names, run.saved_config())
    sections = [_heading(run, results, task), _curves(run)]
    if evaluation is not None:
        def heatmaps(images: np.ndarray, indexes: Sequence[int]):
            classes = [task.shown_class(evaluation.probabilities[index]) for index in indexes]
            return _heatmaps(model, images, classes)

        def mistakes_html(cards, what: str, order: str):
            return _mistakes(cards, cards[:limit], len(evaluation.labels), what, order, test_set, unavailable, run,
                             heatmaps if model is not None else None)

        sections += task.report_sections(evaluation, mistakes_html)
        sections.append(_reliability(task, evaluation))
    else:
        saved = _read_json(run.report_json_file)
        if saved:
            sections += task.saved_sections(saved)
        sections.append(f"<h2>Mistakes</h2><p class=note>Not shown: {html.escape(unavailable or 'no test predictions')}"
                        ".</p>")
    sections.append(_config(run))
    path = run.report_file
    files.write_text(path, page(f"{results.get('name') or run.path.name}: dlcv report", "\n".join(sections), STYLE))
    return path


def _heading(run: RunFolder, results: dict, task: Task) -> str:
    name = html.escape(str(results.get("name") or run.path.name))
    facts = []
    if task.primary_metric in results:
        facts.append(f"<b>{html.escape(task.headline(results))}</b>")
    for key, label in (("epochs_run", "epochs"), ("seconds", "seconds"), ("route", "route"), ("backend", "backend"),
                       ("keras_version", "Keras")):
        if results.get(key) not in (None, ""):
            facts.append(f"{label} {html.escape(str(results[key]))}")
    if results.get("book"):
        facts.append("the book: " + html.escape(book_text(results["book"])))
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


def _heatmaps(model: Any, images: np.ndarray, classes: Sequence[int]) -> tuple[list[bytes] | None, str]:
    """Each image's heatmap overlay (PNG) for its class and a line saying what they are; (None, why) where
    the model cannot be explained (no convolution, another backend than TensorFlow)."""
    from .errors import DlcvError
    from .explain import overlay
    from .heatmaps import Explainer

    try:
        explainer = Explainer(model)
    except DlcvError as exc:
        return None, f"No heatmaps: {exc}."
    maps, _ = explainer.heatmaps(images, classes)
    pictures = [_encoded(overlay(image, heatmap)) for image, heatmap in zip(images, maps)]
    return pictures, (f"Beside each image, where the model looks for the class it predicted: {explainer.method} at "
                      f"layer {explainer.layer} ({explainer.map_size[0]}x{explainer.map_size[1]}), red the most "
                      "(report.heatmaps).")


def _mistakes(every: Sequence[tuple], shown: Sequence[tuple], total: int, what: str, order: str,
              test_set: Any | None, unavailable: str | None, run: RunFolder,
              heatmaps: Any | None = None) -> tuple[str, list[int]]:
    """The mistakes section: ``every`` (index, caption HTML, anchor id or None) the task found, the
    ``shown`` first ones drawn with their pixels and files (and, with ``heatmaps``, each one's heatmap);
    the section and the shown images' indexes."""
    heading = (f"<h2>Mistakes</h2><p>{len(every)} of {total} test images {what}"
               + (f"; the {len(shown)} {order} are shown (report.mistakes)" if len(every) > len(shown) else
                  f", {order} first") + ".</p>")
    indexes = [index for index, _, _ in shown]
    if not shown:
        return heading, indexes
    images = None
    if test_set is not None and unavailable is None:
        images = test_set.batch(np.asarray(indexes))[0]
    if images is None:
        why = unavailable or "the test images are not available"
        heading += f"<p class=note>Images not shown: {html.escape(why)}.</p>"
    overlays = None
    if images is not None and heatmaps is not None:
        overlays, said = heatmaps(images, indexes)
        heading += f"<p class=note>{html.escape(said)}</p>"
    paths = getattr(test_set, "paths", None) if test_set is not None else None
    root = _data_root(run)
    cards = []
    for i, (index, caption, anchor) in enumerate(shown):
        path = paths[index] if paths is not None else None
        file_shown = _shown_path(path, root) if path else None
        alt = f"test image {index}" + (f": {file_shown}" if file_shown else "")
        picture = _img(_png(images[i]), alt) if images is not None else ""
        if overlays is not None:
            picture += _img(overlays[i], f"heatmap of test image {index}")
        anchored = f' id="{anchor}"' if anchor else ""
        cards.append(f"<figure{anchored} class=mistake>{picture}<figcaption>#{index}: {caption}"
                     f"{_file_link(path, file_shown, run) if path else ''}</figcaption></figure>")
    return heading + "<div class=mistakes>" + "".join(cards) + "</div>", indexes


def _data_root(run: RunFolder) -> str | None:
    """The folder the run's image paths are under (its config.yaml's data set)."""
    from .errors import DlcvError

    try:
        config = run.saved_config()
    except DlcvError:
        return None
    return None if config is None else config.dataset.files_root


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


def write_kfold_report(parent: RunFolder, issues: Sequence | None = None, duplicates: Sequence | None = None,
                       limit: int = MISTAKES_SHOWN, heatmaps: Any | None = None) -> Path:
    """A k-fold run's report.html: each held-out metric over the folds, the fold table with links to the
    folds' own reports, the folds' ensemble on the test split, and (from ``dlcv data issues``) the likely
    label errors with thumbnails and file links (and, with ``heatmaps``, :func:`dlcv.explain.fold_heatmaps`,
    each one's heatmap by the fold that held it out), and the near duplicates ``dlcv data check`` finds."""
    results = parent.results() or {}
    folds = results.get("folds") or 0
    held = results.get("held_out", {})
    rows = "".join(f"<tr><td>{html.escape(key)}</td><td>{v['mean']:.4f}</td><td>{v['std']:.4f}</td>"
                   f"<td>{v['interval'][0]:.4f}-{v['interval'][1]:.4f}</td>"
                   + "".join(f"<td>{x:.4f}</td>" for x in v["folds"]) + "</tr>" for key, v in held.items())
    links = "".join(f'<th><a href="folds/{k}/report.html">fold {k}</a></th>' for k in range(1, folds + 1))
    name = html.escape(str(results.get("name") or parent.path.name))
    sections = [f"<h1>{name}: {folds}-fold cross-validation</h1>",
                "<p>Each fold's model scored on the images it did not train on (its validation carved from its own "
                "training part); the interval is Student's t over the folds, 95%.</p>",
                f"<table><tr><th>held out</th><th>mean</th><th>std</th><th>95% interval</th>{links}</tr>{rows}</table>"]
    test = {key: value for key, value in results.items() if key.startswith("test_") and isinstance(value, float)}
    if test:
        scores = ", ".join(f"{html.escape(key.removeprefix('test_'))} {value:.4f}" for key, value in test.items())
        sections.append(f"<h2>The folds' ensemble on the test split</h2><p>{scores}</p>")
    if issues is not None:
        sections.append(_label_issues(parent, issues, limit, heatmaps))
    else:
        sections.append("<h2>Likely label errors</h2><p class=note>Not computed: run <code>dlcv data issues "
                        f"{html.escape(str(parent.path))}</code>.</p>")
    if duplicates:
        listed = "".join(f"<li>{html.escape(group.kind)}: "
                         + ", ".join(html.escape(_shown_path(path, _data_root(parent))) for path in group.paths)
                         + "</li>" for group in duplicates)
        sections.append(f"<h2>Near duplicates</h2><p>dlcv data check finds these groups:</p><ul>{listed}</ul>")
    sections.append(_config(parent))
    files.write_text(parent.report_file, page(f"{parent.path.name}: dlcv k-fold report", "\n".join(sections), STYLE))
    return parent.report_file


def _label_issues(parent: RunFolder, issues: Sequence, limit: int, heatmaps: Any | None = None) -> str:
    """The likely label errors, most likely first: thumbnail, file link, given and suggested label(s)."""
    import cv2

    root = _data_root(parent)
    paths = [os.path.join(root, issue.path) if root and not issue.path.startswith("#") else None
             for issue in issues[:limit]]
    overlays, said = [None] * len(paths), ""
    readable = [(i, issue.fold, path) for i, (issue, path) in enumerate(zip(issues, paths))
                if path and os.path.isfile(path)]
    if heatmaps is not None and readable:
        drawn, said = heatmaps([(fold, path) for _, fold, path in readable])
        for (i, _, _), picture in zip(readable, drawn):
            overlays[i] = picture
        said = f"<p class=note>{html.escape(said)}</p>"
    cards = []
    for issue, path, heatmap in zip(issues[:limit], paths, overlays):
        image = cv2.imread(path, cv2.IMREAD_COLOR) if path and os.path.isfile(path) else None
        picture = "" if heatmap is None else _img(heatmap, f"heatmap of training image {issue.path}")
        if image is not None:
            scale = 128 / max(image.shape[:2])
            small = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                               interpolation=cv2.INTER_AREA)
            picture = _img(_png(cv2.cvtColor(small, cv2.COLOR_BGR2RGB)), f"training image {issue.path}") + picture
        link = _file_link(path or issue.path, issue.path, parent)  # a built-in set's "#row": no file
        cards.append(f"<figure class=mistake>{picture}<figcaption>given <b>{html.escape(issue.given)}</b>, "
                     f"{html.escape(issue.change)}; "
                     f"quality {issue.quality:.3f}, fold {issue.fold}{link}</figcaption></figure>")
    return (f"<h2>Likely label errors</h2><p>{len(issues)} training images whose given label the out-of-fold "
            "probabilities contradict (confident learning, cleanlab), most likely first"
            + (f"; the first {limit} are shown, all are in label_issues.csv" if len(issues) > limit else "")
            + f".</p>{said}<div class=mistakes>" + "".join(cards) + "</div>")


def _reliability(task: Task, evaluation: Any) -> str:
    """The reliability diagram of the test probabilities (as the run gives them: calibrated where it is), with
    the expected calibration error before and after."""
    from .task.calibration import reliability

    confidence, outcome = task.reliability_points(evaluation.probabilities, evaluation.labels)
    points = reliability(confidence, outcome)
    diagram = _line_svg([c for c, _, _ in points], [a for _, a, _ in points], "confidence (15 bins)", "share right",
                        dots=True, diagonal=True)
    scores = evaluation.calibration
    said = f"ECE {scores.get('test_ece', float('nan')):.4f}"
    if "test_ece_uncalibrated" in scores:
        said += (f" at the run's temperature ({scores['test_ece_uncalibrated']:.4f} without it); NLL "
                 f"{scores['test_nll_calibrated']:.4f} (without it {evaluation.loss:.4f})")
    else:
        said += " (the run is not calibrated)"
    section = (f"<h2>Confidence</h2><p>How often the test images are right at each confidence: "
               f"{html.escape(said)}.</p>{_img(diagram, 'reliability diagram', 'image/svg+xml')}")
    if task.rejects and len(evaluation.labels):
        section += _risk_coverage(evaluation)
    return section


def _line_svg(xs: Sequence[float], ys: Sequence[float], xlabel: str, ylabel: str, top: float = 1.0,
              dots: bool = False, diagonal: bool = False, width: int = 320, height: int = 300) -> bytes:
    """A line on axes from 0 to 1 (x) and 0 to ``top`` (y) as a small SVG, with ``diagonal`` the dashed
    line a calibrated run follows. Drawn here rather than by matplotlib, whose figures cost a tenth of a
    second each in every report for a curve and two axes."""
    left, bottom, right, top_edge = 62, height - 36, width - 12, 12
    span_x, span_y = right - left, bottom - top_edge

    def x_at(x: float) -> float:
        return left + x * span_x

    def y_at(y: float) -> float:
        return bottom - (y / top) * span_y

    ticks = "".join(f'<text x="{x_at(t):.0f}" y="{bottom + 15}" text-anchor="middle">{t:g}</text>'
                    for t in (0, 0.5, 1))
    ticks += "".join(f'<text x="{left - 5}" y="{y_at(t * top) + 4:.0f}" text-anchor="end">{t * top:.3g}</text>'
                     for t in (0, 0.5, 1))
    line = " ".join(f"{x_at(x):.1f},{y_at(y):.1f}" for x, y in zip(xs, ys))
    parts = [f'<rect x="{left}" y="{top_edge}" width="{span_x}" height="{span_y}" fill="none" stroke="#888"/>']
    if diagonal:
        parts.append(f'<polyline points="{x_at(0)},{y_at(0)} {x_at(1)},{y_at(top)}" stroke="grey" '
                     'stroke-dasharray="4 3" fill="none"/><text x="{0}" y="{1}" fill="grey">- - calibrated</text>'
                     '<text x="{0}" y="{2}" fill="#1f77b4">-o- this run</text>'.format(left + 8, top_edge + 16,
                                                                                       top_edge + 30))
    parts.append(f'<polyline points="{line}" stroke="#1f77b4" fill="none" stroke-width="1.5"/>')
    if dots:
        parts.append('<g fill="#1f77b4">' + "".join(f'<circle cx="{x_at(x):.1f}" cy="{y_at(y):.1f}" r="3"/>'
                                                     for x, y in zip(xs, ys)) + "</g>")
    parts.append(f'{ticks}<text x="{left + span_x / 2:.0f}" y="{height - 6}" text-anchor="middle">'
                 f'{html.escape(xlabel)}</text><text transform="translate(12,{top_edge + span_y / 2:.0f}) '
                 f'rotate(-90)" text-anchor="middle">{html.escape(ylabel)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
            f'font-size="11">{"".join(parts)}</svg>').encode()


def _risk_coverage(evaluation: Any) -> str:
    """The error rate among the images kept, keeping the most confident first: what a reject rule trades."""
    confidence = evaluation.probabilities.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    wrong = (evaluation.predictions != evaluation.labels)[order]
    kept = np.arange(1, len(order) + 1)
    error = np.cumsum(wrong) / kept
    shown = np.linspace(0, len(error) - 1, min(len(error), 400)).astype(int)  # a small page for any test split
    curve = _line_svg(kept[shown] / len(order), error[shown], "coverage (share kept, most confident first)",
                      "error among the kept", top=max(float(error.max()), 1e-3) * 1.05)
    return (f"<p>Turning the least confident away: the error among the images kept, at each share kept "
            f"(all kept: {wrong.mean():.4f}).</p>{_img(curve, 'risk-coverage curve', 'image/svg+xml')}")


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


def _encoded(bgr: np.ndarray) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError(f"could not encode a {bgr.shape} image as PNG")
    return encoded.tobytes()


def _img(data: bytes, alt: str, media: str = "image/png") -> str:
    return f'<img alt="{html.escape(alt)}" src="data:{media};base64,{base64.b64encode(data).decode()}">'


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


STYLE = """.matrix td.hit{background:#e6f4e6}.matrix td.miss{background:#fbe9e7}
.mistakes{display:flex;flex-wrap:wrap;gap:10px}
figure.mistake{margin:0;width:270px;font-size:12px}
figure.mistake img{width:128px;image-rendering:pixelated;margin-right:4px}
.file{word-break:break-all}"""
"""The report's own style, beside the common one (:mod:`dlcv.html_page`)."""
