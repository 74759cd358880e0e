"""``dlcv explain``: where a trained model looks in each image, as files a user opens.

For each image and each class explained (single-label: the predicted class, or ``--class``; multi-label:
every label predicted at or above its threshold), an overlay PNG (the image as the model saw it, the heatmap
over it, the class and its probability in the caption) and the heatmap itself as ``.npy`` (float32 at the
model's input size, summing to 1, or all zeros where the class has no positive evidence), both named after
the image's path under the images' common folder and the class (``cats/001.jpg.cats.png``), and
``explain.json`` listing each: path, class, probability, method, layer, its map size and the heatmap's peak.

    explained = explain_images(load_classifier("output/animals/model.keras"), ["photos/cat.jpg"], "output/why")
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import files
from .errors import DlcvError
from .heatmaps import BATCH, DEFAULT_METHOD, Explainer, peak
from .images import UnreadableImage

log = logging.getLogger(__name__)

OVERLAY_SIDE = 256
"""Overlays are drawn at least this many pixels on their longer side (a 32x32 input scaled up 8 times)."""
CAPTION_FONT = (0, 0.45)  # cv2.FONT_HERSHEY_SIMPLEX at scale 0.45: about 8 pixels a character
CAPTION_LINE = 18
"""Pixels from one caption line's baseline to the next."""


def explainer_for(classifier, method: str = DEFAULT_METHOD, layer: str | None = None) -> Explainer:
    """The classifier's Keras model's explainer; a one-line error for an export or a k-fold run's folds."""
    if classifier.members:
        raise DlcvError("a k-fold run's folds each look in their own way; explain one fold's model "
                        "(folds/K/model.keras)")
    if classifier.model is None:
        raise DlcvError("an exported model has no gradients to follow; explain the run folder (or its "
                        "model.keras) that it was exported from")
    return Explainer(classifier.model, method, layer)


def explain_images(classifier, paths: Sequence[str], output: str | os.PathLike, method: str = DEFAULT_METHOD,
                   layer: str | None = None, class_name: str | None = None,
                   skipped: list[str] | None = None) -> list[dict]:
    """Write each image's heatmaps and overlays under ``output`` and ``explain.json`` (last): its entries.
    An unreadable image is appended to ``skipped`` (or raises if None)."""
    explainer = explainer_for(classifier, method, layer)
    if class_name is not None and class_name not in classifier.task.class_names:
        raise DlcvError(f"--class {class_name!r}: expected one of the model's classes "
                        f"({', '.join(classifier.task.class_names)})")
    chosen = classifier.task.class_names.index(class_name) if class_name is not None else None
    output = files.ensure_writable_dir(Path(output))
    root = _common_folder(paths)
    entries: list[dict] = []
    for start in range(0, len(paths), BATCH):  # a batch decoded at a time: memory bounded for any count
        batch_paths, images = _decoded(classifier, paths[start:start + BATCH], skipped)
        if not batch_paths:
            continue
        probabilities = classifier.predict_arrays(images)
        pairs = [(i, k) for i, row in enumerate(probabilities)
                 for k in ([chosen] if chosen is not None else classifier.task.explained_classes(row))]
        maps, _ = explainer.heatmaps(images[[i for i, _ in pairs]], [k for _, k in pairs])
        for (i, k), heatmap in zip(pairs, maps):
            entries.append(_write(output, root, batch_paths[i], images[i], heatmap, classifier.task.class_names[k],
                                  float(probabilities[i, k]), explainer))
        for i in sorted(set(range(len(batch_paths))) - {i for i, _ in pairs}):
            entries.append({"path": batch_paths[i], "class": None, "note": "no label predicted at or above its "
                                                                            "threshold: nothing to explain"})
    files.write_json(output / "explain.json", {
        "method": explainer.method, "layer": explainer.layer, "map_size": list(explainer.map_size),
        "input_size": list(explainer.input_size), "images": entries})
    return entries


def _decoded(classifier, paths: Sequence[str], skipped: list[str] | None) -> tuple[list[str], np.ndarray | None]:
    kept, images = [], []
    for path in paths:
        try:
            image = classifier.decode(path)
        except UnreadableImage as exc:
            if skipped is None:
                raise
            skipped.append(path)
            log.warning(f"skipped: {exc}")
            continue
        classifier.check_size(path, image)
        kept.append(path)
        images.append(image)
    return kept, (np.stack(images) if images else None)


def _common_folder(paths: Sequence[str]) -> str:
    folders = [os.path.dirname(os.path.abspath(path)) for path in paths]
    return os.path.commonpath(folders) if folders else os.getcwd()


def _file_stem(root: str, path: str, class_name: str) -> str:
    """The image's path under the common folder, then the class (made safe for a file name)."""
    relative = os.path.relpath(os.path.abspath(path), root)
    return f"{relative}.{re.sub(r'[^A-Za-z0-9._-]', '_', class_name)}"


