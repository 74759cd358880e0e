"""Everything that can be checked about a run without reading its data, checked once, before Keras starts.

The schema (:mod:`dlcv.config`) checks each value; these rules look across values and at the world: the
dataset and the model exist in their registries and get what they need, paths exist, the route and the
distribution can run on the chosen backend, optional packages asked for are installed. Each failure is
one :class:`~dlcv.errors.ConfigError` line naming the key.

    config = load_config("configs/mine.yaml")
    check_config(config, backend="tensorflow")      # before the banner, before any image is read
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .capabilities import DISTRIBUTION_BACKEND, compiled_route_obstacle, feature_cache_obstacle, streaming_obstacle
from .config import BACKENDS, ExperimentConfig
from .data import get_dataset
from .data.registry import foreign_keys
from .errors import ConfigError, DlcvError
from .models import check_params
from .task import TASKS


def check_config(config: ExperimentConfig, backend: str) -> None:
    """Refuse, in one line, a config that cannot run on ``backend``."""
    _check_backend(backend)
    check_params(config.model.name, config.model.params)
    _check_backbone(config)  # first: from_run states the input size the dataset checks need
    _check_folds(config.dataset)
    if config.reject is not None and config.task != "auto" and not TASKS[config.task].rejects:
        raise ConfigError("reject: a run of label sets has no top label to turn away (an image none of whose "
                          "classes passes its threshold already has no label); expected no reject section")
    _check_dataset(config)
    _check_augmentation(config)
    _check_route(config, backend)
    _check_imbalance(config)
    _check_distribution(config, backend)
    if config.callbacks.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("callbacks.tensorboard: needs the tensorboard package (pip install tensorboard); "
                          "expected it installed, or tensorboard: false")


def _check_backbone(config: ExperimentConfig) -> None:
    """A pretrained backbone's input size, weights, trainable layers, fine-tune phase and feature cache."""
    from .models.backbones import BACKBONES, saves_to_h5_name

    backbone = BACKBONES.get(config.model.name)
    if config.model.name == "from_run":
        _check_from_run(config)
        return
    if backbone is None:
        if config.fine_tune is not None:
            raise ConfigError(f"fine_tune: model {config.model.name!r} has no pretrained backbone to unfreeze; "
                              f"expected a backbone model ({', '.join(BACKBONES)}) or from_run, or no fine_tune "
                              "section")
        if config.feature_cache is True:
            raise ConfigError(f"feature_cache: true needs a model with a frozen backbone, and {config.model.name!r} "
                              "has none; expected feature_cache: auto or false")
        return
    params, p = config.model.params, config.preprocessing
    native = f"{backbone.native_size}x{backbone.native_size}"
    if p.width is None or p.height is None:
        raise ConfigError(f"preprocessing.width: {config.model.name} needs the input size set; expected width and "
                          f"height of at least {backbone.min_size} (its ImageNet weights were trained at {native})")
    if min(p.width, p.height) < backbone.min_size:
        raise ConfigError(f"preprocessing.width: {config.model.name} takes images of at least {backbone.min_size}x"
                          f"{backbone.min_size}, got {p.width}x{p.height}; expected a larger size, e.g. {native}")
    weights = params.get("weights", "imagenet")
    if weights not in ("imagenet", "none", None) and not Path(weights).expanduser().is_file():
        raise ConfigError(f"model.params.weights: file not found: {weights!r}; expected imagenet, none, or a "
                          f"weights file of {backbone.builder}(include_top=False)")
    if weights in ("none", None) and (params.get("trainable", False) is not True or config.fine_tune is not None):
        raise ConfigError(f"model.params.weights: none gives {config.model.name} random weights, so all of it "
                          "must train from the first epoch; expected trainable: true and no fine_tune section, "
                          "or weights: imagenet")
    layers = backbone.weighted_layer_count
    for key, count in (("model.params.trainable", params.get("trainable")),
                       ("fine_tune.unfreeze", config.fine_tune.unfreeze if config.fine_tune else None)):
        if isinstance(count, int) and not isinstance(count, bool) and count > layers:
            raise ConfigError(f"{key}: {count} layers, but {config.model.name} has {layers} layers with weights "
                              f"(BatchNormalization not counted); expected 1-{layers}, or all")
    if config.fine_tune is not None and params.get("trainable") is True:
        raise ConfigError("fine_tune: the backbone already trains in the first phase (model.params.trainable: "
                          "true); expected trainable: false (the head first), or no fine_tune section")
    cache_obstacle = feature_cache_obstacle(config)
    if config.feature_cache is True and cache_obstacle is not None:
        raise ConfigError(f"feature_cache: true computes a frozen backbone's features once, but {cache_obstacle}; "
                          "expected feature_cache: auto or false")
    if config.callbacks.checkpoint_format == "h5" and config.callbacks.checkpoint != "none" \
            and not saves_to_h5_name(config.model.name):
        raise ConfigError(f"callbacks.checkpoint_format: h5 cannot hold {config.model.name} (Keras's HDF5 loader "
                          "cannot rebuild it); expected checkpoint_format: keras")


