"""The experiment schema: one YAML file describes one training run.

Every field has a default, and the defaults *are* the quickstart run (``configs/quickstart.yaml`` spells
them out). Loading checks the file against the schema: an unknown key, a key given twice, or a value of
the wrong type raises :class:`~dlcv.errors.ConfigError` with one line naming the key. The rules that
look beyond one value (a path that must exist, a model name in the registry, a route the backend can
run) are :func:`dlcv.checks.check_config`'s; the schema alone never touches the disk, so a run folder's
saved config reads back wherever the run folder goes.

    >>> config = load_config("configs/keras_mnist.yaml", overrides=["optimizer.learning_rate=0.05"])
    >>> config.optimizer.learning_rate, config.model.name
    (0.05, 'mlp')
    >>> load_config(overrides=["epochs=ten"])
    Traceback (most recent call last):
    dlcv.errors.ConfigError: config: epochs: input should be a valid integer, got 'ten'

(The path is the repository's: doctests run from its root, as CI runs them.)

This module must not import Keras or TensorFlow: the backend is chosen from the config.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError

Backend = Literal["tensorflow", "jax", "torch"]
BACKENDS: tuple[str, ...] = get_args(Backend)
"""The Keras backends dlcv runs on (each is also the name of its package)."""
PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]
Decode = Literal["exact", "fast"]
"""How an image file becomes pixels: exact (a full decode, as a client's cv2.imread) or fast (large JPEGs
decoded at a reduced scale: quicker, a few grey levels off what a client sends)."""


class Section(BaseModel):
    # strict: YAML "10" is a string, not an epoch count; extra="forbid": a typo is an error, not a no-op.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DatasetConfig(Section):
    name: str = "digits"
    """Registered dataset: digits, mnist, cifar10, folder, hdf5 (``dlcv.data.DATASETS``)."""
    path: str | None = None
    """Folder or file the dataset is read from: a class-folder tree (folder), a store (hdf5), or where
    mnist.npz / cifar-10-python.tar.gz lie (mnist, cifar10; default: datasets/, then Keras's cache)."""
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
    val_size); auto = folders when the folder is laid out so, else random."""
    group_by: str | None = None
    """folder datasets, random splits: a regular expression on the file name whose match (its first group,
    if it has one) names a group kept in one split, e.g. '^[^_]+' for burst shots named IMG1234_1.jpg,
    IMG1234_2.jpg; files it does not match are groups of their own."""

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


class OptimizerSection(Section):
    """What every optimizer takes: weight averaging and gradient clipping."""

    ema: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Exponential moving average of the weights (0: off; e.g. 0.999): validation, checkpoints, the test
    report and the saved model use the averaged weights, with BatchNormalization statistics recomputed
    for them. The average warms up as TensorFlow's ``ExponentialMovingAverage(num_updates=...)``: its
    momentum is min(ema, (1 + step) / (10 + step)), so a run shorter than 1 / (1 - ema) steps still
    averages its recent weights, not its initial ones."""
    clipnorm: PositiveFloat | None = None
    """Keras's ``clipnorm``: each weight's gradient is rescaled to at most this L2 norm (per variable, not
    PyTorch's global ``clip_grad_norm_``)."""


class SGDConfig(OptimizerSection):
    """Stochastic gradient descent: plain, with momentum, or Nesterov's (the book's optimizer)."""

    name: Literal["sgd"] = "sgd"
    learning_rate: PositiveFloat = 0.05
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    nesterov: bool = True
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    """Keras's decoupled weight decay: after each step w -= learning_rate * weight_decay * w (biases and
    normalisation layers excluded, as timm does). Not PyTorch SGD's ``weight_decay``, an L2 term added to
    the gradient, which momentum amplifies by 1 / (1 - momentum): a timm / torchvision recipe's SGD
    weight_decay 5e-4 with momentum 0.9 is about 5e-4 / (1 - 0.9) = 5e-3 here."""


class AdamConfig(OptimizerSection):
    """Adam, with Keras's defaults (the smile detector's optimizer, ch. 22)."""

    name: Literal["adam"]
    learning_rate: PositiveFloat = 0.001
    beta_1: Fraction = 0.9
    beta_2: Fraction = 0.999
    epsilon: PositiveFloat = 1e-7


class AdamWConfig(OptimizerSection):
    """AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, with Keras's defaults."""

    name: Literal["adamw"]
    learning_rate: PositiveFloat = 0.001
    weight_decay: Annotated[float, Field(ge=0)] = 0.004
    """Decoupled, as SGD's (biases and normalisation layers excluded); the same as PyTorch's AdamW's."""
    beta_1: Fraction = 0.9
    beta_2: Fraction = 0.999
    epsilon: PositiveFloat = 1e-7


