"""SIGTERM (a spot instance's notice): a real `dlcv train` process on each route stops after the step or
window in progress, within seconds, saying in one line where and how to resume; `--resume` trains the
rest of that epoch and the epochs after it, ending with exactly the optimizer steps of an uninterrupted
run, each epoch once in the history (dlcv.training.preemption)."""
from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, trained_weights_file
from data_files import write_photo_folders

EPOCHS = {"fit": 3, "fast": 3, "features": 6}
"""Enough epochs left after the first for the signal to land in one (a signal during an epoch's checkpoint is
seen at the next epoch's first step)."""


def overrides(tmp_path, route: str, weights: str | None) -> list[str]:
    common = [f"output_dir={tmp_path}", "name=run", f"epochs={EPOCHS[route]}", "batch_size=8",
              "callbacks.checkpoint=none"]
    if route != "features":
        return [*common, f"route={route}", "window=2"]  # the fast route: windows of 2 batches
    photos = write_photo_folders(tmp_path / "photos", per_class=8, size=(48, 40))
    return [*common, "dataset.name=folder", f"dataset.path={photos}", "dataset.val_size=0.2",
            "preprocessing.width=32", "preprocessing.height=32", "model.name=mobilenet_v3_small",
            f"model.params={{weights: {weights}}}", "callbacks.monitor=true"]


@pytest.mark.slow
@pytest.mark.parametrize("route", ["fit", "fast", "features"])
def test_sigterm_stops_within_an_epoch_and_resume_trains_exactly_the_rest(keras, tmp_path, route):
    from dlcv import app
    from dlcv.config import load_config
    from dlcv.data import count_split

    weights = trained_weights_file(keras, "mobilenet_v3_small", 32, tmp_path)[0] if route == "features" else None
    settings = overrides(tmp_path, route, weights)
    args = [part for setting in settings for part in ("--set", setting)]
    history_path = tmp_path / "run" / "history.json"
    process = subprocess.Popen([sys.executable, "-m", "dlcv", "train", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    while process.poll() is None and not (history_path.exists() and json.loads(history_path.read_text())["loss"]):
        assert time.time() < deadline, "no epoch finished"
        time.sleep(0.01)
    sent = time.time()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    took = time.time() - sent
    assert process.returncode == 143, stderr.decode()[-1500:]
    assert took < 30
    said = [line for line in stderr.decode().splitlines() if line.startswith("dlcv:")]
    assert len(said) == 1 and re.fullmatch(r"dlcv: stopped by SIGTERM in epoch \d+ after \d+ of its \d+ batches, "
                                           r"saved to .+\.keras; run the same command with --resume to continue "
                                           r"from there", said[0]), said
    record = json.loads((tmp_path / "run" / "checkpoints" / "last.json").read_text())
    assert record["batch"] >= 1 and record["epoch"] < EPOCHS[route]

    app.train(None, overrides=settings, resume=True)  # in this process: one TensorFlow start less

    train_images = count_split(load_config(overrides=settings))[0]
    steps = math.ceil(train_images / 8) * EPOCHS[route]  # one optimizer step per batch, nothing repeated
    saved = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert int(keras.ops.convert_to_numpy(saved.optimizer.iterations)) == steps
    history = json.loads(history_path.read_text())
    assert all(len(values) == EPOCHS[route] for values in history.values())  # every epoch once
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["epochs_run"] == EPOCHS[route]
    # the interrupted epoch's logs are the whole epoch's: as the same run uninterrupted logs them
    whole = app.train(None, overrides=[*settings, "name=uninterrupted"]).run_dir / "history.json"
    for key, values in json.loads(whole.read_text()).items():
        assert history[key] == pytest.approx(values, rel=1e-5, abs=1e-7), key


@pytest.mark.slow
def test_sigterm_stops_a_search_in_its_trial_and_the_same_command_continues_the_study(keras, tmp_path):
    import optuna
    import yaml

    from dlcv import app

    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({"name": "search", "output_dir": str(tmp_path), "epochs": 5, "route": "fit",
                                    "callbacks": {"checkpoint": "none"}, "search": {
                                        "trials": 2, "pruner": "none",
                                        "space": {"optimizer.learning_rate": {"log_uniform": [0.01, 0.1]}}}}))
    history = tmp_path / "search" / "trials" / "0" / "history.json"
    process = subprocess.Popen([sys.executable, "-m", "dlcv", "tune", str(path)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    while process.poll() is None and not (history.exists() and json.loads(history.read_text())["loss"]):
        assert time.time() < deadline, "the first trial finished no epoch"
        time.sleep(0.01)
    sent = time.time()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and time.time() - sent < 30, stderr.decode()[-1500:]
    assert [line for line in stderr.decode().splitlines() if line.startswith("dlcv:")][0].startswith(
        "dlcv: stopped by SIGTERM in epoch")
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{tmp_path / 'search' / 'study.db'}")
    [stopped] = study.trials  # the search went no further than the trial it was in
    assert stopped.state.name == "FAIL" and stopped.user_attrs["failure"] == "stopped by SIGTERM"

    app.tune(path)  # the same command again: the study goes on to its two finished trials
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{tmp_path / 'search' / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE", "COMPLETE"]


def test_the_first_sigterm_raises_the_flag_and_a_second_acts_as_before(caplog):
    import os

    caplog.set_level("DEBUG", logger="dlcv")

    from dlcv.training.preemption import on_sigterm

    before = signal.getsignal(signal.SIGTERM)
    # SIGINT as this process was started with it: Python's handler, or SIG_IGN where a non-interactive shell
    # started the suite in the background
    interrupt = signal.getsignal(signal.SIGINT)
    with on_sigterm() as flag:
        assert not flag
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs between bytecodes of this thread
        assert flag and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # a second one ends the process
        assert signal.getsignal(signal.SIGINT) is interrupt  # Ctrl-C untouched
    assert signal.getsignal(signal.SIGTERM) == before
    assert not caplog.records  # one line when the run has stopped (the README's), none as the signal comes


def test_the_rest_of_a_resumed_epoch_is_counted_as_the_run_counts(keras, capsys):
    """Its own fit call would say "Epoch 2/2" and "151/151" for the last 151 of a 3-epoch run's 152 batches."""
    from dlcv.training.preemption import ResumedEpochProgress

    progress = ResumedEpochProgress(epochs=3, done=1)
    progress.set_params({"verbose": 2, "epochs": 2, "steps": 151})  # what fit gives it
    progress.on_train_begin()
    progress.on_epoch_begin(1)
    for batch in range(151):
        progress.on_train_batch_end(batch, {"loss": 0.5})
    progress.on_epoch_end(1, {"loss": 0.5})
    printed = capsys.readouterr().out
    assert printed.startswith("Epoch 2/3\n") and "152/152" in printed and "151/151" not in printed