def _check_from_run(config: ExperimentConfig) -> None:
    """from_run: a finished run to start from, whose input size and channels the config does not contradict."""
    from .models.from_run import run_input

    run = config.model.params.get("run")
    if not run:
        raise ConfigError("model.params.run: from_run needs the run folder to start from; expected e.g. "
                          "run: output/big_folder")
    trained, p = run_input(run), config.preprocessing
    for key in ("width", "height", "channels"):
        ours, theirs = getattr(p, key), getattr(trained, key)
        if ours is not None and ours != theirs:
            raise ConfigError(f"preprocessing.{key}: {ours}, but the network of {run} takes {trained.width}x"
                              f"{trained.height}x{trained.channels} images; expected {key}: {theirs}, or unset")


def _check_augmentation(config: ExperimentConfig) -> None:
    """Pad-and-crop padding within the image; something to mix with where images are mixed."""
    augmentation, p = config.augmentation, config.preprocessing
    side = min(p.width or 0, p.height or 0)
    if augmentation.random_crop and side and augmentation.random_crop > side:
        raise ConfigError(f"augmentation.random_crop: padding {augmentation.random_crop} is larger than the "
                          f"{p.width}x{p.height} image; expected at most {side} (4 is the CIFAR standard at 32x32)")
    if augmentation.mixes and config.dataset.name == "folder" and config.dataset.path is not None:
        from .data.folder import folder_layout

        parts = folder_layout(config.dataset.path, config.dataset.splits, config.dataset.group_by)
        root = Path(parts["train"] if parts else config.dataset.path)
        classes = [child.name for child in root.iterdir() if child.is_dir()]
        if len(classes) < 2:
            key = "augmentation.mixup" if augmentation.mixup else "augmentation.cutmix"
            raise ConfigError(f"{key}: mixes images of different classes, but {str(root)!r} has "
                              f"{len(classes)} class folder(s); expected at least 2, or {key}: 0")


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ConfigError(f"backend: {backend!r}; expected one of: {', '.join(BACKENDS)}")
    if importlib.util.find_spec(backend) is None:  # each backend is the package of its name
        raise ConfigError(f"backend: {backend} needs the {backend} package (pip install {backend}); "
                          "expected it installed, or another backend")


def _check_route(config: ExperimentConfig, backend: str) -> None:
    """``route: fast`` where it cannot apply."""
    obstacle = compiled_route_obstacle(config, backend)
    if config.route == "fast" and obstacle:
        raise ConfigError(f"route: fast cannot be used here: {obstacle}; use route: auto or fit")


def _check_distribution(config: ExperimentConfig, backend: str) -> None:
    wanted = DISTRIBUTION_BACKEND.get(config.distribution)
    if wanted and backend != wanted:
        raise ConfigError(f"distribution: {config.distribution} runs on the {wanted} backend, "
                          f"not {backend}; set backend: {wanted}")
    if config.distribution == "multi_worker" and "TF_CONFIG" not in os.environ:
        raise ConfigError("distribution: multi_worker needs TF_CONFIG describing the cluster and this "
                          "worker's task; see the README")


def _check_folds(dataset) -> None:
    """k-fold carves each fold's validation from its training part: a split that fixes it cannot fold."""
    if dataset.folds is not None and dataset.splits == "folders":
        raise ConfigError("dataset.folds: k-fold draws each fold's validation from its own training part, and "
                          "dataset.splits: folders fixes the validation split; expected dataset.splits: auto or "
                          "random with folds")


def _check_folder_splits(dataset) -> None:
    """A folder's layout against splits / group_by (its top-level folder names only: nothing is read)."""
    from .data.folder import folder_layout

    try:
        folder_layout(dataset.path, dataset.splits, dataset.group_by)
    except ConfigError:
        raise
    except DlcvError as exc:  # the parts' class folders differ, or two validation folders
        raise ConfigError(f"dataset.path: {exc}") from None


