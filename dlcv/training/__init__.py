"""Training: optimizers and schedules from configs, callbacks, and the one engine (imports Keras)."""
from .engine import PreparedData, TrainResult, compile_model, prepare_data, train
from .monitor import TrainingMonitor
from .schedules import StepDecay, build_schedule

__all__ = ["PreparedData", "StepDecay", "TrainResult", "TrainingMonitor", "build_schedule",
           "compile_model", "prepare_data", "train"]
