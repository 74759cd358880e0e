"""The experiment config: one YAML file describes one training run.

Loading checks the file against the schema: an unknown key, a key given twice, or a value of the wrong
type raises :class:`~dlcv.errors.ConfigError` with one line naming the key. The package's modules, one job
each: :mod:`.fields` (the sections' base and value types, ``choices_of``), :mod:`.schema` (the sections),
:mod:`.optimization` (optimizers and schedules by name), :mod:`.search` (``dlcv tune``'s space),
:mod:`.yaml_file` (reading YAML safely), :mod:`.overrides` (``--set``), :mod:`.messages` (pydantic's errors
as one line), :mod:`.loading` (all of them in order).

This package must not import Keras or TensorFlow: the backend is chosen from the config.
"""
from .fields import BACKENDS, Backend, Decode, Section, choices_of
from .loading import load_config, validate_config
from .optimization import (
    OPTIMIZERS,
    SCHEDULES,
    AdamConfig,
    AdamWConfig,
    ConstantSchedule,
    CosineSchedule,
    InverseTimeSchedule,
    OptimizerConfig,
    ScheduleConfig,
    SGDConfig,
    StepSchedule,
)
from .schema import (
    AugmentationConfig,
    CallbacksConfig,
    ColorJitterConfig,
    DatasetConfig,
    ExperimentConfig,
    FineTuneConfig,
    MlflowConfig,
    ModelConfig,
    PreprocessingConfig,
    RandAugmentConfig,
    RejectConfig,
    ReportConfig,
    TableColumns,
    TrackingConfig,
)
from .search import Scalar, SearchConfig, SearchDistribution
from .yaml_file import MAX_YAML_VALUES

__all__ = [
    "BACKENDS", "MAX_YAML_VALUES", "OPTIMIZERS", "SCHEDULES", "AdamConfig", "AdamWConfig", "AugmentationConfig",
    "Backend", "CallbacksConfig", "ColorJitterConfig", "ConstantSchedule", "CosineSchedule", "DatasetConfig",
    "Decode", "ExperimentConfig", "FineTuneConfig", "InverseTimeSchedule", "MlflowConfig", "ModelConfig",
    "OptimizerConfig", "PreprocessingConfig", "RandAugmentConfig", "RejectConfig", "ReportConfig", "SGDConfig",
    "Scalar",
    "ScheduleConfig", "SearchConfig", "SearchDistribution", "Section", "StepSchedule", "TableColumns", "TrackingConfig",
    "choices_of", "load_config", "validate_config",
]
