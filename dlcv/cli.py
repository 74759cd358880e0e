"""The ``dlcv`` command: train, evaluate and predict, all driven by experiment configs.

    dlcv train                                   # the quickstart (scikit-learn digits, MLP, Nesterov SGD)
    dlcv train configs/keras_mnist.yaml --set epochs=5
    dlcv evaluate --model output/quickstart/model.h5
    dlcv predict --model output/quickstart/model.h5 digits/

Mistakes in what the user asked for (a bad config, a missing file, a wrong flag) print one line and exit
with code 2; nothing heavy is imported before the config has been validated.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .config import ExperimentConfig, load_config
from .errors import DlcvError, TrainingStopped
from .runtime import banner, import_keras, use_backend

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except DlcvError as exc:
        print(f"dlcv: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingStopped as exc:
        print(f"dlcv: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dlcv: interrupted; `dlcv train CONFIG --resume` continues from the last finished epoch",
              file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlcv", description="Train, evaluate and use image classifiers "
                                     "(Deep Learning for Computer Vision with Python, on Keras 3).")
    parser.add_argument("--version", action="version", version=f"dlcv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    runtime = argparse.ArgumentParser(add_help=False)
    runtime.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                         help="Keras backend (default: the config's, else $KERAS_BACKEND, else tensorflow)")
    runtime.add_argument("--verbose", action="store_true",
                         help="show TensorFlow's native start-up logging and library warnings")
    overrides = argparse.ArgumentParser(add_help=False)
    overrides.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                           help="override a config value, e.g. --set optimizer.learning_rate=0.05 "
                                "(repeatable; validated like the file)")

    train = commands.add_parser("train", parents=[runtime, overrides], help="train a model from a config",
                                description="Train a model from an experiment config and write its run "
                                            "folder (models, history, plot, report).")
    train.add_argument("config", nargs="?", help="YAML experiment config (default: the quickstart)")
    train.add_argument("--resume", action="store_true",
                       help="continue an interrupted run of this config from its last finished epoch")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", parents=[runtime, overrides],
                                   help="re-evaluate a saved model on a config's test split")
    evaluate.add_argument("config", nargs="?",
                          help="YAML config whose test split to use (default: the run's config.yaml)")
    evaluate.add_argument("--model", required=True, help="saved model (.h5 or .keras)")
    evaluate.set_defaults(handler=_evaluate)

    predict = commands.add_parser("predict", parents=[runtime], help="label images with a saved model")
    predict.add_argument("--model", required=True, help="saved model (.h5 or .keras) inside a run folder")
    predict.add_argument("images", nargs="+", help="image files or folders of images")
    predict.add_argument("--batch-size", type=_positive_int, default=64, help="images per batch (64)")
    predict.set_defaults(handler=_predict)

    classify = commands.add_parser("classify", parents=[runtime],
                                   help="label photos with a network pre-trained on ImageNet (ch. 20)",
                                   description="Print each image's top classes from a keras.applications "
                                               "network and write a copy with the top one drawn on it.")
    classify.add_argument("images", nargs="+", help="image files or folders of images")
    classify.add_argument("--network", default="vgg16",
                          help="vgg16, vgg19, resnet50 (224x224), inception_v3 or xception (299x299)")
    classify.add_argument("--weights", default="imagenet",
                          help="'imagenet' (downloaded once into ~/.keras/models), a weights .h5 file, or "
                               "'none' (random)")
    classify.add_argument("--labels", help="class index JSON (default: Keras's ImageNet index, cached)")
    classify.add_argument("--top", type=_positive_int, default=5, help="classes to print per image (5)")
    classify.add_argument("--output", "-o", default="output/classify", help="folder for the labelled copies")
    classify.set_defaults(handler=_classify)

    lr = commands.add_parser("lr", parents=[runtime, overrides], help="plot a config's learning-rate schedule",
                             description="Plot the learning rate per epoch for a config's schedule.")
    lr.add_argument("config", nargs="?", help="YAML experiment config (default: the quickstart)")
    lr.add_argument("--output", "-o", default=None, help="PNG to write (default: <run folder>/learning_rate.png)")
    lr.add_argument("--steps-per-epoch", type=_positive_int,
                    help="batches per epoch (default: counted from the config's training split)")
    lr.set_defaults(handler=_lr)

    data = commands.add_parser("data", help="dataset tools: build an HDF5 store")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    build = data_commands.add_parser(
        "build", help="decode and preprocess a dataset once into an HDF5 store",
        description="Decode and preprocess a dataset once into an HDF5 store that training reads with "
                    "dataset: {name: hdf5, path: STORE}.")
    build.add_argument("source", help="a <class>/<image> folder, or a dataset name: digits, mnist, cifar10")
    build.add_argument("--output", "-o", required=True, help="the store to write (.h5)")
    build.add_argument("--width", type=_positive_int, help="resize to this width")
    build.add_argument("--height", type=_positive_int, help="resize to this height")
    build.add_argument("--channels", type=int, choices=[1, 3], help="1 = greyscale, 3 = RGB")
    build.add_argument("--resize", choices=["simple", "aspect_aware", "pad"], default="simple",
                       help="simple ignores the aspect ratio; aspect_aware centre-crops; pad pads the short side")
    build.add_argument("--chunk-size", type=_positive_int, default=1024, help="images decoded per chunk")
    build.set_defaults(handler=_data_build)

    models = commands.add_parser("models", parents=[runtime], help="list the registered model builders")
    models.set_defaults(handler=_models)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _start(args: argparse.Namespace, config: ExperimentConfig | None = None):
    """Pick the backend, import Keras quietly and print the banner."""
    use_backend(args.backend or (config.backend if config else None))
    keras = import_keras(verbose=args.verbose)
    print(banner(), flush=True)
    return keras


def _train(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    _start(args, config)
    from .training import train

    result = train(config, resume=args.resume)
    print(f"\ntest accuracy {result.test_accuracy:.4f}  (loss {result.evaluation.loss:.4f}) "
          f"in {result.seconds:.1f} s")
    if config.book:
        print("book: " + ", ".join(f"{k} {v}" for k, v in config.book.items()))
    print(result.evaluation.report_text)
    if not result.artefacts:  # a non-chief worker of a multi-worker run
        print(f"worker done; the chief writes the run folder {result.run_dir}/")
        return 0
    print(f"run written to {result.run_dir}/")
    width = max(len(name) for name in result.artefacts)
    for name, path in sorted(result.artefacts.items()):
        print(f"  {name:<{width}}  {path}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    config_path = args.config or Path(args.model).parent / "config.yaml"
    config = load_config(config_path, args.overrides)
    _start(args, config)
    from .inference import load_run
    from .training import prepare_data
    from .evaluation import evaluate_model

    run = load_run(args.model)
    test = prepare_data(config).splits.test
    if list(test.class_names) != list(run.class_names):
        raise DlcvError(f"the config's classes {test.class_names} differ from the model's {run.class_names}")
    evaluation = evaluate_model(run.model, test, config.batch_size)
    print(f"{args.model} on the test split of {config.dataset.name} ({len(test.labels)} images, "
          f"seed {config.seed}): accuracy {evaluation.accuracy:.4f}, loss {evaluation.loss:.4f}")
    print(evaluation.report_text)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .inference import expand_image_paths, load_run

    paths = expand_image_paths(args.images)  # fail on a missing path before importing Keras
    _start(args)
    run = load_run(args.model)
    skipped: list[str] = []
    predictions = run.predict_files(paths, batch_size=args.batch_size, skipped=skipped)
    for p in predictions:
        print(f"{p.path}\t{p.label}\t{p.probability:.4f}")
    if skipped:
        print(f"dlcv: warning: skipped {len(skipped)} unreadable file(s): {', '.join(skipped)}",
              file=sys.stderr)
    if not predictions:
        raise DlcvError("none of the given files could be read as an image")
    return 0


def _classify(args: argparse.Namespace) -> int:
    from .files import ensure_writable_dir
    from .recipes.case_studies import classify_images

    output = ensure_writable_dir(args.output)
    weights = None if args.weights == "none" else args.weights
    classify_images(args.images, args.network, weights, output, args.labels, args.top, args.backend,
                    args.verbose)
    return 0


def _lr(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    _start(args, config)
    from .training.schedules import build_schedule, plot_learning_rates

    steps = args.steps_per_epoch
    if steps is None:
        from .training import prepare_data

        steps = -(-len(prepare_data(config).splits.train.labels) // config.batch_size)
    schedule = build_schedule(config.schedule, config.optimizer.learning_rate, steps, config.epochs)
    output = Path(args.output) if args.output else config.run_dir / "learning_rate.png"
    rates = plot_learning_rates(schedule, steps, config.epochs, output,
                                f"{config.name}: {config.schedule.name} schedule, {steps} batches per epoch")
    for epoch, rate in enumerate(rates, start=1):
        print(f"epoch {epoch:>4}  lr {rate:.6g}")
    print(f"wrote {output}")
    return 0


def _data_build(args: argparse.Namespace) -> int:
    import warnings

    from .config import PreprocessingConfig
    from .data import DATASETS
    from .data.loader import SkippedImagesWarning
    from .data.store import build_store

    if not Path(args.source).is_dir() and args.source not in DATASETS:
        raise DlcvError(f"source {args.source!r}: expected an image folder or one of "
                        f"{', '.join(n for n in sorted(DATASETS) if n not in ('folder', 'hdf5'))}")
    if not str(args.output).endswith((".h5", ".hdf5")):
        raise DlcvError(f"--output {args.output!r}: expected a .h5 file name")
    preprocessing = PreprocessingConfig(width=args.width, height=args.height, channels=args.channels,
                                        resize=args.resize)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedImagesWarning)
        info = build_store(args.source, args.output, preprocessing, chunk_size=args.chunk_size)
    for warning in caught:
        print(f"dlcv: warning: {warning.message}", file=sys.stderr)
    height, width, channels = info.shape
    print(f"wrote {info.path}: {info.count} images of {width}x{height}x{channels}, "
          f"{len(info.class_names)} classes ({', '.join(info.class_names)})")
    return 0


def _models(args: argparse.Namespace) -> int:
    _start(args)
    from .models import MODELS

    for name, builder in sorted(MODELS.items()):
        summary = (builder.__doc__ or "").strip().splitlines()[0] if builder.__doc__ else ""
        print(f"{name:<16} {summary}")
    return 0
