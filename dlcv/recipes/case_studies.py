"""The case-study scripts (ch. 20–22): what each book-named script does, so the scripts stay a page of
flags. Training goes through the engine (``train_recipe``); these are the steps around it.

    classify_images(["beagle.jpg"], "vgg16", weights="imagenet", output=Path("output/classify"))
"""
from __future__ import annotations

import os
from pathlib import Path

from .. import files
from ..errors import DlcvError
from ..runtime import banner, import_keras, use_backend


def _start_keras(backend: str | None, verbose: bool = False) -> None:
    use_backend(backend)
    import_keras(verbose=verbose)
    print(banner(), flush=True)


def classify_images(images: list[str], network: str, weights: str | None, output: Path,
                    class_index: str | None = None, top: int = 5, backend: str | None = None,
                    verbose: bool = False) -> dict[str, list]:
    """ch. 20: the top-``top`` ImageNet classes of each image, printed; the top-1 drawn on a copy."""
    from ..data.images import read_image
    from ..inference import expand_image_paths
    from ..pretrained import PretrainedClassifier, draw_guess, get_network

    get_network(network)  # an unknown name fails before Keras is imported
    paths = expand_image_paths(images)
    _start_keras(backend, verbose)
    classifier = PretrainedClassifier.load(network, weights, class_index)
    results = {}
    for path in paths:
        image = read_image(path, channels=3)
        guesses = classifier.classify(image, top)
        print(f"{path}  ({network}, {classifier.network.size}x{classifier.network.size})")
        for rank, guess in enumerate(guesses, start=1):
            print(f"  {rank}. {guess.label:<28} {guess.probability * 100:6.2f}%  ({guess.wnid})")
        drawn = output / f"{Path(path).stem}_{network}.jpg"
        files.write_image(drawn, draw_guess(image, guesses[0]))
        results[path] = guesses
    print(f"[INFO] wrote {len(results)} labelled image(s) to {output}/")
    return results


def generate_captcha_files(output: Path, count: int, length: int, seed: int) -> list[Path]:
    """ch. 21's download_images.py, offline: synthetic captchas whose file names carry the answer."""
    from ..casestudies.captcha import write_captchas

    paths = write_captchas(output, count, length, seed)
    print(f"[INFO] wrote {len(paths)} captchas to {output}/ (<index>_<digits>.png)")
    return paths


def annotate_captcha_files(captchas: str, output: str, from_names: bool, length: int):
    """ch. 21's annotate.py: file each segmented digit under its label, typed or from the file name."""
    from ..casestudies.captcha.annotate import annotate, keyboard_labels, labels_from_name, list_captchas

    summary = annotate(list_captchas(captchas), output, labels_from_name if from_names else keyboard_labels,
                       length)
    total = sum(summary.written.values())
    print(f"[INFO] wrote {total} digit crops to {output}/: "
          + ", ".join(f"{label} {n}" for label, n in sorted(summary.written.items())))
    if summary.skipped:
        print(f"[INFO] skipped {len(summary.skipped)} captcha(s) not segmented into {length} characters")
    return summary


def read_captcha_files(model: str, captchas: list[str], output: Path, length: int,
                       backend: str | None = None, verbose: bool = False) -> float | None:
    """ch. 21's test_model.py: read each captcha, print it, draw it; the accuracy where names carry answers."""
    from ..casestudies.captcha import CaptchaReader
    from ..casestudies.captcha.synthetic import text_from_name
    from ..data.images import read_image
    from ..inference import expand_image_paths, load_run

    paths = expand_image_paths(captchas)
    _start_keras(backend, verbose)
    reader = CaptchaReader(load_run(model), length)
    right = known = 0
    for path in paths:
        image = read_image(path, channels=1)
        reading = reader.read(image)
        truth = text_from_name(path)
        verdict = "" if truth is None else ("  ok" if reading.text == truth else f"  WRONG (is {truth})")
        print(f"{path}\t{reading.text or '(no characters found)'}{verdict}")
        files.write_image(output / f"{Path(path).stem}_read.png", reader.draw(image, reading))
        if truth is not None:
            known, right = known + 1, right + (reading.text == truth)
    if known:
        print(f"[INFO] {right}/{known} captchas read fully correctly ({right / known:.2%})")
    print(f"[INFO] annotated captchas in {output}/")
    return right / known if known else None


def detect_smiles(model: str, source: str | int, output: Path, display: bool = False,
                  max_frames: int | None = None, backend: str | None = None, verbose: bool = False):
    """ch. 22's detect_smile.py: label the faces of every frame and write the annotated video."""
    from ..casestudies.smiles import SmileDetector, annotate_video
    from ..inference import load_run

    if isinstance(source, str) and not os.path.isfile(source):  # before the slow Keras import
        raise DlcvError(f"video file not found: {source!r}")
    _start_keras(backend, verbose)
    summary = annotate_video(SmileDetector(load_run(model)), source, output, display, max_frames)
    counts = ", ".join(f"{label} {n}" for label, n in sorted(summary.labels.items())) or "none"
    print(f"[INFO] {summary.frames} frames, {summary.faces} faces ({counts}); wrote {summary.output}")
    return summary
