"""The application layer: one function per user action, shared by the ``dlcv`` command and the scripts.

Each action validates everything it can before Keras starts (the config, the paths, the run folder), then
starts Keras in the one place that does (:func:`dlcv.runtime.start_keras`), does its work and logs what a
user reads. User errors raise :class:`~dlcv.errors.DlcvError`; callers turn them into one line.

    result = train("configs/quickstart.yaml", overrides=["epochs=5"])
    predict("output/quickstart/model.h5", images=["digit.png"])
"""
from __future__ import annotations

import importlib.util
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from . import files
from .checks import check_config
from .config import ExperimentConfig, PreprocessingConfig, load_config
from .console import TO_STDERR
from .errors import ConfigError, DlcvError, Stopped
from .runtime import banner, resolve_backend, start_keras
from .secrets import redacted
from .tracking import check_tracking

log = logging.getLogger(__name__)


def load_checked_config(path: str | Path | None, *, overrides: Sequence[str] = (),
                        backend: str | None = None) -> tuple[ExperimentConfig, str]:
    """A config read, overridden and checked against everything but its data; and the backend to run it
    on (``backend``, else the config's, else $KERAS_BACKEND, else TensorFlow)."""
    from .models.from_run import input_from_run

    config = load_config(path, list(overrides))
    chosen = resolve_backend(backend, config.backend)
    check_config(config, chosen)
    return input_from_run(config), chosen  # from_run: the run's input size, as it is trained and recorded


def train(config_path: str | Path | None = None, *, overrides: Sequence[str] = (), backend: str | None = None,
          resume: bool = False, verbose: bool = False, plot_to: str | Path | None = None, folds: int | None = None):
    """``dlcv train``: train a config and report; ``plot_to`` also copies the loss/accuracy plot there;
    ``folds``: k-fold cross-validation (``dataset.folds``)."""
    from .config.schema import MAX_FOLDS
    from .training.run_claim import claim_run_folder

    if folds is not None:
        if not 2 <= folds <= MAX_FOLDS:
            raise ConfigError(f"--folds {folds}: expected 2 to {MAX_FOLDS} folds (one run each)")
        overrides = [*overrides, f"dataset.folds={folds}"]
    config, backend = load_checked_config(config_path, overrides=overrides, backend=backend)
    check_tracking(config)  # an MLflow URI that does not work: one line before Keras starts
    if config.dataset.folds is not None and config.dataset.fold is None:
        return _train_folds(config, backend, resume, verbose)
    with claim_run_folder(config, resume) as claim:  # in use, nothing to resume: said before Keras starts
        start_keras(backend, verbose)
        from .models.backbones import ensure_weights

        ensure_weights(config)  # a backbone's ImageNet weights: downloaded, or one line before any data is read
        from .training.engine import train as train_config

        result = train_config(config, resume=resume, claim=claim)
    result.log_summary(config)
    if plot_to and "plot" in result.artefacts:
        with files.atomic_path(plot_to) as tmp:
            shutil.copyfile(result.artefacts["plot"], tmp)
        log.info(f"loss/accuracy plot also written to {plot_to}")
    return result


def _train_folds(config, backend: str, resume: bool, verbose: bool):
    """``dlcv train --folds K``: every fold, then the parent's out-of-fold scores (:mod:`dlcv.training.kfold`)."""
    start_keras(backend, verbose)
    from .models.backbones import ensure_weights

    ensure_weights(config)
    from .training.kfold import train_folds

    return train_folds(config, resume=resume)


def serve(model: str | Path, *, backend: str | None = None, verbose: bool = False, **settings) -> None:
    """``dlcv serve``: the model over HTTP until SIGTERM (:mod:`dlcv.serving`)."""
    from .serving.server import ServeSettings
    from .serving.server import serve as run_server

    run_server(model, ServeSettings(**settings), backend=backend, verbose=verbose)


