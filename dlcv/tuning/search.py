"""The search loop: run trials of a config until its study has ``search.trials`` finished ones.

Several processes (on one machine or many) may run it against one study at once: each starts a trial only
while the finished and running trials together are fewer than ``search.trials``, so they stop together
instead of overshooting by one trial each (Optuna's ``optimize(n_trials=...)`` counts per process). A rerun
continues: finished trials are kept, trials of killed processes are failed by their missing heartbeat,
and only the missing ones run.

    config = load_config("configs/tune_digits.yaml")
    study = open_study(config, storage=None, study_name=None)       # dlcv.tuning.study
    search(study, config, "configs/tune_digits.yaml", overrides=[], trials=5)
"""
from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from typing import Any

from .. import files
from ..config import ExperimentConfig
from ..errors import Stopped
from ..runs import STUDY_MARKER
from .space import draw
from .study import best_trial, finished, quiet_optuna, running
from .trial import run_trial, trial_config

log = logging.getLogger(__name__)


def search_and_report(study: Any, config: ExperimentConfig, config_path: str | None, overrides: Sequence[str],
                      trials: int | None = None) -> Any:
    """``dlcv tune``'s search: :func:`search` within the study's MLflow run (tracking on), then its outputs
    (:func:`~dlcv.tuning.outputs.write_outputs`) written and logged, and the summary said."""
    from ..tracking import study_run
    from .outputs import write_outputs

    with study_run(config, study) as tracker:  # the MLflow run the trials nest under (tracking on)
        study = search(study, config, config_path, overrides, trials,
                       parent_run_id=tracker.run_id if tracker else None)
        written = write_outputs(study, config, config_path, overrides)
        if tracker:
            tracker.log_search(best_trial(study), config.search.metric, written)
    log.info(written["summary"].read_text().rstrip())
    return study


def search(study: Any, config: ExperimentConfig, config_path: str | None, overrides: Sequence[str],
           trials: int | None = None, verbose: int | str = "auto", parent_run_id: str | None = None) -> Any:
    """Run trials of ``config`` in ``study`` (:func:`~dlcv.tuning.study.open_study`) until it has ``trials``
    (default ``search.trials``) finished ones, or this process's ``search.timeout`` has passed;
    ``parent_run_id``: the MLflow run the trials' runs nest under."""
    import optuna

    settings = config.search
    total = trials or settings.trials
    files.write_json(config.run_dir / STUDY_MARKER, {"study": study.study_name, "metric": settings.metric})
    quiet_optuna()
    started, failed_here, waiting = time.monotonic(), [], False

    def objective(trial: Any) -> float:
        values = draw(trial, settings.space, config)
        return run_trial(trial, trial_config(config_path, overrides, values, config.run_dir, trial.number,
                                             parent_run_id), settings.metric, verbose)

    log.info(f"study {study.study_name!r}: {finished(study)} of {total} trials finished")
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # trials of killed processes: failed, their places free
        done, elsewhere = finished(study), running(study)
        if done >= total:
            break
        if settings.timeout is not None and time.monotonic() - started >= settings.timeout:
            log.info(f"search.timeout ({settings.timeout:g} s) reached: {done} of {total} trials finished")
            break
        if done + elsewhere >= total:  # the last ones run elsewhere: wait, and take a place they leave
            if not waiting:
                log.info(f"waiting for {elsewhere} trial(s) running elsewhere (one silent for "
                         f"{2 * settings.heartbeat} s is taken as killed, and its place retaken)")
            waiting = True
            time.sleep(min(settings.heartbeat, 5))
            continue
        waiting = False
        if len(failed_here) >= total:
            log.warning(f"{len(failed_here)} trials failed in this process; stopping (see trials.csv for why)")
            break
        if isinstance(study.sampler, optuna.samplers.GridSampler) and study.sampler.is_exhausted(study):
            log.info(f"the grid is done: all {done} combinations tried")  # else Optuna repeats them
            break
        study.optimize(objective, n_trials=1, catch=(Stopped,), callbacks=[
            announcer(settings.metric), lambda _, trial: failed_here.append(trial.number)
            if trial.state.name == "FAIL" else None])
    return study


def announcer(metric: str):
    """A study callback saying one line per finished trial: its number, values, metric (or why it was
    pruned or failed) and the best so far."""
    return lambda study, trial: log.info(trial_line(study, trial, metric))


def trial_line(study: Any, trial: Any, metric: str) -> str:
    values = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    epochs, seconds = trial.user_attrs.get("epochs", 0), trial.user_attrs.get("seconds", 0)
    if trial.state.name == "COMPLETE":
        outcome = f"{metric} {trial.value:.4f}"
    elif trial.state.name == "PRUNED":
        last = trial.intermediate_values.get(max(trial.intermediate_values, default=0))
        outcome = f"pruned after epoch {epochs}" + (f" ({metric} {last:.4f})" if last is not None else "")
    else:
        outcome = "failed: " + trial.user_attrs.get("failure", trial.system_attrs.get("fail_reason", "see the log"))
    best = best_trial(study)
    best_text = f"; best: trial {best.number} ({best.value:.4f})" if best is not None else ""
    return f"trial {trial.number}: {outcome} [{values}], {epochs} epochs, {seconds:.0f} s{best_text}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