def _check_dataset(config: ExperimentConfig) -> None:
    dataset, preprocessing = config.dataset, config.preprocessing
    spec = get_dataset(dataset.name)
    if dataset.path is not None and not Path(dataset.path).expanduser().exists():
        raise ConfigError(f"dataset.path: path does not exist: {dataset.path!r}; expected an existing file "
                          "or folder")
    if spec.needs_path and dataset.path is None:
        raise ConfigError(f"dataset.path: required for dataset {dataset.name!r}; expected "
                          + ("a folder of class folders" if dataset.name == "folder" else "a file or folder"))
    if spec.needs_size and preprocessing.width is None and preprocessing.height is None \
            and config.model.name != "from_run":  # its input size is its run's
        raise ConfigError(f"preprocessing.width: required for dataset {dataset.name!r} (photos differ in "
                          "size); expected e.g. width: 32, height: 32")
    if dataset.streaming is True and not spec.streams:
        raise ConfigError(f"dataset.streaming: {dataset.name!r} is held in memory (folder and hdf5 datasets "
                          "stream); expected streaming: auto or false")
    if dataset.streaming is True and streaming_obstacle(config.distribution):
        raise ConfigError(f"dataset.streaming: {streaming_obstacle(config.distribution)}; expected streaming: auto "
                          "or false")
    if dataset.group_by is not None and dataset.name not in ("folder", "labels"):
        raise ConfigError(f"dataset.group_by: groups are named from image file names, and {dataset.name!r} has "
                          "none; expected a folder or labels dataset, or group_by: null")
    if dataset.splits == "folders" and dataset.name not in ("folder", "labels", "hdf5"):
        raise ConfigError(f"dataset.splits: folders: {dataset.name!r} does not come in split folders; "
                          "expected splits: auto or random")
    if dataset.name == "folder" and dataset.path is not None:
        _check_folder_splits(dataset)
    _check_table(config)
    _check_pixel_limit(dataset.max_pixels)
    if dataset.test_size == "official" and not spec.official_split:
        raise ConfigError(f"dataset.test_size: {dataset.name!r} has no official test split; expected a "
                          "fraction such as 0.25")


def _check_imbalance(config: ExperimentConfig) -> None:
    """One remedy for imbalanced classes at a time, where it can run."""
    if config.sampling == "balanced" and config.class_weight == "balanced":
        raise ConfigError("sampling: balanced already draws every class equally; class_weight: balanced would "
                          "count the rare classes twice over; expected one of the two")
    if config.sampling == "balanced" and config.distribution == "multi_worker":
        raise ConfigError("sampling: balanced: a multi-worker cluster shards each epoch with tf.data on every "
                          "worker; expected class_weight: balanced there, or sampling: none")


def _check_table(config: ExperimentConfig) -> None:
    """A label table's keys with a labels dataset only; its rows checked (no image decoded); what a
    multi-label task cannot take (a table's, or a store's built from one)."""
    from .task import TASKS, task_of_labels

    dataset = config.dataset
    if dataset.name == "hdf5" and dataset.path is not None:
        from .data.store import store_holds_label_sets

        if store_holds_label_sets(dataset.path):  # built from a multi-label table: as that table
            task = task_of_labels(label_sets=True)
            if config.task not in ("auto", task.name):
                raise ConfigError(f"task: {config.task}: the store {dataset.path} holds several labels per image "
                                  f"(it was built from a multi-label table); expected task: {task.name} or auto")
            _check_task_takes(config, task, "several labels per image")
            return
    if dataset.name != "labels":
        metric = config.search.metric if config.search is not None else None
        if metric not in (None, "val_loss", *TASKS["single"].search_metrics):
            raise ConfigError(f"search.metric: {metric} scores a multi-label run, and {dataset.name!r} gives each "
                              f"image one class; expected {' or '.join(TASKS['single'].search_metrics)} or val_loss")
        if config.task != "auto" and TASKS[config.task].needs_label_table:
            raise ConfigError(f"task: {config.task} needs images with any number of labels, from a label table "
                              f"(dataset.name: labels); {dataset.name!r} gives each image one class")
        for key, owner in foreign_keys(dataset):
            raise ConfigError(f"dataset.{key}: applies to dataset.name: {owner} alone, not to {dataset.name!r}; "
                              "expected it unset")
        return
    if dataset.path is None:
        return
    from .data.table import check_split_keys, read_table_of

    table = read_table_of(dataset, config.task)
    _check_task_takes(config, TASKS[table.task], table.labels_line)
    check_split_keys(dataset, table)


def _check_task_takes(config: ExperimentConfig, task, holds: str) -> None:
    """The search metric and class balancing against the task the data makes (``holds``: what its labels are)."""
    dataset = config.dataset
    metric = config.search.metric if config.search is not None else None
    if metric not in (None, "val_loss", *task.search_metrics):
        raise ConfigError(f"search.metric: {metric}: {dataset.path} is read as task: {task.name} ({holds}); "
                          f"expected {' or '.join(task.search_metrics)} or val_loss")
    if not task.balances_classes:
        for key, value in (("sampling", config.sampling), ("class_weight", config.class_weight)):
            if value == "balanced":
                raise ConfigError(f"{key}: balanced: {dataset.path} is multi-label ({holds}), and an image with "
                                  f"several labels has no single class to balance; expected {key}: none")


def _check_pixel_limit(configured: int | None) -> None:
    """The pixel limit is a number, and OpenCV's own (set as dlcv was imported) does not undercut it."""
    from .images import max_pixels

    limit = max_pixels(configured)  # $DLCV_MAX_PIXELS that is not a number: one line
    opencv = int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", str(1 << 30)))
    if configured is not None and limit > opencv:
        raise ConfigError(f"dataset.max_pixels: {limit:,} is above OpenCV's limit of {opencv:,} "
                          "(OPENCV_IO_MAX_IMAGE_PIXELS, set from $DLCV_MAX_PIXELS as dlcv starts); expected at "
                          f"most {opencv:,}, or DLCV_MAX_PIXELS={limit} in the environment")