def evaluate(model_path: str, *, config_path: str | Path | None = None, overrides: Sequence[str] = (),
             backend: str | None = None, verbose: bool = False, tta: str = "none", unknown: str | None = None,
             output_format: str = "text"):
    """``dlcv evaluate``: re-score a saved model on a config's test split (default: its run's config);
    ``tta``: test-time augmentation (:mod:`dlcv.tta`); with a reject rule, its coverage and selective
    accuracy; ``unknown``: a folder of photos of none of the classes, scored against the test split. In the
    model's run folder it writes evaluation.json and leaves what training wrote as it was."""
    from .images import expand_image_paths
    from .runs import RunFolder

    model_path = str(_run_model(model_path))  # a run folder: its model
    if config_path is None:  # the model's run folder's (a k-fold run's folder is its own)
        config_path = RunFolder(model_path if Path(model_path).is_dir() else Path(model_path).parent).config_file
        if not Path(config_path).is_file():
            raise DlcvError(f"{model_path} has no config.yaml beside it; pass the config whose test split "
                            "to use")
    from .inference import check_model_file

    config, backend = load_checked_config(config_path, overrides=overrides, backend=backend)
    check_model_file(model_path)  # a Keras model: its loss is computed in Keras
    strangers = expand_image_paths([unknown]) if unknown is not None else None  # an empty folder: one line
    start_keras(backend, verbose, quiet=output_format == "json")
    if output_format == "json":  # stdout: the JSON alone
        log.info(banner(), extra=TO_STDERR)
    from .data import prepare_data
    from .inference import evaluate_model, load_classifier

    splits = prepare_data(config).splits
    evaluation, task = evaluate_model(model_path, splits.test, tta=tta)
    aside = {"extra": TO_STDERR} if output_format == "json" else {}  # stdout: the JSON alone
    log.info(f"{model_path} on the test split of {config.dataset.name} (seed {config.seed})"
             + (f", test-time augmentation: {tta}" if tta != "none" else "") + f": {evaluation.summary}", **aside)
    log.info(evaluation.report_text, **aside)
    extra = {}
    if (task.calibration is not None and task.calibration.reject is not None) or strangers is not None:
        extra = _familiarity_figures(load_classifier(model_path), evaluation, splits, strangers)
        _say_familiarity(extra, output_format)
    folder = RunFolder(model_path if Path(model_path).is_dir() else Path(model_path).parent)
    if folder.config_file.is_file():  # the model's run folder: its own record of this evaluation
        scores = evaluation.results()
        files.write_json(folder.evaluation_file, {
            "model": Path(model_path).name, "dataset": config.dataset.name, "seed": config.seed, "tta": tta,
            "task": task.name, **scores, **task.primary(scores), **extra})
        log.info(f"wrote {folder.evaluation_file}", **aside)
    return evaluation


def _familiarity_figures(classifier, evaluation, splits, strangers: list[str] | None) -> dict:
    """The reject rule's coverage and selective accuracy on the test split, and (``strangers``: image files of
    none of the classes) how they fare against it."""
    import numpy as np

    from .familiarity import FamiliarityScorer, selective, stranger_figures
    from .task.calibration import keep_threshold

    task = classifier.task
    if not task.rejects:
        raise DlcvError("--unknown: a multi-label run has no top label to turn away (an image none of whose classes "
                        "passes its threshold already has no label)")
    reject = task.calibration.reject if task.calibration is not None else None
    scorer = classifier.familiarity or FamiliarityScorer("confidence")
    known = scorer.set_scores(splits.test, evaluation.probabilities)
    validation = scorer.set_scores(splits.val, classifier.predict_arrays(  # (at the run's temperature)
        splits.val.batch(np.arange(len(splits.val.labels)))[0]))
    threshold_95 = keep_threshold(validation, 0.95)
    threshold = reject.threshold if reject is not None else threshold_95
    figures = {"score": scorer.score}
    if reject is not None:
        figures.update(selective(known, threshold, evaluation.predictions == evaluation.labels))
    if strangers is not None:
        images = _readable(classifier, strangers)
        scores = scorer.scores(images, classifier.predict_arrays(images))
        figures["unknown"] = stranger_figures(known, scores, threshold, threshold_95)
    return figures


