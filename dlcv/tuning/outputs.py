"""What a search leaves in its folder: ``best.yaml`` (the best trial's complete config, ready for
``dlcv train``), ``trials.csv``, Optuna's plots as PNG, and ``summary.txt`` (one screen).

    paths = write_outputs(study, config, "configs/tune_digits.yaml", [])
"""
from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import files
from ..config import ExperimentConfig, load_config
from .study import best_trial

log = logging.getLogger(__name__)

BEST_RUN = "best"
"""``best.yaml`` trains into ``<search folder>/best/``; the config as written (``--retrain``) into baseline/."""
BASELINE_RUN = "baseline"


def best_config(study: Any, config: ExperimentConfig, config_path: str | None,
                overrides: Sequence[str]) -> ExperimentConfig | None:
    """The config with the best trial's values, training into ``<search folder>/best/`` (None: no
    trial has completed)."""
    best = best_trial(study)
    if best is None:
        return None
    return load_config(config_path, list(overrides), {**best.params, "name": BEST_RUN,
                                                      "output_dir": str(config.run_dir), "search": None})


def write_outputs(study: Any, config: ExperimentConfig, config_path: str | None,
                  overrides: Sequence[str]) -> dict[str, Path]:
    folder, written = config.run_dir, {}
    written["trials"] = folder / "trials.csv"
    files.write_text(written["trials"], trials_csv(study, config.search.metric))
    best = best_config(study, config, config_path, overrides)
    if best is not None:
        written["best"] = folder / "best.yaml"
        files.write_text(written["best"], f"# the best trial ({best_trial(study).number}) of study "
                                          f"{study.study_name!r}: dlcv train {written['best']}\n" + best.to_yaml())
    written.update(write_plots(study, folder))
    written["summary"] = folder / "summary.txt"
    files.write_text(written["summary"], summary(study, config, written))
    return written


def trials_csv(study: Any, metric: str) -> str:
    """number, state, one column per searched key, the metric (a complete trial's alone), epochs run,
    seconds, and why a trial that did not complete stopped."""
    keys = list(dict.fromkeys(k for t in study.trials for k in t.params))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["number", "state", *keys, metric, "epochs_run", "seconds", "failure"])
    for t in study.trials:
        complete = t.state.name == "COMPLETE"
        writer.writerow([t.number, t.state.name.lower(), *(t.params.get(k, "") for k in keys),
                         f"{t.value:.6g}" if complete and t.value is not None else "",
                         t.user_attrs.get("epochs", ""), t.user_attrs.get("seconds", ""),
                         "" if complete else _why_not_complete(t)])
    return out.getvalue()


def _why_not_complete(trial: Any) -> str:
    """Why a trial has no value: pruned (with its last reported value), failed (its error, or its process
    gone), or still running (or killed, until its heartbeat expires)."""
    reported = trial.intermediate_values
    last = f" after epoch {max(reported)} ({max(reported)}: {reported[max(reported)]:.6g})" if reported else ""
    state = trial.state.name
    if state == "PRUNED":
        return f"pruned{last}"
    if state == "FAIL":
        return trial.user_attrs.get("failure") or f"its process stopped{last or ' before any epoch'} (killed?)"
    return f"not finished{last}: running, or its process was killed (failed once its heartbeat expires)"


def write_plots(study: Any, folder: Path) -> dict[str, Path]:
    """Optuna's optimisation history, parameter importances and slice plot (matplotlib), each skipped with
    a line where the study is too small for it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as plots

    written = {}
    for name, plot in (("optimization_history", plots.plot_optimization_history),
                       ("param_importances", plots.plot_param_importances), ("slice", plots.plot_slice)):
        try:
            with warnings.catch_warnings():  # "experimental", and "too few trials for importances"
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.simplefilter("ignore", UserWarning)
                axes = plot(study)
        except (ValueError, RuntimeError) as exc:  # e.g. importances need two complete trials
            log.info(f"{name}.png: not drawn ({exc})")
            continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.set_size_inches(max(figure.get_size_inches()[0], 8), max(figure.get_size_inches()[1], 5))
        path = folder / f"{name}.png"
        with files.atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        plt.close(figure)
        written[name] = path
    return written


def summary(study: Any, config: ExperimentConfig, written: dict[str, Path]) -> str:
    states = [t.state.name.lower() for t in study.trials]
    counts = ", ".join(f"{states.count(s)} {s}" for s in ("complete", "pruned", "fail", "running") if s in states)
    lines = [f"study {study.study_name!r}: {len(states)} trials ({counts}); judged on {config.search.metric} "
             "(validation split; the test split was not read)"]
    best = best_trial(study)
    if best is None:
        lines.append("no trial has completed yet")
    else:
        lines.append(f"best: trial {best.number}, {config.search.metric} {best.value:.4f}")
        lines += [f"  {key} = {value!r}" for key, value in best.params.items()]
        lines.append(f"train it: dlcv train {written['best']}   (or dlcv tune ... --retrain: its test accuracy "
                     "beside the config as written)")
    lines.append("files: " + ", ".join(str(p) for p in written.values()))
    return "\n".join(lines) + "\n"