def _write(output: Path, root: str, path: str, image: np.ndarray, heatmap: np.ndarray, class_name: str,
           probability: float, explainer: Explainer) -> dict:
    stem = _file_stem(root, path, class_name)
    heatmap_file, overlay_file = output / f"{stem}.npy", output / f"{stem}.png"
    heatmap_file.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic_path(heatmap_file) as tmp, open(tmp, "wb") as f:
        np.save(f, heatmap.astype(np.float32))
    caption = (f"{class_name} {probability:.2f}", f"{explainer.method} at {explainer.layer}")
    files.write_image(overlay_file, overlay(image, heatmap, caption))
    entry = {"path": path, "class": class_name, "probability": round(probability, 6), "method": explainer.method,
             "layer": explainer.layer, "map_size": list(explainer.map_size), "peak": peak(heatmap),
             "heatmap": os.path.relpath(heatmap_file, output), "overlay": os.path.relpath(overlay_file, output)}
    if not heatmap.any():
        entry["note"] = "no positive evidence for the class: the heatmap is all zeros"
    return entry


def overlay(image: np.ndarray, heatmap: np.ndarray, caption: Sequence[str] = ()) -> np.ndarray:
    """A BGR picture: ``image`` (uint8 RGB or grey, as the model saw it) scaled up to about
    :data:`OVERLAY_SIDE`, the heatmap over it (OpenCV's jet colours, red the most), the ``caption`` lines below
    (each wrapped to the picture's width: a long class or layer name is never cut off)."""
    import cv2

    scale = max(1, round(OVERLAY_SIDE / max(image.shape[:2])))
    height, width = image.shape[0] * scale, image.shape[1] * scale
    rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
    picture = cv2.resize(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), (width, height),
                         interpolation=cv2.INTER_NEAREST)
    top = float(heatmap.max())
    scaled = cv2.resize(heatmap / top if top > 0 else heatmap, (width, height), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(np.clip(scaled * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    weight = (0.15 + 0.5 * np.clip(scaled, 0, 1))[..., None]  # the image shows through where there is no evidence
    blended = np.clip(picture * (1 - weight) + colours * weight, 0, 255).astype(np.uint8)
    if not caption:
        return blended
    lines = [part for line in caption for part in wrapped(line, width - 8)]
    band = np.full((CAPTION_LINE * len(lines) + 8, width, 3), 255, np.uint8)
    for number, line in enumerate(lines, start=1):
        cv2.putText(band, line, (4, CAPTION_LINE * number), *CAPTION_FONT, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([blended, band])


def wrapped(text: str, width: int) -> list[str]:
    """``text`` as ASCII (OpenCV draws nothing else) in lines of at most ``width`` pixels in the caption
    font: broken at spaces, and a word wider than a line broken where it reaches the edge.

    >>> wrapped("panda 0.43", 256)
    ['panda 0.43']
    >>> wrapped("hirescam at block_6_expand_relu", 120)
    ['hirescam at', 'block_6_expand', '_relu']
    """
    import cv2

    def fits(line: str) -> bool:
        return cv2.getTextSize(line, *CAPTION_FONT, 1)[0][0] <= width

    lines: list[str] = []
    for word in text.encode("ascii", "backslashreplace").decode("ascii").split():
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and fits(joined):
            lines[-1] = joined
            continue
        while len(word) > 1 and not fits(word):  # the longest head of the word that fits, then the rest
            cut = max(n for n in range(1, len(word) + 1) if n == 1 or fits(word[:n]))
            lines.append(word[:cut])
            word = word[cut:]
        lines.append(word)
    return lines


def fold_heatmaps(parent: str | os.PathLike, items: Sequence[tuple[int, str]]) -> tuple[list[bytes | None], str]:
    """A k-fold run's images, each ``(fold, path)``, explained by the fold model that held it out (the class
    it predicts): each one's overlay as PNG bytes (None where the file cannot be read), and a line saying
    what they are (or why there are none)."""
    import cv2

    from .folds import fold_folder
    from .inference import load_classifier

    pictures: list[bytes | None] = [None] * len(items)
    said = "none drawn"
    for fold in sorted({fold for fold, _ in items}):
        classifier = load_classifier(fold_folder(parent, fold).model_file())
        try:
            explainer = explainer_for(classifier)
        except DlcvError as exc:
            return pictures, f"No heatmaps: {exc}."
        said = (f"Beside each image, where the fold model that held it out looks for the class it predicts: "
                f"{explainer.method} at layer {explainer.layer} (report.heatmaps).")
        chosen = [i for i, (k, _) in enumerate(items) if k == fold]
        kept, images = _decoded(classifier, [items[i][1] for i in chosen], skipped=[])
        if images is None:
            continue
        classes = [classifier.task.shown_class(row) for row in classifier.predict_arrays(images)]
        maps, _ = explainer.heatmaps(images, classes)
        for path, image, heatmap in zip(kept, images, maps):
            ok, encoded = cv2.imencode(".png", overlay(image, heatmap))
            pictures[next(i for i in chosen if items[i][1] == path)] = encoded.tobytes() if ok else None
    return pictures, said