def _readable(classifier, paths: list[str]):
    """The images of ``paths`` that decode (one warning line each for the others; none: one line)."""
    import numpy as np

    from .images import UnreadableImage

    images = []
    for path in paths:
        try:
            images.append(classifier.decode(path))
        except UnreadableImage as error:
            log.warning(f"skipped: {error}")
    if not images:
        raise DlcvError(f"--unknown: none of the {len(paths)} files could be read as images; expected photos")
    return np.stack(images)


def _say_familiarity(figures: dict, output_format: str) -> None:
    import json

    if output_format == "json":
        log.info(json.dumps(figures.get("unknown", figures), indent=2))
        return
    if "coverage" in figures:
        log.info(f"reject ({figures['score']}): {figures['coverage']:.1%} of the test images kept, accuracy on them "
                 f"{figures['selective_accuracy']:.4f}")
    if "unknown" in figures:
        u = figures["unknown"]
        log.info(f"unknown photos: {u['images']} images, {u['rejected']:.1%} turned away (threshold "
                 f"{u['threshold']:.4f}); AUROC against the test split {u['auroc']:.3f} ({figures['score']}); "
                 f"{u['false_accept_at_95']:.1%} let in where 95% of validation is kept")


def list_runs(root: str | Path = "output", *, output_format: str = "text", sort: str = "date",
              ascending: bool = False) -> list:
    """``dlcv runs``: every run under ``root`` as a table on standard output, and ``root/runs.html``."""
    from .run_table import find_runs, format_rows, sort_rows, write_index

    rows = sort_rows(find_runs(root), sort, None if not ascending else False)
    print(format_rows(rows, output_format), end="")
    log.info(f"{len(rows)} run(s); wrote {write_index(rows, Path(root) / 'runs.html')}")
    return rows


def report(run_path: str | Path, *, mistakes: int | None = None, backend: str | None = None,
           verbose: bool = False) -> Path:
    """``dlcv report RUN``: write the run's report.html again: its model re-scored on its test split, or,
    where the data is no longer there, the saved figures with a line saying the images are not available."""
    from .runs import RunFolder

    run = RunFolder(run_path)
    results = run.results() if run.path.is_dir() else None
    if results is None:
        raise DlcvError(f"{run_path}: no results.json there, so no finished run (an unfinished or killed run, "
                        "or not a run folder); expected the folder of a finished dlcv train")
    if results.get("kind") == "k-fold":  # its page is its folds' figures (and dlcv data issues' label errors)
        from .label_issues import find_label_issues

        path = _write_kfold_page(run, find_label_issues(run.path) if run.label_issues_file.is_file() else None)
        log.info(f"wrote {path}")
        return path
    config = load_config(run.config_file)  # checked with its data below: the data may have moved
    backend = resolve_backend(backend, config.backend)
    limit = config.report.mistakes if mistakes is None else mistakes
    from .report import write_report

    if "test_loss" not in results:  # a search's trial: judged on validation, its test split never read
        path = write_report(run, None, limit=limit, unavailable="a search trial, judged on validation alone")
        log.info(f"wrote {path}")
        return path
    start_keras(backend, verbose)
    from .data import prepare_data
    from .inference import evaluate_classifier, load_classifier

    try:
        check_config(config, backend)
        test = prepare_data(config, progress=False).splits.test
    except DlcvError as exc:  # the data moved: the page says so instead of failing
        path = write_report(run, None, limit=limit, unavailable=f"the test images cannot be read ({exc})")
        log.info(f"wrote {path} (without the mistakes' images: {exc})")
        return path
    classifier = load_classifier(run.model_file())
    evaluation, task = evaluate_classifier(classifier, test)
    path = write_report(run, evaluation, test, limit, task=task, model=classifier.model if config.report.heatmaps
                        else None)
    log.info(f"{run.path.name}: {evaluation.summary}")
    log.info(f"wrote {path}")
    return path


