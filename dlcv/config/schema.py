"""The experiment schema: one YAML file describes one training run.

Every field has a default, and the defaults *are* the quickstart run (``configs/quickstart.yaml`` spells
them out). The schema alone never touches the disk, so a run folder's saved config reads back wherever
the run folder goes; the rules that look beyond one value are :func:`dlcv.checks.check_config`'s.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, PrivateAttr, field_validator, model_validator

from .fields import Backend, Decode, Fraction, PositiveFloat, PositiveInt, Section
from .optimization import ConstantSchedule, OptimizerConfig, ScheduleConfig, SGDConfig
from .search import SearchConfig

DEFAULT_SEPARATOR = "|"
"""What joins a multi-label image's labels in a label table's cell (``dataset.separator``), and in text and
CSV output."""


class TableColumns(Section):
    """Which columns of a label table hold what (None: the first present of the usual names)."""

    path: str | None = None
    """The image's path, relative to ``dataset.images`` (default: the first of path, filename, image)."""
    label: str | Annotated[list[str], Field(min_length=2)] | None = None
    """The label's column (default: the first of label, labels, class), or one 0/1 column per class, in the
    classes' order (default, when the table has no label column: every other column, if all hold 0/1)."""
    split: str | None = None
    """A column giving each image's part, train / val / test (default: split, where there is one)."""


MAX_FOLDS = 100
"""The most folds of a k-fold run (each fold a whole training run)."""


class DatasetConfig(Section):
    name: str = "digits"
    """Registered dataset: digits, mnist, cifar10, folder, labels, hdf5 (``dlcv.data.DATASETS``)."""
    path: str | None = None
    """Folder or file the dataset is read from: a class-folder tree (folder), a label table (labels: a .csv
    with a header row or a .jsonl), a store (hdf5), or where mnist.npz / cifar-10-python.tar.gz lie (mnist,
    cifar10; default: datasets/, then Keras's cache)."""
    images: str | None = None
    """labels datasets: the folder the table's image paths are relative to (default: the table's folder)."""
    columns: TableColumns = TableColumns()
    """labels datasets: the table's path, label and split columns, where they are not the usual names."""
    separator: Annotated[str, Field(min_length=1)] = DEFAULT_SEPARATOR
    """labels datasets: what separates an image's labels in the label column (``cat|sofa``: multi-label)."""
    max_missing: Annotated[float, Field(ge=0, le=1)] = 0.05
    """labels datasets: the largest share of rows that may name a file that is not there (counted and named
    like unreadable files); above it the run stops before any image is decoded."""
    test_size: Fraction | Literal["official"] = 0.25
    """Fraction held out for testing (stratified), or "official" for MNIST's / CIFAR-10's own test set."""
    val_size: Fraction = 0.1
    """Fraction of the training part held out for validation after the test split."""
    streaming: bool | Literal["auto"] = "auto"
    """folder and hdf5 datasets: read the images from disk batch by batch while training (true), hold
    them in memory (false), or stream only when the decoded images exceed ``memory_budget`` (auto)."""
    memory_budget: Annotated[int, Field(ge=1)] | None = None
    """Bytes the decoded images may take in memory before ``streaming: auto`` streams them (None: half
    of the memory available when the run starts)."""
    cache: Literal["disk", "none"] = "disk"
    """folder datasets: decode the photos once into an HDF5 store that later epochs and runs read
    (disk), or decode them every time they are read (none)."""
    cache_dir: str | None = None
    """Where the decode-once caches live (None: <output_dir>/cache)."""
    decode: Decode = "exact"
    """exact: every file fully decoded (EXIF orientation applied), the pixels a client gets from OpenCV's
    imread + resize(INTER_AREA), so a served model sees what it trained on; fast: a JPEG at least twice
    the target size is decoded at 1/2, 1/4 or 1/8 scale first (2-4x faster on large photos, but 2-7 grey
    levels from a client's pixels: a training-serving skew). Recorded in the run and in serving.json."""
    max_pixels: Annotated[int, Field(ge=1)] | None = None
    """The most pixels (width x height, read from the file's header before decoding) an image file may have;
    a larger one is treated as unreadable (skipped, counted, named), as a decompression bomb would cost
    gigabytes to decode. None: ``$DLCV_MAX_PIXELS``, else 89,478,485 (Pillow's limit)."""
    splits: Literal["auto", "folders", "random"] = "auto"
    """folder datasets: folders = the folder comes split as train/, val/ (or valid/), test/, each with the
    same class folders, used as given; random = a seeded stratified split of every image (test_size,
    val_size); auto = folders when the folder is laid out so, else random. labels datasets: the table's
    split column counts as the folders."""
    group_by: str | None = None
    """folder and labels datasets, random splits: a regular expression on the file name whose match (its first group,
    if it has one) names a group kept in one split, e.g. '^[^_]+' for burst shots named IMG1234_1.jpg,
    IMG1234_2.jpg; files it does not match are groups of their own."""
    folds: Annotated[int, Field(ge=2, le=MAX_FOLDS)] | None = None
    """k-fold cross-validation: train one run on each of this many folds of the training part, each scored on
    the fold it did not train on (``output/<name>/folds/<k>/``); the test split is untouched. None: one run."""
    fold: Annotated[int, Field(ge=1)] | None = None
    """Which fold (1 to ``folds``) this run holds out: set by a k-fold run in each fold's config."""

    @property
    def files_root(self) -> str | None:
        """The folder its images' paths are under (a folder data set's, a label table's images), as a
        user names files there; None for a data set without files."""
        if self.path is None or self.name not in ("folder", "labels"):
            return None
        return self.path if self.name == "folder" else self.images or str(Path(self.path).parent)

    @model_validator(mode="after")
    def _fold_of_folds(self):
        if self.fold is not None and (self.folds is None or self.fold > self.folds):
            raise ValueError(f"fold: {self.fold} needs folds of at least {self.fold}; expected fold from 1 to folds")
        return self

    @field_validator("group_by")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc}); expected e.g. '^[^_]+'") from None
        return value


