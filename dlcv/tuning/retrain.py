"""``dlcv tune --retrain``: the best trial's config and the config as written, trained on the same split and
scored on its test images, once (the search itself never reads them)."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..config import ExperimentConfig
from ..errors import Stopped
from .outputs import BASELINE_RUN, best_config

log = logging.getLogger(__name__)


def retrain_best(study: Any, config: ExperimentConfig, config_path: str | None, overrides: Sequence[str]) -> dict:
    """Train the study's best config and ``config`` (into ``<run>/baseline``); each one's training result by
    label. Stopped when no trial has completed."""
    from ..training.engine import train

    best = best_config(study, config, config_path, overrides)
    if best is None:
        raise Stopped("--retrain: no trial has completed, so there is no best config to train")
    baseline = config.model_copy(update={"name": BASELINE_RUN, "output_dir": str(config.run_dir), "search": None})
    results = {}
    for label, run_config in (("the best trial's config", best), ("the config as written", baseline)):
        log.info(f"--retrain: training {label} into {run_config.run_dir}/")
        results[label] = train(run_config)
    for label, result in results.items():
        log.info(f"{label}: {result.task.headline(result.evaluation.results())}")
    return results