def predict(model_path: str, *, images: Sequence[str], batch_size: int = 64, backend: str | None = None,
            verbose: bool = False, output_format: str = "text", top: int = 1,
            output: str | Path | None = None, tta: str = "none", reject: bool = True) -> int:
    """``dlcv predict``: label images with a saved or exported model, streamed batch by batch, as text,
    CSV or JSON to stdout or ``output`` (written atomically). An unreadable file is skipped with one
    warning line naming it; the count is said at the end and the run ends with Stopped (exit 1).
    ``tta``: test-time augmentation (:mod:`dlcv.tta`)."""
    from .images import expand_image_paths
    from .predictions import WRITERS, open_output

    if output_format not in WRITERS:
        raise DlcvError(f"--format {output_format!r}: expected one of {', '.join(WRITERS)}")
    paths = expand_image_paths(images)  # a missing path or an unwritable --output fails before Keras starts
    if output is not None:
        if Path(output).is_dir():
            raise DlcvError(f"--output {str(output)!r} is a folder; expected a file name such as labels.csv")
        files.ensure_writable_dir(Path(output).parent)
    classifier = _load_for_prediction(str(_run_model(model_path)), backend, verbose).with_tta(tta)
    classifier = classifier if reject else classifier.without_reject()
    if top > len(classifier.class_names):
        raise DlcvError(f"--top {top}: the model has {len(classifier.class_names)} classes; expected at most that")
    skipped: list[str] = []

    def skip(path: str, reason: str) -> None:
        skipped.append(path)
        log.warning(f"skipped: {reason}")

    with open_output(output) as stream:
        writer = WRITERS[output_format](stream, classifier.task, top)
        labelled = writer.write_all(classifier.iter_predictions(paths, batch_size, top, on_skip=skip))
    if skipped:
        raise Stopped(f"labelled {labelled} of {len(paths)} images; skipped {len(skipped)} unreadable "
                      f"file(s), named above")
    return labelled


def explain(model: str | Path, *, images: Sequence[str], output: str | Path, method: str = "hirescam",
            layer: str | None = None, class_name: str | None = None, backend: str | None = None,
            verbose: bool = False) -> list[dict]:
    """``dlcv explain``: heatmaps of where the run's model looks in each image (:mod:`dlcv.explain`), decoded
    as ``dlcv predict`` decodes them. An unreadable file is skipped with one warning line; exit 1 at the end."""
    from .explain import explain_images
    from .images import expand_image_paths

    paths = expand_image_paths(images)  # a missing path fails before Keras starts
    if Path(output).is_file():  # made (and checked writable) once the model is known to be explainable
        raise DlcvError(f"--output {str(output)!r} is a file; expected a folder for the heatmaps")
    classifier = _load_for_prediction(str(_run_model(model)), backend, verbose)
    skipped: list[str] = []
    entries = explain_images(classifier, paths, output, method, layer, class_name, skipped)
    from .predictions import escaped

    drawn = [e for e in entries if e.get("heatmap")]
    where = (f" ({drawn[0]['method']} at layer {escaped(drawn[0]['layer'])}, a "
             f"{'x'.join(map(str, drawn[0]['map_size']))} map)") if drawn else ""
    log.info(f"wrote {len(drawn)} heatmap(s) of {len(paths) - len(skipped)} image(s) to {escaped(str(output))}"
             f"{where}; explain.json lists them")
    if skipped:
        raise Stopped(f"explained {len(paths) - len(skipped)} of {len(paths)} images; skipped {len(skipped)} "
                      "unreadable file(s), named above")
    return entries


def _run_model(model: str | Path) -> Path:
    """A run folder's model file; anything else (a model file, an export, a k-fold run) as given."""
    from .export.formats import find_format
    from .folds import is_parent
    from .runs import model_file_of

    path = Path(model)
    if path.is_dir() and find_format(path) is None and not is_parent(path):
        return model_file_of(path)
    return path


def _load_for_prediction(model_path: str, backend: str | None, verbose: bool):
    """A run's model (Keras started first) or an export (loaded in its own runtime, no Keras)."""
    from .export.formats import find_format
    from .inference import check_model_file

    exported = find_format(Path(model_path))
    if exported is None:  # the banner goes to stderr: standard output is the predictions (CSV, JSON...)
        check_model_file(model_path)
        start_keras(backend, verbose, quiet=True)
        log.info(banner(), extra=TO_STDERR)
    elif exported.missing(to_run=True):
        missing = exported.missing(to_run=True)
        raise DlcvError(f"--model {model_path!r} is a {exported.name} export; its runtime needs "
                        f"{', '.join(missing)} (pip install {' '.join(missing)})")
    return _load_saying_if_bare(model_path)


