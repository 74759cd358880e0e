"""The Keras chapters' scripts (ch. 10-18): each is a config in ``configs/`` plus the book's flags.

A script parses its flags with :func:`recipe_parser`, turns them into config overrides and calls
:func:`train_recipe`, which is ``dlcv train`` — the same engine, outputs and resume support.

    parser = recipe_parser(__doc__)
    parser.add_argument("--output", "-o", help="where to write the loss/accuracy plot")
    run_script(lambda args: train_recipe(CONFIG, args, plot_to=args.output), parser)
"""
from __future__ import annotations

import argparse
import random
import shutil
from dataclasses import replace
from pathlib import Path

from .. import files
from ..config import PreprocessingConfig, load_config
from ..errors import DlcvError
from ..runtime import banner, import_keras, use_backend


def recipe_parser(description: str) -> argparse.ArgumentParser:
    """--set KEY=VALUE, --resume, --backend, --verbose, --seed; each script adds the book's own flags.

    The run folder is always ``output/<name>/`` (``--set output_dir=...`` moves it); a script's
    ``--output`` keeps the meaning the book gave it (a plot path, or a folder).
    """
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seed", type=int, default=42, help="random seed, for reproducible runs")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override the recipe's config, e.g. --set epochs=5 (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run of this recipe")
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"], help="Keras backend")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's native logs")
    return parser


def train_recipe(config_path: Path, args: argparse.Namespace, overrides: list[str] = (),
                 plot_to: str | None = None):
    """Train the recipe's config (+ the script's and the user's overrides); optionally copy the plot."""
    config = load_config(config_path, [f"seed={args.seed}", *overrides, *args.overrides])
    use_backend(args.backend or config.backend)
    import_keras(verbose=args.verbose)
    print(banner(), flush=True)
    from ..training import train

    result = train(config, resume=args.resume)
    print(f"\n{config.name}: test accuracy {result.test_accuracy:.4f} (book: "
          f"{', '.join(f'{k} {v}' for k, v in (config.book or {}).items()) or 'not stated'})")
    print(result.evaluation.report_text)
    if plot_to and "plot" in result.artefacts:
        with files.atomic_path(plot_to) as tmp:
            shutil.copyfile(result.artefacts["plot"], tmp)
        print(f"[INFO] loss/accuracy plot: {plot_to}")
    print(f"[INFO] run written to {result.run_dir}/")
    return result


def train_dataset_recipe(config_path: Path, args: argparse.Namespace, overrides: list[str] = ()):
    """A recipe trained on ``--dataset``; with ``--model``, the trained model is also saved there (its
    suffix is checked before training starts)."""
    if args.model and not args.model.endswith((".h5", ".keras")):
        raise ValueError(f"--model {args.model!r}: expected a .h5 or .keras file name")
    result = train_recipe(config_path, args, [f"dataset.path={args.dataset}", *overrides])
    if args.model:
        save_model_copy(result, args.model)
    return result


def save_model_copy(result, path: str) -> None:
    """shallownet_train.py's --model: the trained model, also at the path the user named (the script
    checks the .h5 / .keras suffix before training)."""
    with files.atomic_path(path) as tmp:
        result.model.save(tmp)
    print(f"[INFO] model saved to {path}")


def label_random_images(model_path: str, dataset: str, output: Path, count: int, seed: int,
                        backend: str | None = None, verbose: bool = False) -> list:
    """shallownet_load.py: predict ``count`` random images of a folder and write each with its label."""
    use_backend(backend)
    import_keras(verbose=verbose)
    import cv2

    from ..data.folder import list_labelled_images
    from ..data.images import read_image
    from ..inference import load_run

    paths, _, class_names = list_labelled_images(dataset)
    chosen = random.Random(seed).sample(paths, min(count, len(paths)))
    run = load_run(model_path)
    if not run.has_run_metadata:  # a bare model file: as the book's script, resize to its input and
        height, width, channels = run.input_size  # name the classes after the dataset's folders
        if len(class_names) != len(run.class_names):
            raise DlcvError(f"{dataset!r} has {len(class_names)} classes but the model has "
                            f"{len(run.class_names)} outputs")
        run = replace(run, class_names=class_names,
                      preprocessing=PreprocessingConfig(width=width, height=height, channels=channels))
    predictions = run.predict_files(chosen, skipped=[])
    for i, prediction in enumerate(predictions):
        image = cv2.cvtColor(read_image(prediction.path, channels=3), cv2.COLOR_RGB2BGR)
        text = f"Label: {prediction.label} ({prediction.probability:.2f})"
        cv2.putText(image, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 255, 0), 2)
        files.write_image(output / f"{i:02d}_{prediction.label}.png", image)
        print(f"[INFO] {prediction.path}: {prediction.label} ({prediction.probability:.4f})")
    print(f"[INFO] wrote {len(predictions)} labelled images to {output}/")
    return predictions