def _optimizer_name(value: Any) -> Any:
    """An optimizer section without ``name`` is SGD (so ``--set optimizer.learning_rate=...`` just works)."""
    return value.get("name", "sgd") if isinstance(value, dict) else getattr(value, "name", None)


OPTIMIZERS: dict[str, type[Section]] = {"sgd": SGDConfig, "adam": AdamConfig, "adamw": AdamWConfig}
"""Every optimizer by its ``name``: the schema's choice is built from it, and so are the trainer's
(:mod:`dlcv.training.optimizers`)."""
OptimizerConfig = Annotated[
    Union[tuple(Annotated[section, Tag(name)] for name, section in OPTIMIZERS.items())],  # noqa: UP007
    Discriminator(_optimizer_name),
]


class ConstantSchedule(Section):
    name: Literal["constant"] = "constant"


class InverseTimeSchedule(Section):
    """Keras 2's optimizer ``decay``: lr = lr0 / (1 + decay * iteration), applied every batch."""

    name: Literal["inverse_time"]
    decay: Annotated[float, Field(ge=0)]


class StepSchedule(Section):
    """The book's step decay: lr = lr0 * factor ** floor((1 + epoch) / drop_every)."""

    name: Literal["step"]
    factor: Fraction = 0.25
    drop_every: PositiveInt = 5


class CosineSchedule(Section):
    """Cosine decay to ``alpha * lr0`` over the run, after an optional linear warm-up."""

    name: Literal["cosine"]
    warmup_epochs: Annotated[int, Field(ge=0)] = 0
    alpha: Annotated[float, Field(ge=0, le=1)] = 0.0


SCHEDULES: dict[str, type[Section]] = {
    "constant": ConstantSchedule, "inverse_time": InverseTimeSchedule, "step": StepSchedule, "cosine": CosineSchedule,
}
"""Every learning-rate schedule by its ``name``: the schema's choice is built from it, and so are the
trainer's (:mod:`dlcv.training.schedules`)."""
ScheduleConfig = Annotated[Union[tuple(SCHEDULES.values())], Field(discriminator="name")]  # noqa: UP007


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


Scalar = bool | int | float | str
"""A value a search can choose: Optuna stores plain values only."""
Bounds = Annotated[list[float], Field(min_length=2, max_length=2)]
IntBounds = Annotated[list[int], Field(min_length=2, max_length=2)]


class Distribution(Section):
    """One searched key's values: exactly one of ``uniform``, ``log_uniform``, ``int_uniform`` (each
    ``[low, high]``, both included) or ``choice`` (a list of plain values); ``when`` draws the key only in
    trials where other keys have these values (Optuna's define-by-run conditional spaces), e.g.
    ``optimizer.momentum: {uniform: [0.8, 0.99], when: {optimizer.name: sgd}}``."""

    uniform: Bounds | None = None
    log_uniform: Bounds | None = None
    int_uniform: IntBounds | None = None
    choice: Annotated[list[Scalar], Field(min_length=1)] | None = None
    when: dict[str, Scalar] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Distribution:
        given = [kind for kind in DISTRIBUTIONS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(f"expected exactly one of {', '.join(DISTRIBUTIONS)}, got "
                             f"{', '.join(given) if given else 'none'}")
        bounds = self.bounds
        if bounds is not None and bounds[0] > bounds[1]:
            raise ValueError(f"low {bounds[0]} > high {bounds[1]}; expected [low, high]")
        if self.log_uniform is not None and self.log_uniform[0] <= 0:
            raise ValueError(f"log_uniform needs bounds > 0, got low {self.log_uniform[0]}")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in DISTRIBUTIONS if getattr(self, kind) is not None)

    @property
    def bounds(self) -> list[float] | None:
        return self.uniform or self.log_uniform or self.int_uniform

    @property
    def finite(self) -> bool:
        """Whether the values can be listed (a grid search's condition)."""
        return self.choice is not None or self.int_uniform is not None

    def values(self) -> list[Scalar]:
        """Every value a finite distribution draws."""
        if self.choice is not None:
            return list(self.choice)
        if self.int_uniform is not None:
            return list(range(self.int_uniform[0], self.int_uniform[1] + 1))
        raise ValueError(f"{self.kind} has no finite list of values")

    def extremes(self) -> list[Scalar]:
        """The values that bound what a trial can draw: both ends of a range, every choice."""
        return list(self.choice) if self.choice is not None else list(dict.fromkeys(self.bounds))


DISTRIBUTIONS = ("uniform", "log_uniform", "int_uniform", "choice")