def _load_saying_if_bare(model_path: str | Path):
    from .inference import load_classifier

    classifier = load_classifier(model_path)
    if not classifier.has_run_metadata:
        log.warning(f"{model_path} has no class names beside it (not a dlcv run); labels are "
                    f"class indexes 0-{len(classifier.class_names) - 1}")
    return classifier


def export(model: str | Path, *, formats: Sequence[str], output: str | Path | None = None,
           check_images: Sequence[str] = (), quantize: str | bool | None = None, force: bool = False,
           backend: str | None = None, verbose: bool = False, calibration_count: int = 200,
           calibration_method: str = "minmax", calibration_images: Sequence[str] = (),
           min_agreement: float = 0.97, allow_drop: bool = False) -> list:
    """``dlcv export``: a run's model (or a model file) as SavedModel / ONNX / LiteRT, uint8 images in,
    probabilities out, each loaded back in its runtime and checked against Keras; ``quantize``: "dynamic"
    (True) or "int8" (:mod:`dlcv.export.quantization`), judged by its agreement with Keras's labels."""
    from .export.formats import check_export_request
    from .export.quantization import check_quantize_request
    from .images import expand_image_paths
    from .runs import RunFolder, model_file_of

    quantize = "dynamic" if quantize is True else (quantize or None)
    model_path = model_file_of(model)
    check_quantize_request(quantize, formats, calibration_method, min_agreement)
    check_export_request(formats, backend, quantize)
    calibration_paths = expand_image_paths(calibration_images)
    target = Path(output) if output else RunFolder(model_path.parent).export
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not force)):
        raise DlcvError(f"--output {str(target)!r} exists and is not empty; pass --force to replace it")
    check_paths = expand_image_paths(check_images)
    files.ensure_writable_dir(target.parent)
    start_keras("tensorflow", verbose)
    from .export.exporter import check_images as gather
    from .export.exporter import export_model, log_reports

    classifier = _load_saying_if_bare(model_path)
    config = RunFolder(model_path.parent).saved_config()
    check = gather(classifier, config, check_paths)
    log.info(f"checking every export against Keras on {check.origin}")
    quantization = None
    if quantize is not None:
        from .export.exporter import run_split
        from .export.quantization import Quantization
        from .export.quantization import calibration_images as gather_calibration

        wanted = quantize == "int8" and config is not None and not calibration_paths
        train = run_split(config, "train") if wanted else None  # decoded as training decoded them
        images, origin = ((None, "") if quantize == "dynamic" else
                          gather_calibration(classifier, train, calibration_count, config.seed if config else 0,
                                             calibration_paths))
        if images is not None:
            log.info(f"int8: calibrating on {origin}")
        quantization = Quantization(quantize, images, calibration_method, min_agreement, allow_drop, origin)
    reports = export_model(classifier, formats, target, check, quantization=quantization, force=force)
    log_reports(reports, check.origin, target, classifier.task.agreement)
    return reports


def classify(images: Sequence[str], *, network: str = "vgg16", weights: str | None = "imagenet",
             output: str | Path = "output/classify", labels: str | None = None, top: int = 5,
             backend: str | None = None, verbose: bool = False) -> dict:
    """``dlcv classify``: ImageNet classes of any photo with a keras.applications network (ch. 20)."""
    from .casestudies.pretrained import classify_images

    return classify_images(list(images), network, weights, Path(output), labels, top, backend, verbose)


def fetch_weights(names: Sequence[str], *, to: str | Path | None = None, size: int | None = None,
                  verbose: bool = False) -> list[Path]:
    """``dlcv weights fetch``: backbones' ImageNet weights into Keras's cache (or ``to``/models), for a
    machine or container without network."""
    from .models.backbones import get_backbone

    for name in names:
        get_backbone(name)  # every name checked before anything is downloaded
    if to is not None:
        files.ensure_writable_dir(Path(to) / "models")
    start_keras(None, verbose)
    from .models.backbones import fetch_backbones

    paths = fetch_backbones(list(names), to, size)
    for name, path in zip(names, paths):
        log.info(f"{name:<20} {path}")
    return paths


