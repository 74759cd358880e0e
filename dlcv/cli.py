"""The ``dlcv`` command: parse the arguments, call the application layer (:mod:`dlcv.app`), exit.

    dlcv train                                   # the quickstart (scikit-learn digits, MLP, Nesterov SGD)
    dlcv train configs/keras_mnist.yaml --set epochs=5
    dlcv evaluate --model output/quickstart/model.h5
    dlcv predict --model output/quickstart/model.h5 digits/ --format csv --top 3
    dlcv export output/quickstart --format saved_model onnx litert
    dlcv tune configs/tune_digits.yaml --trials 20 --retrain

A mistake in what the user asked for (a bad config, a missing file, a wrong flag) prints one line and
exits with code 2; work that stopped for a reason the user can fix (NaN loss, a full disk) one line and
code 1; anything else is a bug and keeps its traceback. Nothing heavy is imported before the config
has been validated.
"""
from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable, Sequence

from . import __version__, app
from .casestudies.pretrained import NETWORKS
from .config import BACKENDS, DatasetConfig, PreprocessingConfig, choices_of
from .console import printable
from .data.audit import AUDIT_FORMATS, MAX_DISTANCE, NEAR_DISTANCE
from .errors import EXIT_PREEMPTED, EXIT_STOPPED, EXIT_USAGE, DlcvError, Preempted, Stopped
from .export.formats import FORMATS
from .heatmaps import METHODS as HEATMAP_METHODS
from .images import max_pixels
from .predictions import WRITERS
from .report import MISTAKES_SHOWN
from .run_table import COLUMNS, TABLE_FORMATS
from .tta import TTA_MODES
from .tuning.study import STUDY_FILE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def action():
        max_pixels()  # $DLCV_MAX_PIXELS that is not a whole number: one line, before any command's work
        return args.handler(args)
    # predict's and runs' standard output is their product: everything else they say goes to standard error
    return run_action(action, "dlcv", info_to_stderr=args.command in ("predict", "runs"))