class SearchConfig(Section):
    """``dlcv tune``'s hyperparameter search (Optuna): which keys to search and how to judge a trial.
    Each trial is an ordinary training run of the config with the drawn values, judged on the validation
    split only: it never reads the test split."""

    space: Annotated[dict[str, Distribution], Field(min_length=1)]
    """Dotted config keys and their distributions, e.g. ``optimizer.learning_rate: {log_uniform: [1.0e-4,
    0.3]}``, ``batch_size: {choice: [32, 64, 128]}``."""
    metric: Literal["val_accuracy", "val_loss"] = "val_accuracy"
    """What a trial is judged by: the final model's (with ``restore_best``, its best epoch's) value;
    reported after every epoch for pruning."""
    trials: PositiveInt = 20
    """The study's total of finished trials (complete or pruned), however many processes share it: four
    machines with ``trials: 100`` finish 100 together, and a rerun runs only the missing ones."""
    timeout: PositiveFloat | None = None
    """Seconds this process searches for at most (no new trial starts after it)."""
    pruner: Literal["median", "hyperband", "none"] = "median"
    """Stops a trial whose validation metric is worse than the median (or hyperband's bracket) at the
    same epoch (Optuna's MedianPruner: not before five trials have finished, nor before a tenth of the
    epochs)."""
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    """tpe (Optuna's default), random, or grid (every combination; choice and int_uniform keys only)."""
    heartbeat: PositiveInt = 60
    """Seconds between a running trial's heartbeats in the study; a trial silent for two of them (its
    process was killed) is marked failed when a process next starts a trial, and its place is taken."""

    @model_validator(mode="after")
    def _grid_is_finite(self) -> SearchConfig:
        if self.sampler == "grid":
            infinite = [key for key, d in self.space.items() if not d.finite]
            if infinite:
                raise ValueError(f"sampler grid needs choice or int_uniform keys; {', '.join(infinite)} "
                                 "is a continuous range")
        return self


class ReportConfig(Section):
    """The run's report page (report.html)."""

    mistakes: Annotated[int, Field(ge=0)] = 100
    """The misclassified test images it shows at most, most confident first (a cap, said on the page)."""


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
        from .secrets import split_credentials

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


def choices_of(section: type[BaseModel], key: str) -> list:
    """The values a config key may take, as its schema states them (a ``Literal``, None left out): the
    command line offers the same choices as the config.

        >>> choices_of(PreprocessingConfig, "resize")
        ['simple', 'aspect_aware', 'pad']
    """
    def literals(annotation) -> list:
        if get_origin(annotation) is Literal:
            return list(get_args(annotation))
        return [value for arg in get_args(annotation) for value in literals(arg)]

    return literals(section.model_fields[key].annotation)


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and key != "params" and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
    return flat


class _Loader(yaml.SafeLoader):
    """YAML with YAML 1.2's floats: PyYAML (YAML 1.1) reads ``1e-3`` as a string, not a number."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


MAX_YAML_VALUES = 10_000
"""The most values a config may expand to (a config has about a hundred): YAML aliases repeat a node
without repeating its text, so a few hundred bytes of nested aliases could stand for billions of values."""


def _parse_yaml(text: str, source: str = "config"):
    """YAML 1.2 floats, a key given twice in one mapping is an error (PyYAML keeps the last silently), and
    aliases may not expand the document beyond :data:`MAX_YAML_VALUES`; in time linear in the text."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded = _expanded_size(node, {})
        if expanded > MAX_YAML_VALUES:
            raise ConfigError(f"{source}: its aliases (*name) expand it to more than {MAX_YAML_VALUES:,} values; "
                              "expected a config without nested aliases")
        _refuse_duplicate_keys(node, source, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes ``node`` stands for once every alias is expanded, each distinct node counted once
    (an alias is the same node object as its anchor, so this is linear in the text), capped."""
    if id(node) in sizes:
        return sizes[id(node)]
    sizes[id(node)] = MAX_YAML_VALUES + 1  # a node that contains itself expands without end
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    else:
        children = []
    total = 1
    for child in children:
        total = min(total + _expanded_size(child, sizes), MAX_YAML_VALUES + 1)
    sizes[id(node)] = total
    return total


def _refuse_duplicate_keys(node: yaml.Node, source: str, visited: set[int], prefix: str = "") -> None:
    if id(node) in visited:  # an alias of a node already checked
        return
    visited.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, source, visited, prefix)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        where = f"{prefix}{key}"
        line = key_node.start_mark.line + 1
        if key is not None and key in seen:
            raise ConfigError(f"{source}: {where}: duplicate key at lines {seen[key]} and {line}; "
                              "expected each key once")
        if key is not None:
            seen[key] = line
        _refuse_duplicate_keys(value_node, source, visited, f"{where}.")


def load_config(path: str | os.PathLike | None = None, overrides: list[str] = (),
                values: dict[str, Any] | None = None) -> ExperimentConfig:
    """Read and validate a YAML config (None: the quickstart defaults), then apply ``KEY=VALUE`` overrides,
    then ``values`` (dotted keys to Python values, as a search draws them), as the file would have them."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_yaml(Path(path))
    for override in overrides:
        _apply_override(raw, override)
    for key, value in (values or {}).items():
        _set_key(raw, key, value, f"{key}={value!r}")
    return validate_config(raw, source=str(path) if path else "config")


def validate_config(raw: dict[str, Any], source: str = "config") -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {str(path)!r}; expected a YAML file (see configs/)")
    try:
        raw = _parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; expected a UTF-8 YAML config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level, "
                          f"got {type(raw).__name__}")
    return raw