def learning_rates(config_path: str | Path | None = None, *, overrides: Sequence[str] = (),
                   output: str | Path | None = None, steps_per_epoch: int | None = None,
                   backend: str | None = None, verbose: bool = False) -> list[float]:
    """``dlcv lr``: the learning rate per epoch of a config's schedule, printed and plotted. Batches per
    epoch are counted from the data's labels (no image is decoded) unless given."""
    config, backend = load_checked_config(config_path, overrides=overrides, backend=backend)
    counted = ""
    if steps_per_epoch is None:
        from .data import count_split

        train_images = count_split(config)[0]
        steps_per_epoch = -(-train_images // config.batch_size)
        counted = f" ({train_images} training images in batches of {config.batch_size})"
    start_keras(backend, verbose)
    from .training.schedules import build_schedule, plot_learning_rates

    schedule = build_schedule(config.schedule, config.optimizer.learning_rate, steps_per_epoch, config.epochs)
    path = Path(output) if output else config.run_dir / "learning_rate.png"
    rates = plot_learning_rates(schedule, steps_per_epoch, config.epochs, path,
                                f"{config.name}: {config.schedule.name} schedule, {steps_per_epoch} batches per epoch")
    log.info(f"{config.name}: {config.schedule.name} schedule, {steps_per_epoch} batches per epoch{counted}")
    for epoch, rate in enumerate(rates, start=1):
        log.info(f"epoch {epoch:>4}  lr {rate:.6g}")
    log.info(f"wrote {path}")
    return rates


def find_learning_rate(config_path: str | Path | None = None, *, overrides: Sequence[str] = (),
                       output: str | Path | None = None, start: float = 1e-7, end: float = 10.0, steps: int = 100,
                       backend: str | None = None, verbose: bool = False):
    """``dlcv lr --find``: Smith's range test on the config's model and training images (no augmentation,
    no test images); the loss-against-rate plot and a suggested rate."""
    if not 0 < start < end:
        raise DlcvError(f"--start {start:g} / --end {end:g}: expected 0 < start < end")
    config, backend = load_checked_config(config_path, overrides=overrides, backend=backend)
    start_keras(backend, verbose)
    from .training import lr_finder

    test = lr_finder.find_learning_rate(config, start, end, steps)
    path = Path(output) if output else config.run_dir / "lr_find.png"
    lr_finder.plot_range_test(test, path, f"{config.name}: learning-rate range test, batches of {config.batch_size}")
    ended = " (stopped early: the loss diverged)" if len(test.rates) < steps else ""
    log.info(f"{config.name}: {len(test.rates)} batches of {config.batch_size}, rate {start:.3g} to "
             f"{test.rates[-1]:.3g}{ended}")
    if test.suggestion is None:
        log.info("no suggestion: too few batches before the loss diverged; lower --start or raise --steps")
    else:
        s = test.suggestion
        log.info(f"suggested learning rate: {s:.3g} (where the loss falls fastest); a range for dlcv tune: "
                 f"optimizer.learning_rate: {{log_uniform: [{s / 10:.2g}, {s * 10:.2g}]}}")
    log.info(f"wrote {path}")
    return test


def tune(config_path: str | Path | None, *, overrides: Sequence[str] = (), backend: str | None = None,
         trials: int | None = None, storage: str | None = None, study_name: str | None = None,
         retrain: bool = False, verbose: bool = False):
    """``dlcv tune``: search the config's ``search.space`` (Optuna) judged on validation, write best.yaml,
    trials.csv, plots and a summary; ``retrain``: train best.yaml and the config as written on the same
    split and report their test accuracy, once."""
    config, backend = load_checked_config(config_path, overrides=overrides, backend=backend)
    if config.search is None:
        raise DlcvError(f"{config_path or 'config'}: no search: section; expected search: {{space: {{KEY: "
                          "DISTRIBUTION}}}} naming what to search (see configs/tune_digits.yaml)")
    if importlib.util.find_spec("optuna") is None:
        raise DlcvError("dlcv tune needs Optuna, which is not installed; pip install optuna")
    from .tuning.space import check_space
    from .tuning.study import open_study, storage_url

    path = None if config_path is None else str(config_path)
    check_space(path, overrides, config.search.space, backend)
    check_tracking(config)
    study = open_study(config, storage, study_name)  # a database that does not answer: one line, now
    log.info(f"study {study.study_name!r} in {redacted(storage_url(config, storage))}")
    start_keras(backend, verbose)
    from .tuning.search import search_and_report

    study = search_and_report(study, config, path, overrides, trials)
    if not retrain:
        return study
    from .tuning.retrain import retrain_best

    return retrain_best(study, config, path, overrides)


def sample_data(folder: str, *, per_class: int | None = None, seed: int = 0, table: bool = False,
                mosaics: bool = False) -> dict[str, int]:
    """``dlcv data sample``: a small photo-like class folder (and label table), or ``mosaics`` of its pictures
    labelled with every class each shows."""
    from .data.sample import CLASSES, PER_CLASS, TABLE_NAME, write_mosaics, write_sample

    per_class = PER_CLASS if per_class is None else per_class
    counts = write_mosaics(folder, per_class * len(CLASSES), seed) if mosaics else \
        write_sample(folder, per_class, seed, table=table)
    log.info(f"wrote {per_class * len(CLASSES):,} {'mosaics' if mosaics else 'images'} to {folder}/ (per class: "
             f"{', '.join(f'{k} {v}' for k, v in counts.items())}); e.g. dlcv train "
             + ("configs/multilabel_sample.yaml" if mosaics else
                f"configs/shallownet_animals.yaml --set dataset.name=labels --set dataset.path={folder}/{TABLE_NAME}"
                if table else f"configs/shallownet_animals.yaml --set dataset.path={folder}"))
    return counts


def build_data(source: str, *, output: str, width: int | None = None, height: int | None = None,
               channels: int | None = None, resize: str = "simple", chunk_size: int = 1024, decode: str = "exact",
               images: str | None = None):
    """``dlcv data build``: decode and preprocess a folder, a label table (its images under ``images``) or a
    named dataset once into an HDF5 store."""
    import warnings

    from .data.loader import SkippedImagesWarning
    from .data.store import build_store, check_build_source

    check_build_source(source)
    if not str(output).endswith((".h5", ".hdf5")):
        raise DlcvError(f"--output {output!r}: expected a .h5 file name")
    files.ensure_writable_dir(Path(output).parent)
    preprocessing = PreprocessingConfig(width=width, height=height, channels=channels, resize=resize)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedImagesWarning)
        info = build_store(source, output, preprocessing, chunk_size=chunk_size, decode=decode, images=images)
    for warning in caught:
        log.warning(f"{warning.message}")
    height, width, channels = info.shape
    log.info(f"wrote {info.path}: {info.count} images of {width}x{height}x{channels}, "
          f"{len(info.class_names)} classes ({', '.join(info.class_names)})")
    return info