class PreprocessingConfig(Section):
    width: PositiveInt | None = None
    """Resize images to this width (None: keep the dataset's own size)."""
    height: PositiveInt | None = None
    channels: Literal[1, 3] | None = None
    """1 = greyscale, 3 = RGB; None: the dataset's own channel count."""
    resize: Literal["simple", "aspect_aware", "pad"] = "simple"
    """simple ignores the aspect ratio; aspect_aware resizes the shorter side and centre-crops; pad fits
    the longer side and pads the shorter with replicated border pixels (captcha digits, ch. 21)."""


class ModelConfig(Section):
    name: str = "mlp"
    """Registered model builder (``dlcv models`` lists them)."""
    params: dict[str, Any] = Field(default_factory=lambda: {"hidden": [64, 32], "activation": "relu"})
    """Keyword arguments of the builder, checked against its signature when the model is built (default:
    the quickstart MLP's for mlp, none for another model, whose builder's own defaults then apply)."""

    @model_validator(mode="before")
    @classmethod
    def _params_of_the_named_model(cls, data: Any) -> Any:
        if isinstance(data, dict) and "params" not in data and data.get("name", "mlp") != "mlp":
            return {**data, "params": {}}
        return data




class RandAugmentConfig(Section):
    """Keras's ``RandAugment`` (Cubuk et al.): its names and ranges. timm's ``rand-m9-n2`` is num_ops 2 at
    magnitude 9 of its 0-10 scale, i.e. factor 0.9 here."""

    num_ops: PositiveInt = 2
    factor: Annotated[float, Field(ge=0, le=1)] = 0.5


class ColorJitterConfig(Section):
    """Strengths as torchvision's ``ColorJitter`` (timm's ``--color-jitter 0.4`` is brightness, contrast and
    saturation 0.4): contrast and saturation multiplied by a factor from [1 - s, 1 + s], hue turned by up
    to ``hue`` of a full turn, brightness shifted by up to ``brightness`` of the value range (Keras's
    ``RandomBrightness`` adds where torchvision multiplies). On grey images only brightness and contrast
    apply."""

    brightness: Annotated[float, Field(ge=0, le=1)] = 0.0
    contrast: Annotated[float, Field(ge=0, le=1)] = 0.0
    saturation: Annotated[float, Field(ge=0, le=1)] = 0.0
    hue: Annotated[float, Field(ge=0, le=0.5)] = 0.0