def _apply_override(raw: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` in the nested dict; the value is parsed as YAML (so 0.05 is a number)."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {override!r}: expected KEY=VALUE, e.g. optimizer.learning_rate=0.05")
    try:
        value = _parse_yaml(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    _set_key(raw, key.strip(), value, f"override {override!r}")


def _set_key(raw: dict[str, Any], key: str, value: Any, what: str) -> None:
    node = raw
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{what}: {'.'.join(parts[:i + 1])} is not a section")
        node = child
    node[parts[-1]] = value


def _describe(exc: ValidationError) -> str:
    """One line for the first error: where it is, what was wrong, what was expected."""
    errors = exc.errors(include_url=False)
    error, where = errors[0], _key_path(errors[0]["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        section, key = error["loc"][:-1], str(error["loc"][-1])
        key = key if key.isprintable() else repr(key)
        where = f"{_key_path(section)}.{key}" if section else key
        schema = _section_at(section)
        own = vars(schema).get("__annotations__", {})  # a section's own keys before those it shares (ema, ...)
        keys = sorted(schema.model_fields, key=lambda k: (k != "name", k not in own))
        return f"{where}: unknown key; expected one of: {', '.join(keys)}"
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        if not isinstance(error["input"], dict):
            return f"{where}: expected a mapping of keys, got {_shown(error['input'])}"
        return (f"{where}.name: expected one of: {', '.join(TAGGED_SECTIONS[where])}, "
                f"got {_shown(error['input'].get('name'))}")
    if kind in ("model_type", "model_attributes_type"):
        return f"{where}: expected a mapping of keys, got {_shown(error['input'])}"
    if kind == "value_error":
        return f"{where}: " + error["msg"].removeprefix("Value error, ")
    # A field that takes one of several types (true/false or "auto") fails once per type: say them all.
    alternatives = [e["msg"][0].lower() + e["msg"][1:] for e in errors if _key_path(e["loc"]) == where]
    return f"{where}: {' or '.join(dict.fromkeys(alternatives))}, got {_shown(error['input'])}"


def _key_path(loc: tuple) -> str:
    """The dotted key the user wrote, without the union-member tags pydantic adds to a location."""
    parts, section, keyed = [], ExperimentConfig, None
    for i, part in enumerate(loc):
        if keyed is not None:  # a key of a mapping of sections (search.space's config keys)
            parts.append(str(part))
            section, keyed = keyed, None
            continue
        if section is None or part not in section.model_fields:
            continue  # a union tag such as "bool", "constrained-float" or a schedule's name
        parts.append(str(part))
        annotation = section.model_fields[part].annotation
        if get_origin(annotation) is dict:
            keyed = _section_of(get_args(annotation)[1])
            section = None if keyed is None else section
        elif section is ExperimentConfig and part in TAGGED_SECTIONS:
            section = _tagged_section(part, loc[i + 1] if len(loc) > i + 1 else None)
        else:
            section = _section_of(section.model_fields[part].annotation)
    return ".".join(parts) or "(top level)"


def _section_of(annotation: Any) -> type[BaseModel] | None:
    """The section a field holds: its model, or the model of an optional one (``X | None``)."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


TAGGED_SECTIONS = {"schedule": SCHEDULES, "optimizer": OPTIMIZERS}
"""Sections whose keys depend on their ``name``; pydantic puts the name in an error's location."""


def _tagged_section(section: str, tag: Any) -> type[BaseModel]:
    choices = TAGGED_SECTIONS[section]
    return choices.get(tag, next(iter(choices.values())))


def _section_at(loc: tuple) -> type[BaseModel]:
    """The schema section at a validation location, e.g. ("optimizer", "sgd") -> SGDConfig."""
    if loc[:1] and loc[0] in TAGGED_SECTIONS:
        return _tagged_section(loc[0], loc[1] if len(loc) > 1 else None)
    section: type[BaseModel] = ExperimentConfig
    keyed = False
    for part in loc:
        if keyed:  # a mapping's key: its values are the section already found
            keyed = False
            continue
        annotation = section.model_fields[part].annotation
        keyed = get_origin(annotation) is dict
        section = _section_of(get_args(annotation)[1] if keyed else annotation) or section
    return section