def check_data(dataset: str, *, distance: int | None = None, output_format: str = "text", images: str | None = None):
    """``dlcv data check``: duplicates (exact and near) across and within splits and classes, unreadable
    files, class balance and image sizes of a folder or a label table (and a table's rows naming missing
    files, files no row names, files two rows name); Stopped (exit 1) when duplicates could leak."""
    import json

    from .data.audit import NEAR_DISTANCE, audit_dataset

    audit = audit_dataset(dataset, images, NEAR_DISTANCE if distance is None else distance)
    log.info(json.dumps(audit.to_dict(), indent=2) if output_format == "json" else audit.text())
    if not audit.sizes:
        raise Stopped(f"none of the {len(audit.unreadable):,} image files of {dataset} could be read")
    if audit.problems:
        raise Stopped(f"{len(audit.problems)} duplicate group(s) could leak between splits or carry two labels")
    return audit


def label_issues(run: str | Path, *, output_format: str = "text", limit: int = 20) -> list:
    """``dlcv data issues``: a k-fold run's likely label errors, the ``limit`` most likely printed, all of them
    in its label_issues.csv and its report.html."""
    import json

    from .label_issues import as_csv, as_json, find_label_issues
    from .predictions import escaped
    from .runs import RunFolder

    issues = find_label_issues(run)
    shown = issues[:limit]
    if output_format == "json":
        log.info(json.dumps(as_json(shown), indent=2))
    elif output_format == "csv":
        log.info(as_csv(shown).rstrip("\n"))
    else:
        for issue in shown:
            log.info("\t".join(escaped(cell) for cell in (issue.path, f"given {issue.given}, {issue.change}",
                                                           f"quality {issue.quality:.4f}", f"fold {issue.fold}")))
        if len(issues) > len(shown):
            log.info(f"... and {len(issues) - len(shown):,} more in {RunFolder(run).label_issues_file}")
    _write_kfold_page(RunFolder(run), issues)
    return issues