class AugmentationConfig(Section):
    """Random transformations of the training batches, with the names and meanings of Keras 2's
    ``ImageDataGenerator`` (the book's); all off by default. Never applied to validation, test or predict."""

    rotation_range: Annotated[float, Field(ge=0, le=180)] = 0.0
    """Degrees: each image is rotated by an angle drawn from [-rotation_range, rotation_range]."""
    width_shift_range: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Fraction of the width: horizontal shifts drawn from [-width_shift_range, width_shift_range]."""
    height_shift_range: Annotated[float, Field(ge=0, lt=1)] = 0.0
    shear_range: Annotated[float, Field(ge=0, lt=90)] = 0.0
    """Degrees: a horizontal shear by an angle drawn from [-shear_range, shear_range] (as Keras 2's, so
    the book's 0.2 is a fifth of a degree)."""
    zoom_range: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Zoom factors drawn from [1 - zoom_range, 1 + zoom_range], per axis."""
    horizontal_flip: bool = False
    vertical_flip: bool = False
    fill_mode: Literal["nearest", "reflect", "wrap", "constant"] = "nearest"
    """How the pixels a transformation uncovers are filled (constant: black)."""
    random_crop: Annotated[int, Field(ge=0)] = 0
    """Pixels of zero padding on each side, then a random crop back to the image's size (the CIFAR
    standard, padding 4 at 32x32); 0: off."""
    rand_augment: RandAugmentConfig | None = None
    """Keras's ``RandAugment``: ``num_ops`` operations drawn per image, at strength ``factor``."""
    color_jitter: ColorJitterConfig | None = None
    """Random brightness, contrast, saturation and hue (Keras's ``RandomColorJitter``)."""
    random_erasing: Annotated[float, Field(ge=0, le=1)] = 0.0
    """Probability that a random rectangle of an image is erased (Keras's ``RandomErasing``; timm's
    ``--reprob``); 0: off."""
    mixup: Annotated[float, Field(ge=0)] = 0.0
    """MixUp's alpha (Keras's ``MixUp``; timm's ``--mixup``, e.g. 0.2): each image blended with another of
    the batch, and their labels with it; 0: off."""
    cutmix: Annotated[float, Field(ge=0)] = 0.0
    """CutMix's alpha (Keras's ``CutMix`` factor; timm's ``--cutmix``, e.g. 1.0): a patch pasted from another
    image, the labels mixed by its area; 0: off. With ``mixup`` too, one of the two is drawn per batch
    (timm's ``--mixup-switch-prob 0.5``)."""

    @property
    def active(self) -> bool:
        return any((self.rotation_range, self.width_shift_range, self.height_shift_range, self.shear_range,
                    self.zoom_range, self.horizontal_flip, self.vertical_flip, self.random_crop,
                    self.rand_augment, self.color_jitter, self.random_erasing, self.mixes))

    @property
    def mixes(self) -> bool:
        """Whether training batches mix images and so carry soft labels (MixUp, CutMix)."""
        return bool(self.mixup or self.cutmix)


class FineTuneConfig(Section):
    """A second phase for a model with a pretrained backbone (Keras's transfer-learning guide): after the
    head has trained on the frozen backbone for the top-level ``epochs``, the chosen backbone layers are
    unfrozen, the model recompiled at the lower ``learning_rate``, and training goes on for ``epochs``
    more. The backbone's BatchNormalization layers stay frozen in both phases."""

    epochs: PositiveInt
    """Epochs of the second phase (the run trains ``epochs + fine_tune.epochs`` in all)."""
    unfreeze: Literal["all"] | PositiveInt = "all"
    """all: the whole backbone trains; N: its last N layers with weights (BatchNormalization not counted),
    as model.params.trainable counts them."""
    learning_rate: PositiveFloat = 1e-4
    """The second phase's rate, typically 1/10 to 1/100 of the first; the optimizer and the schedule's
    shape stay the config's."""