def run_action(action: Callable[[], object], name: str, info_to_stderr: bool = False) -> int:
    """Run ``action`` for a command or script called ``name``, printing what dlcv logs meanwhile
    (:func:`dlcv.console.console`; information on stderr with ``info_to_stderr``, where stdout is the
    command's product); the exit status, with the user-facing failures printed as one line (anything
    else propagates with its traceback)."""
    from .console import console

    try:
        with console(info_to_stderr):
            action()
    except DlcvError as exc:
        print(f"{name}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:  # anything else is not the user's to fix: its traceback
            raise
        # a path the user gave that the file system refuses to look up, wherever it is first used
        print(f"{name}: error: {one_line(DlcvError(f'{exc.filename!r}: {exc.strerror}'))}; expected a shorter path",
              file=sys.stderr)
        return EXIT_USAGE
    except Stopped as exc:
        print(f"{name}: {one_line(exc)}", file=sys.stderr)
        return EXIT_STOPPED
    except Preempted as exc:
        print(f"{name}: {one_line(exc)}", file=sys.stderr)
        return EXIT_PREEMPTED
    except KeyboardInterrupt:
        print(f"{name}: interrupted; run the same command with --resume to continue after the last committed "
              "epoch", file=sys.stderr)
        return 130
    return 0


MESSAGE_CHARACTERS = 2000
"""The most of a user error's message printed: a 50 MB path in it is cut, not dumped to the terminal."""


def one_line(exc: BaseException) -> str:
    """A user error's message as printed: escaped (:func:`~dlcv.console.printable`), its middle cut past
    :data:`MESSAGE_CHARACTERS`."""
    text = printable(str(exc))
    if len(text) <= MESSAGE_CHARACTERS:
        return text
    keep = MESSAGE_CHARACTERS // 2
    return f"{text[:keep]} [... {len(text) - 2 * keep:,} characters cut ...] {text[-keep:]}"


def add_tta_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tta", choices=TTA_MODES, default="none",
                        help="test-time augmentation: flip = the mean of each image's and its mirror's probabilities")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlcv", description="Train, evaluate and use image classifiers "
                                     "(Deep Learning for Computer Vision with Python, on Keras 3).")
    parser.add_argument("--version", action="version", version=f"dlcv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    runtime = argparse.ArgumentParser(add_help=False)
    runtime.add_argument("--backend", choices=BACKENDS,
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
                       help="continue an interrupted run of this config where it stopped: within the epoch "
                            "after SIGTERM, else after its last committed epoch")
    train.add_argument("--folds", type=int, metavar="K",
                       help="k-fold cross-validation: K runs under <name>/folds/, each scored on the fold it did "
                            "not train on, and oof.csv (the same as --set dataset.folds=K)")
    train.set_defaults(handler=lambda a: app.train(a.config, overrides=a.overrides, backend=a.backend,
                                                   resume=a.resume, verbose=a.verbose, folds=a.folds))

    serve = commands.add_parser(
        "serve", parents=[runtime], help="serve a model over HTTP, with request batching and metrics",
        description="Serve a run folder, its model file, a k-fold run or an export (SavedModel, ONNX, LiteRT) over "
                    "HTTP: POST /v1/predict (multipart files, a raw image body, or JSON base64), GET /healthz, "
                    "/readyz, /metadata, /metrics. Concurrent requests are batched; SIGTERM drains and exits 0. "
                    "One process, one model: to scale out, run several behind a load balancer.")
    serve.add_argument("model", metavar="RUN_OR_EXPORT", help="a run folder, a .keras/.h5 file, or an export")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    serve.add_argument("--max-batch", type=int, default=32, help="most images per model call (default 32)")
    serve.add_argument("--max-wait-ms", type=float, default=5.0,
                       help="how long a batch waits for more images (default 5)")
    serve.add_argument("--max-queue", type=int, default=256,
                       help="most images waiting; past it, 503 with Retry-After (default 256)")
    serve.add_argument("--max-body-mb", type=float, default=20.0, help="largest request body (default 20); 413 past it")
    serve.add_argument("--max-pixels", type=int,
                       help="largest image (pixels, from its header); default: the run's dataset.max_pixels, "
                            "$DLCV_MAX_PIXELS, else 89,478,485")
    serve.add_argument("--drain-s", type=float, default=25.0,
                       help="on SIGTERM, how long requests in flight may take to finish (default 25)")
    serve.add_argument("--no-reject", action="store_true",
                       help="give every image its top label, even where the run's reject rule says unknown")
    serve.set_defaults(handler=lambda a: app.serve(
        a.model, host=a.host, port=a.port, max_batch=a.max_batch, max_wait_ms=a.max_wait_ms, max_queue=a.max_queue,
        max_body_mb=a.max_body_mb, max_pixels=a.max_pixels, drain_s=a.drain_s, reject=not a.no_reject,
        backend=a.backend, verbose=a.verbose))

    evaluate = commands.add_parser("evaluate", parents=[runtime, overrides],
                                   help="re-evaluate a saved model on a config's test split")
    evaluate.add_argument("config", nargs="?",
                          help="YAML config whose test split to use (default: the run's config.yaml)")
    evaluate.add_argument("--model", required=True, help="a run folder, its model (.h5 / .keras) or a k-fold run")
    add_tta_option(evaluate)
    evaluate.add_argument("--unknown", metavar="DIR",
                          help="a folder of photos of none of the run's classes: how many are turned away, and how "
                               "well the calibrated top probability tells them from the test split (AUROC)")
    evaluate.add_argument("--format", dest="output_format", choices=("text", "json"), default="text",
                          help="--unknown's figures as text or JSON (default text)")
    evaluate.set_defaults(handler=lambda a: app.evaluate(a.model, config_path=a.config, overrides=a.overrides,
                                                         backend=a.backend, verbose=a.verbose, tta=a.tta,
                                                         unknown=a.unknown, output_format=a.output_format))

    predict = commands.add_parser("predict", parents=[runtime], help="label images with a saved or exported model",
                                  description="Label images, streamed batch by batch; exit status 1 when "
                                              "some files could not be read (each is named).")
    predict.add_argument("--model", required=True,
                         help="a run folder, its model (.h5 / .keras), a k-fold run, or an export (SavedModel "
                              "folder, .onnx, .tflite)")
    predict.add_argument("images", nargs="+", help="image files or folders of images")
    predict.add_argument("--batch-size", type=positive_int, default=64, help="images per batch (64)")
    predict.add_argument("--format", dest="output_format", choices=list(WRITERS), default="text",
                         help="text: path, label, probability tab-separated (multi-label: path, labels, their "
                              "probabilities); csv with a header; json: one array of records")
    predict.add_argument("--top", type=positive_int, default=1,
                         help="also give the K most probable labels (a multi-label image keeps its label set)")
    predict.add_argument("--output", "-o", help="write to this file (atomically) instead of standard output")
    add_tta_option(predict)
    predict.add_argument("--no-reject", action="store_true",
                         help="give every image its top label, even where the run's reject rule says unknown")
    predict.set_defaults(handler=lambda a: app.predict(
        a.model, images=a.images, batch_size=a.batch_size, backend=a.backend, verbose=a.verbose,
        output_format=a.output_format, top=a.top, output=a.output, tta=a.tta, reject=not a.no_reject))

    explain = commands.add_parser(
        "explain", parents=[runtime], help="heatmaps of where a trained model looks in each image",
        description="For each image: an overlay PNG (the image as the model saw it, the heatmap of the class "
                    "over it) and the heatmap as .npy, named after the image's path and the class, and "
                    "explain.json listing each with its peak. TensorFlow backend.")
    explain.add_argument("--model", required=True, help="a run folder or its model (.keras / .h5); not an export")
    explain.add_argument("images", nargs="+", help="image files or folders of images")
    explain.add_argument("--output", "-o", required=True, help="the folder to write the heatmaps into")
    explain.add_argument("--method", choices=list(HEATMAP_METHODS), default=HEATMAP_METHODS[0],
                         help="hirescam (default): gradient times activation at each place; gradcam: each "
                              "channel weighted by its mean gradient; layercam: the positive gradients only")
    explain.add_argument("--layer", help="the convolutional layer whose map to use (default: the last whose map "
                                         "is at least 7x7; named in explain.json)")
    explain.add_argument("--class", dest="class_name", metavar="NAME",
                         help="explain this class in every image (default: the predicted label(s))")
    explain.set_defaults(handler=lambda a: app.explain(
        a.model, images=a.images, output=a.output, method=a.method, layer=a.layer, class_name=a.class_name,
        backend=a.backend, verbose=a.verbose))

    runs = commands.add_parser("runs", help="a table of every run under a folder (and runs.html)",
                               description="List every run under OUTPUT_DIR (any depth): finished runs with "
                                           "their test scores, interrupted and unfinished ones said as such; "
                                           "also write OUTPUT_DIR/runs.html linking to each run's report.")
    runs.add_argument("output_dir", nargs="?", default="output", help="the folder to look in (default: output)")
    runs.add_argument("--format", dest="output_format", choices=list(TABLE_FORMATS), default="text")
    runs.add_argument("--sort", default="date", metavar="COLUMN",
                      help=f"{', '.join(COLUMNS)} (default: date, newest first)")
    runs.add_argument("--ascending", action="store_true", help="sort lowest first")
    runs.set_defaults(handler=lambda a: app.list_runs(a.output_dir, output_format=a.output_format, sort=a.sort,
                                                      ascending=a.ascending))

    report = commands.add_parser("report", parents=[runtime], help="write a run's report.html again",
                                 description="Write a finished run's report.html (config, curves, per-class "
                                             "scores, confusion matrix, the mistakes with their images) again, "
                                             "its model re-scored on its test split; a k-fold run's from its "
                                             "folds' figures and the label errors dlcv data issues found.")
    report.add_argument("run", help="a finished run folder (with results.json), or a k-fold run's")
    report.add_argument("--mistakes", type=positive_int, metavar="N",
                        help="misclassified images to show at most (default: the config's report.mistakes, "
                             f"{MISTAKES_SHOWN})")
    report.set_defaults(handler=lambda a: app.report(a.run, mistakes=a.mistakes, backend=a.backend,
                                                     verbose=a.verbose))

    export = commands.add_parser("export", parents=[runtime], help="export a trained model for serving",
                                 description="Write a run's model as a SavedModel (TensorFlow Serving), ONNX "
                                             "and/or LiteRT file taking uint8 images, each loaded back in its "
                                             "runtime and checked against Keras (exit 1 and nothing written "
                                             "if one differs).")
    export.add_argument("model", help="a run folder (its model.keras) or a .keras / .h5 file")
    export.add_argument("--format", dest="formats", nargs="+", required=True, action="extend",
                        choices=list(FORMATS), help="one or more formats")
    export.add_argument("--output", "-o", help="the export folder (default: <run folder>/export)")
    export.add_argument("--check-images", nargs="+", default=[], metavar="IMAGE",
                        help="images (or folders) to check parity on when the run's test data is not here")
    export.add_argument("--quantize", nargs="?", const="dynamic", choices=("dynamic", "int8"),
                        help="dynamic (the default): LiteRT with int8 weights; int8: LiteRT and ONNX in full "
                             "integer, calibrated on training images; judged by agreement with Keras's labels")
    export.add_argument("--calibration-count", type=positive_int, default=200,
                        help="int8: training images to calibrate on (default 200, stratified, seeded)")
    export.add_argument("--calibration-method", choices=("minmax", "entropy", "percentile"), default="minmax",
                        help="int8, ONNX: how activation ranges are chosen (default minmax)")
    export.add_argument("--calibration-images", nargs="+", default=[], metavar="IMAGE",
                        help="int8: images (or folders) to calibrate on when the run's training data is not here")
    export.add_argument("--min-agreement", type=float, default=0.97,
                        help="a quantized export agreeing with Keras on fewer labels fails (default 0.97)")
    export.add_argument("--allow-drop", action="store_true",
                        help="write a quantized export below --min-agreement anyway (and say so)")
    export.add_argument("--force", action="store_true", help="replace an existing, non-empty --output folder")
    export.set_defaults(handler=lambda a: app.export(
        a.model, formats=a.formats, output=a.output, check_images=a.check_images, quantize=a.quantize, force=a.force,
        backend=a.backend, verbose=a.verbose, calibration_count=a.calibration_count,
        calibration_method=a.calibration_method, calibration_images=a.calibration_images,
        min_agreement=a.min_agreement, allow_drop=a.allow_drop))

    classify = commands.add_parser("classify", parents=[runtime],
                                   help="label photos with a network pre-trained on ImageNet (ch. 20)",
                                   description="Print each image's top classes from a keras.applications "
                                               "network and write a copy with the top one drawn on it.")
    classify.add_argument("images", nargs="+", help="image files or folders of images")
    classify.add_argument("--network", default="vgg16",  # an unknown one: the library's own line
                          help=", ".join(f"{name} ({n.native_size}x{n.native_size})" for name, n in NETWORKS.items()))
    classify.add_argument("--weights", default="imagenet",
                          help="'imagenet' (downloaded once into ~/.keras/models), a weights .h5 file, or "
                               "'none' (random)")
    classify.add_argument("--labels", help="class index JSON (default: Keras's ImageNet index, cached)")
    classify.add_argument("--top", type=positive_int, default=5, help="classes to print per image (5)")
    classify.add_argument("--output", "-o", default="output/classify", help="folder for the labelled copies")
    classify.set_defaults(handler=lambda a: app.classify(
        a.images, network=a.network, weights=None if a.weights == "none" else a.weights, output=a.output,
        labels=a.labels, top=a.top, backend=a.backend, verbose=a.verbose))

    tune = commands.add_parser(
        "tune", parents=[runtime, overrides], help="search a config's hyperparameters (Optuna), on validation",
        description="Run trials of a config with values drawn from its search: section, each an ordinary "
                    "training run judged on the validation split (the test split is never read), in "
                    "output/<name>/trials/; write best.yaml, trials.csv, plots and a summary. The study lives "
                    f"in output/<name>/{STUDY_FILE} unless --storage names a shared database; the same command "
                    "again continues it.")
    tune.add_argument("config", help="YAML experiment config with a search: section")
    tune.add_argument("--trials", type=positive_int,
                      help="finished trials the study should have in all (default: search.trials)")
    tune.add_argument("--storage", metavar="URL",
                      help="the study's database: sqlite:///FILE, postgresql://USER:PASSWORD@HOST/DB or "
                           f"mysql://... (default: sqlite:///output/<name>/{STUDY_FILE})")
    tune.add_argument("--study", dest="study_name", metavar="NAME",
                      help="the study's name (default: the config's name)")
    tune.add_argument("--retrain", action="store_true",
                      help="then train best.yaml and the config as written on the same split, and report their "
                           "test accuracy")
    tune.set_defaults(handler=lambda a: app.tune(
        a.config, overrides=a.overrides, backend=a.backend, trials=a.trials, storage=a.storage,
        study_name=a.study_name, retrain=a.retrain, verbose=a.verbose))

    lr = commands.add_parser("lr", parents=[runtime, overrides],
                             help="plot a config's learning-rate schedule, or find a rate (--find)",
                             description="Plot the learning rate per epoch for a config's schedule; with --find, "
                                         "run a learning-rate range test and suggest a rate.")
    lr.add_argument("config", nargs="?", help="YAML experiment config (default: the quickstart)")
    lr.add_argument("--output", "-o", default=None, help="PNG to write (default: <run folder>/learning_rate.png)")
    lr.add_argument("--steps-per-epoch", type=positive_int,
                    help="batches per epoch (default: counted from the config's training split)")
    lr.add_argument("--find", action="store_true",
                    help="run Smith's range test instead: the loss as the rate grows per batch, and a "
                         "suggested rate (output: <run folder>/lr_find.png)")
    lr.add_argument("--start", type=positive_float, default=1e-7, help="--find: the first rate (1e-7)")
    lr.add_argument("--end", type=positive_float, default=10.0, help="--find: the last rate (10)")
    lr.add_argument("--steps", type=positive_int, default=100, help="--find: batches in the sweep (100)")
    lr.set_defaults(handler=lambda a: app.find_learning_rate(
        a.config, overrides=a.overrides, output=a.output, start=a.start, end=a.end, steps=a.steps, backend=a.backend,
        verbose=a.verbose) if a.find else app.learning_rates(
        a.config, overrides=a.overrides, output=a.output, steps_per_epoch=a.steps_per_epoch, backend=a.backend,
        verbose=a.verbose))

    augment = commands.add_parser("augment", parents=[runtime, overrides],
                                  help="preview a config's data augmentation as a grid of images",
                                  description="Write a PNG of training images beside augmented versions of them.")
    augment.add_argument("config", nargs="?", help="YAML experiment config with an augmentation section")
    augment.add_argument("--output", "-o", default=None, help="PNG to write (default: <run folder>/augmentation.png)")
    augment.set_defaults(handler=lambda a: app.augment_preview(
        a.config, overrides=a.overrides, output=a.output, backend=a.backend, verbose=a.verbose))

    data = commands.add_parser("data", help="dataset tools: build an HDF5 store, check a folder or a label table, "
                                            "write a sample data set")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    build = data_commands.add_parser(
        "build", help="decode and preprocess a dataset once into an HDF5 store",
        description="Decode and preprocess a dataset once into an HDF5 store that training reads with "
                    "dataset: {name: hdf5, path: STORE}.")
    build.add_argument("source", help="a <class>/<image> folder, a label table (.csv, .jsonl), or a dataset name: "
                                      "digits, mnist, cifar10")
    build.add_argument("--images", help="a label table's images folder (default: the table's folder)")
    build.add_argument("--output", "-o", required=True, help="the store to write (.h5)")
    build.add_argument("--width", type=positive_int, help="resize to this width")
    build.add_argument("--height", type=positive_int, help="resize to this height")
    build.add_argument("--channels", type=int, choices=choices_of(PreprocessingConfig, "channels"),
                       help="1 = greyscale, 3 = RGB")
    build.add_argument("--resize", choices=choices_of(PreprocessingConfig, "resize"), default="simple",
                       help="simple ignores the aspect ratio; aspect_aware centre-crops; pad pads the short side")
    build.add_argument("--chunk-size", type=positive_int, default=1024, help="images decoded per chunk")
    build.add_argument("--decode", choices=choices_of(DatasetConfig, "decode"), default="exact",
                       help="exact: full decode, the pixels a client's cv2.imread gives; fast: large JPEGs "
                            "decoded at 1/2-1/8 scale (quicker, a few grey levels off)")
    build.set_defaults(handler=lambda a: app.build_data(
        a.source, output=a.output, width=a.width, height=a.height, channels=a.channels, resize=a.resize,
        chunk_size=a.chunk_size, decode=a.decode, images=a.images))
    sample = data_commands.add_parser(
        "sample", help="write a small photo-like data set to try the commands on",
        description="Write <class>/<image>.jpg files of shapes over textured backgrounds (circles, squares, "
                    "triangles; 100 of each by default, about 1 MB), the same for the same seed: a folder data "
                    "set for every example that needs photos.")
    sample.add_argument("folder", help="a new (or empty) folder, e.g. datasets/sample")
    sample.add_argument("--per-class", type=positive_int, help="images per class (default 100)")
    sample.add_argument("--seed", type=int, default=0,
                        help="the images drawn (0): the same seed writes the same files")
    sample.add_argument("--table", action="store_true",
                        help="also write labels.csv naming every image and its class (a labels dataset)")
    sample.add_argument("--multilabel", action="store_true",
                        help="write 2x2 mosaics of the pictures instead (3 x --per-class of them), each labelled "
                             "with every class it shows, in labels.csv: a multi-label data set")
    sample.set_defaults(handler=lambda a: app.sample_data(a.folder, per_class=a.per_class, seed=a.seed,
                                                          table=a.table, mosaics=a.multilabel))
    issues = data_commands.add_parser(
        "issues", help="rank a k-fold run's training images whose label is probably wrong",
        description="Confident learning (cleanlab) on a k-fold run's out-of-fold probabilities (dlcv train "
                    "--folds K): the training images whose given label is probably wrong, most likely first, with "
                    "the label the run would give each, written to label_issues.csv in the run folder and shown "
                    "in its report.html.")
    issues.add_argument("run", help="a finished k-fold run's folder, e.g. output/animals")
    issues.add_argument("--format", dest="output_format", choices=("text", "csv", "json"), default="text",
                        help="how to print them (default text)")
    issues.add_argument("--limit", type=positive_int, default=20, help="print the N most likely (default 20)")
    issues.set_defaults(handler=lambda a: app.label_issues(a.run, output_format=a.output_format, limit=a.limit))

    check = data_commands.add_parser(
        "check", help="find duplicates across splits, unreadable files, class balance and sizes",
        description="Read every image of a class folder (train/, val/, test/ or not) or a label table once and "
                    "report exact "
                    "and near duplicates (a perceptual hash) across and within splits and classes, unreadable "
                    "files, images per class and image sizes. Exit status 1 when duplicates could leak "
                    "between training and test or carry two labels.")
    check.add_argument("dataset", help="a <class>/<image> folder (or one with train/, val/, test/ inside), or a label "
                                       "table (.csv, .jsonl): also its rows naming missing files, files no row "
                                       "names, files two rows name")
    check.add_argument("--images", help="a label table's images folder (default: the table's folder)")
    check.add_argument("--distance", type=int, default=None, metavar="BITS",
                       help=f"perceptual-hash bits (of 64, at most {MAX_DISTANCE}) two near duplicates may differ "
                            f"by (default {NEAR_DISTANCE})")
    check.add_argument("--format", dest="output_format", choices=list(AUDIT_FORMATS), default="text")
    check.set_defaults(handler=lambda a: app.check_data(a.dataset, distance=a.distance,
                                                            output_format=a.output_format, images=a.images))

    doctor = commands.add_parser("doctor", parents=[overrides],
                                 help="check this machine or container: versions, GPUs, XLA, output folder",
                                 description="One line per check (✓/✗); exit status 1 when something the "
                                             "config needs is missing, e.g. a GPU for distribution: mirrored.")
    doctor.add_argument("config", nargs="?", help="the config to check for (default: the quickstart)")
    doctor.add_argument("--backend", choices=BACKENDS, help="the backend to check for (default: as train chooses)")
    doctor.set_defaults(handler=lambda a: app.doctor(a.config, overrides=a.overrides, backend=a.backend))

    weights = commands.add_parser("weights", help="pretrained backbones' ImageNet weights")
    weights_commands = weights.add_subparsers(dest="weights_command", required=True, metavar="WEIGHTS_COMMAND")
    fetch = weights_commands.add_parser(
        "fetch", help="download backbones' ImageNet weights into Keras's cache",
        description="Download each backbone's ImageNet weights (without the classifier) into Keras's cache, "
                    "$KERAS_HOME/models (default ~/.keras/models), or DIR/models, on a machine with network; "
                    "copy or mount that folder where training runs offline.")
    fetch.add_argument("names", nargs="+", metavar="NAME", help="backbones, e.g. mobilenet_v2 efficientnet_b0")
    fetch.add_argument("--to", metavar="DIR", help="a Keras home to fill instead of $KERAS_HOME (DIR/models)")
    fetch.add_argument("--size", type=positive_int,
                       help="the input size to train at (MobileNetV2 has one file per size: 96-224)")
    fetch.set_defaults(handler=lambda a: app.fetch_weights(a.names, to=a.to, size=a.size))

    models = commands.add_parser("models", help="list the registered model builders")
    models.set_defaults(handler=lambda a: app.list_models())
    return parser


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value