def _write_kfold_page(run, issues: list | None) -> Path:
    """A k-fold run's report.html: with ``issues`` (its likely label errors), each with its heatmap where the
    run draws them, and the data set's near duplicates."""
    from .report import write_kfold_report

    if issues is None:
        return write_kfold_report(run)
    return write_kfold_report(run, issues, _near_duplicates(run), heatmaps=_fold_heatmaps(run.path))


def _fold_heatmaps(run: str | Path):
    """What draws the label errors' heatmaps (Keras started for it), or None where the run says not to."""
    from functools import partial

    from .explain import fold_heatmaps
    from .runs import RunFolder

    config = RunFolder(run).saved_config()
    if config is None or not config.report.heatmaps:
        return None
    start_keras(resolve_backend(None, config.backend), False, quiet=True)
    return partial(fold_heatmaps, run)


def _near_duplicates(run) -> list:
    """The duplicate groups ``dlcv data check`` finds in a run's data set (none for a built-in one, or a
    folder that is gone)."""
    from .data.audit import audit_dataset

    dataset = run.saved_config().dataset
    if dataset.files_root is None or not Path(dataset.path).exists():
        return []
    return audit_dataset(dataset.path, dataset.images if dataset.name == "labels" else None).duplicates


def augment_preview(config_path: str | Path | None, *, overrides: Sequence[str] = (), output: str | Path | None = None,
                    backend: str | None = None, verbose: bool = False) -> Path:
    """``dlcv augment``: training images beside augmented versions of them, as a PNG grid."""
    config, backend = load_checked_config(config_path, overrides=overrides, backend=backend)
    if not config.augmentation.active:
        raise DlcvError("augmentation: the config asks for no augmentation; expected at least one key of the "
                        "augmentation section, e.g. horizontal_flip, random_crop, rand_augment or mixup")
    path = Path(output) if output else config.run_dir / "augmentation.png"
    files.ensure_writable_dir(path.parent)
    start_keras(backend, verbose)
    from .augmentation import preview

    written = preview(config, path)
    log.info(f"wrote {written}: training images (left) and augmented versions of each")
    return written


def list_models() -> dict[str, str]:
    """``dlcv models``: the registered networks (no Keras needed to list them)."""
    from .models import describe_models

    described = describe_models()
    width = max(map(len, described)) + 2
    for name, summary in described.items():
        log.info(f"{name:<{width}}{summary}")
    return described


def doctor(config_path: str | Path | None = None, *, overrides: Sequence[str] = (), backend: str | None = None) -> list:
    """``dlcv doctor``: one ✓/✗ line per thing a run needs here; Stopped (exit 1) when something the
    config needs is missing."""
    from .doctor import diagnose

    config = load_config(config_path, list(overrides))
    chosen = resolve_backend(backend, config.backend)
    checks = []
    for check in diagnose(config, chosen):
        log.info(check.line())
        checks.append(check)
    failed = [check for check in checks if check.failed]
    if failed:
        raise Stopped(f"{len(failed)} check(s) failed that the config needs: "
                      + "; ".join(check.needed_for for check in failed))
    log.info("ready: everything the config needs is here")
    return checks