class CallbacksConfig(Section):
    monitor: bool = True
    """TrainingMonitor: history JSON and loss/accuracy plot rewritten after every epoch."""
    checkpoint: Literal["none", "best", "improvements"] = "best"
    checkpoint_format: Literal["keras", "h5"] = "keras"
    checkpoint_dir: str | None = None
    """Folder for best / improvement checkpoints (default: <run folder>/checkpoints)."""
    early_stopping_patience: PositiveInt | None = None
    terminate_on_nan: bool = True
    tensorboard: bool = False

class ReportConfig(Section):
    """The run's report page (report.html)."""

    mistakes: Annotated[int, Field(ge=0)] = 100
    """The misclassified test images it shows at most, most confident first (a cap, said on the page)."""
    heatmaps: bool = True
    """Each mistake's heatmap beside it: where the model looks for the class it predicted (HiResCAM, as
    ``dlcv explain`` draws it; TensorFlow backend, convolutional networks)."""


class RejectConfig(Section):
    """Answer ``unknown`` for images the model is not familiar with (single-label runs): a threshold on a
    familiarity score, chosen on the validation split so that ``keep`` of its images are kept."""

    keep: Annotated[float, Field(gt=0, le=1)] = 0.95
    """The share of validation images kept (given a label); the rest of the scores below the threshold."""
    score: Literal["confidence", "neighbours"] = "confidence"
    """confidence: the calibrated top probability; neighbours: the cosine similarity of the image's
    penultimate-layer features to their 10th nearest training image (Sun et al., 2022)."""
    label: Annotated[str, Field(min_length=1)] = "unknown"
    """The label a rejected image gets (not one of the run's class names)."""


class MlflowConfig(Section):
    """Log the run to MLflow (``pip install mlflow``): the flattened config as parameters, every epoch's
    metrics (step = Keras's epoch index), the test scores, the run folder's files and the model."""

    uri: Annotated[str, Field(min_length=1)] | None = None
    """Tracking URI: a server (``http://127.0.0.1:5000``) or a database (``sqlite:///mlflow.db``); None:
    ``$MLFLOW_TRACKING_URI``, else MLflow's default. A user and password in it (``http://me:pw@host``) are
    taken out as the config is read (:attr:`credentials`): MLflow gets them as its documented
    ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``, and no file or log line ever holds them."""
    experiment: Annotated[str, Field(min_length=1)] = "dlcv"
    """The MLflow experiment the run goes to (created when missing)."""
    parent_run_id: Annotated[str, Field(min_length=1)] | None = None
    """Nest the run under this MLflow run (``dlcv tune`` sets it for its trials: its study's run)."""
    _credentials: tuple[str | None, str | None] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _credentials_out_of_the_uri(self) -> MlflowConfig:
        from ..secrets import split_credentials

        if self.uri is not None:
            clean, user, password = split_credentials(self.uri)
            if user or password:
                self.__dict__["uri"] = clean  # frozen for users of the config; set here, while it is made
                self._credentials = (user, password)
        return self

    @property
    def credentials(self) -> tuple[str | None, str | None] | None:
        """(user, password) taken from the URI, or None; never written (not a field)."""
        return self._credentials


class TrackingConfig(Section):
    """Where a run is recorded besides its run folder."""

    mlflow: MlflowConfig | None = None
    """MLflow tracking (off by default); ``tracking: {mlflow: {}}`` uses ``$MLFLOW_TRACKING_URI``."""


