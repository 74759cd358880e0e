"""The Keras chapters' scripts (ch. 10-18): each is a config in ``configs/`` plus the book's flags.

A script parses its flags with :func:`recipe_parser`, turns them into config overrides and calls
:func:`train_recipe`, which is ``dlcv train`` — the same engine, outputs and resume support.

    parser = recipe_parser(__doc__)
    parser.add_argument("--output", "-o", help="where to write the loss/accuracy plot")
    run_script(lambda args: train_recipe(CONFIG, args, plot_to=args.output), parser)
"""
from __future__ import annotations

import argparse
import logging
import random
from dataclasses import replace
from pathlib import Path

from .. import app, files
from ..config import BACKENDS, PreprocessingConfig
from ..errors import DlcvError
from .script import script_parser

log = logging.getLogger(__name__)


def recipe_parser(description: str) -> argparse.ArgumentParser:
    """--set KEY=VALUE, --resume, --backend, --verbose, --seed; each script adds the book's own flags.

    The run folder is always ``output/<name>/`` (``--set output_dir=...`` moves it); a script's
    ``--output`` keeps the meaning the book gave it (a plot path, or a folder).
    """
    parser = script_parser(description, default_output=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override the recipe's config, e.g. --set epochs=5 (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run of this recipe")
    parser.add_argument("--backend", choices=BACKENDS, help="Keras backend")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's native logs")
    return parser


def train_recipe(config_path: Path, args: argparse.Namespace, overrides: list[str] = (),
                 plot_to: str | None = None):
    """Train the recipe's config (+ the script's and the user's overrides); optionally copy the plot."""
    return app.train(config_path, overrides=[f"seed={args.seed}", *overrides, *args.overrides], backend=args.backend,
                     resume=args.resume, verbose=args.verbose, plot_to=plot_to)


def train_dataset_recipe(config_path: Path, args: argparse.Namespace, overrides: list[str] = ()):
    """A recipe trained on ``--dataset``; with ``--model``, the trained model is also saved there (its
    suffix is checked before training starts)."""
    if args.model and not args.model.endswith((".h5", ".keras")):
        raise DlcvError(f"--model {args.model!r}: expected a .h5 or .keras file name")
    result = train_recipe(config_path, args, [f"dataset.path={args.dataset}", *overrides])
    if args.model:
        with files.atomic_path(args.model) as tmp:
            result.model.save(tmp)
        log.info(f"[INFO] model saved to {args.model}")
    return result


def label_random_images(model_path: str, dataset: str, output: Path, count: int, seed: int,
                        backend: str | None = None, verbose: bool = False) -> list:
    """shallownet_load.py: predict ``count`` random images of a folder and write each with its label."""
    import cv2

    from ..data.folder import list_labelled_images
    from ..images import read_image
    from ..runtime import start_keras

    paths, _, class_names = list_labelled_images(dataset)
    start_keras(backend, verbose)
    from ..inference import load_classifier

    chosen = random.Random(seed).sample(paths, min(count, len(paths)))
    classifier = load_classifier(model_path)
    if not classifier.has_run_metadata:  # a bare model file: as the book's script, resize to its input and
        height, width, channels = classifier.input_size  # name the classes after the dataset's folders
        if len(class_names) != len(classifier.class_names):
            raise DlcvError(f"{dataset!r} has {len(class_names)} classes but the model has "
                            f"{len(classifier.class_names)} outputs")
        classifier = replace(classifier, task=classifier.task.renamed(class_names),
                      preprocessing=PreprocessingConfig(width=width, height=height, channels=channels))
    predictions = classifier.predict_files(chosen, skipped=[])
    for i, prediction in enumerate(predictions):
        image = cv2.cvtColor(read_image(prediction.path, channels=3), cv2.COLOR_RGB2BGR)
        text = f"Label: {prediction.label} ({prediction.probability:.2f})"
        cv2.putText(image, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 255, 0), 2)
        files.write_image(output / f"{i:02d}_{prediction.label}.png", image)
        log.info(f"[INFO] {prediction.path}: {prediction.label} ({prediction.probability:.4f})")
    log.info(f"[INFO] wrote {len(predictions)} labelled images to {output}/")
    return predictions