class ExperimentConfig(Section):
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$")] = "quickstart"
    """Run name: outputs go to ``<output_dir>/<name>/`` (letters, digits, ``._-``; not only dots)."""
    description: str = "Digits MLP trained with Nesterov SGD: the quickstart run."
    seed: int = 42
    backend: Backend | None = None
    """Keras backend; None: $KERAS_BACKEND, else tensorflow."""
    output_dir: str = "output"
    epochs: PositiveInt = 30
    batch_size: PositiveInt = 32
    route: Literal["auto", "fast", "fit"] = "auto"
    """fast: each epoch one compiled program over data held on the device (JAX / TensorFlow);
    fit: Keras's model.fit on the input pipeline; auto: fast where it applies, else fit (says why)."""
    window: PositiveInt | Literal["auto"] = "auto"
    """fast route: batches per compiled window (auto: the whole epoch when the training set is on the
    device, fewer with a progress bar; when it is fed from the host, as many as a quarter of the device
    memory budget holds, two windows at a time)."""
    precision: Literal["float32", "mixed_bfloat16", "mixed_float16"] = "float32"
    """Keras dtype policy; mixed_* computes in 16 bits with float32 weights."""
    jit_compile: bool | Literal["auto"] = "auto"
    """XLA compilation of the training step (Keras's compile(jit_compile=...))."""
    class_weight: Literal["none", "balanced"] = "none"
    """balanced: weight each class's loss by n_samples / (n_classes * its count), scikit-learn's
    compute_class_weight, so a rare class counts as much as a common one (SMILES, ch. 22)."""
    sampling: Literal["none", "balanced"] = "none"
    """balanced: each epoch draws every class equally often (a rare class's images repeated, a common
    class's subsampled), as many images as the training split holds; none: each image once per epoch."""
    task: Literal["auto", "single", "multilabel"] = "auto"
    """single: one class per image (softmax); multilabel: any number of classes per image (one sigmoid per
    class, thresholds chosen on validation); auto: multilabel as soon as an image of a label table has other
    than one label, else single."""
    loss: Literal["crossentropy", "focal"] = "crossentropy"
    """crossentropy: the classifier's usual loss (binary per class for multi-label); focal: Keras's
    ``CategoricalFocalCrossentropy`` (``BinaryFocalCrossentropy`` for multi-label; Lin et al., gamma 2, alpha
    0.25), which weighs down the images the model already gets right."""
    distribution: Literal["none", "mirrored", "multi_worker", "data_parallel"] = "none"
    """Scale out: mirrored = TF MirroredStrategy over this machine's GPUs; multi_worker = TF
    MultiWorkerMirroredStrategy across machines (TF_CONFIG); data_parallel = Keras DataParallel (JAX)."""
    dataset: DatasetConfig = DatasetConfig()
    preprocessing: PreprocessingConfig = PreprocessingConfig()
    model: ModelConfig = ModelConfig()
    optimizer: OptimizerConfig = SGDConfig()
    schedule: ScheduleConfig = ConstantSchedule()
    callbacks: CallbacksConfig = CallbacksConfig()
    augmentation: AugmentationConfig = AugmentationConfig()
    fine_tune: FineTuneConfig | None = None
    """Unfreeze a pretrained backbone after ``epochs`` and train on (models with a backbone only)."""
    label_smoothing: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    """Training targets (1 - e) for the true class and e / classes for every class (Szegedy et al.; timm's
    ``--smoothing 0.1``); validation loss is computed the same way, the test loss on the true labels."""
    restore_best: bool = False
    """The run's result (saved model, test report, exports) is the epoch with the lowest validation loss
    (with ``optimizer.ema``: that epoch's averaged weights), not the last epoch."""
    feature_cache: bool | Literal["auto"] = "auto"
    """While a backbone is frozen and nothing augments the images, its features do not change: compute
    them once and train the head on them (auto/true), instead of running the backbone every epoch (false)."""
    report: ReportConfig = ReportConfig()
    calibration: Literal["temperature", "none"] = "temperature"
    """temperature: after training, one temperature (a multi-label run: one per class) chosen on the
    validation split to make the probabilities honest (Guo et al., 2017), stored in calibration.json and
    applied wherever the run predicts; none: the network's own probabilities."""
    reject: RejectConfig | None = None
    """Off by default: ``reject: {keep: 0.95, score: confidence}`` labels unfamiliar images ``unknown``."""
    tracking: TrackingConfig = TrackingConfig()
    search: SearchConfig | None = None
    """``dlcv tune``: the hyperparameter search (``dlcv train`` ignores it)."""
    book: dict[str, Any] | None = None
    """What the book published for this recipe (informational: printed beside our result)."""

    @property
    def total_epochs(self) -> int:
        """Epochs of the whole run: ``epochs``, plus the fine-tuning phase's."""
        return self.epochs + (self.fine_tune.epochs if self.fine_tune else 0)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"search"} if self.search is None else None)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def flat(self) -> dict[str, Any]:
        """The config as dotted keys (``optimizer.learning_rate``); a model's ``params`` and other free
        mappings stay one JSON value each."""
        return _flatten(self.to_dict())


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and key != "params" and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
    return flat
