"""The reliability suite: what an unattended run survives — kills, unwritable folders, bad files, bad
configs, divergence — and what it promises: atomic outputs and bit-identical seeded runs."""
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from data_files import add_bad_files, write_class_folders
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcv import cli
from dlcv.config import ExperimentConfig, load_config


def short_config(tmp_path, *overrides):
    return load_config(overrides=[f"output_dir={tmp_path}", "name=run", "epochs=3", *overrides])


# ---- SIGKILL and --resume ---------------------------------------------------------------------------


def _history(path: Path) -> dict[str, list]:
    try:  # not "if path.exists()": a fresh start's run.clear() can remove it between the check and the read
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


@pytest.mark.slow
def test_five_sigkills_at_random_points_each_resumed(tmp_path):
    """Kill a real training process five times at random moments, resume each time, lose nothing."""
    seed = int.from_bytes(os.urandom(4), "little")
    rng, epochs = random.Random(seed), 25  # five kills take 5-20 epochs: the last run still trains some
    context = f"(kill points drawn with random seed {seed})"
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"  # tracked too: a resumed run continues its MLflow run
    args = ["--set", f"output_dir={tmp_path}", "--set", "name=killed", "--set", f"epochs={epochs}",
            "--set", "callbacks.checkpoint=improvements", "--set", f"tracking.mlflow.uri={store}"]
    run_dir = tmp_path / "killed"
    history_path = run_dir / "history.json"
    committed = []  # (epochs the resume record had committed, the history as it stood) at each kill
    record_path = run_dir / "checkpoints" / "last.json"
    for kill in range(5):
        # A kill before the first epoch is committed leaves nothing to resume: start afresh, as a user would.
        command = [sys.executable, "-m", "dlcv", "train", *args] + (["--resume"] if record_path.exists() else [])
        # in tmp_path: MLflow puts an SQLite store's artefacts in ./mlruns
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        target = len(_history(history_path).get("loss", [])) + rng.randint(1, 4)
        deadline = time.time() + 120
        while len(_history(history_path).get("loss", [])) < target and process.poll() is None:
            assert time.time() < deadline, f"no progress before kill {kill + 1} {context}"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.4))  # anywhere in the epoch: mid-batch, mid-plot, mid-checkpoint
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate()
        assert process.returncode == -signal.SIGKILL, f"kill {kill + 1} came too late {context}: " \
                                                      f"{stderr.decode()[-500:]}"
        epoch = json.loads(record_path.read_text())["epoch"] if record_path.exists() else 0
        committed.append((epoch, _history(history_path)))

    assert record_path.exists(), context
    finished = subprocess.run([sys.executable, "-m", "dlcv", "train", *args, "--resume"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    history = _history(history_path)
    assert history and all(len(values) == epochs for values in history.values()), context
    for epoch, before in committed:  # epochs committed before a kill are kept as they were, not re-run
        assert all(history[key][:epoch] == before[key][:epoch] for key in history), context
    import keras

    checkpoints = sorted((run_dir / "checkpoints").glob("*.keras")) + [run_dir / "model.h5"]
    assert len(checkpoints) >= 3
    for checkpoint in checkpoints:
        keras.models.load_model(checkpoint)
    assert not list(run_dir.rglob(".tmp-*")) and not (run_dir / ".lock").exists(), context
    assert json.loads((run_dir / "results.json").read_text())["epochs_run"] == epochs  # before the kills too
    # one MLflow run, FINISHED, holding each epoch once as the run folder has it (a kill before the first
    # commit is a fresh start: the run it replaced is ended KILLED, never left RUNNING)
    from mlflow import MlflowClient

    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("dlcv").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED"] + ["KILLED"] * (len(runs) - 1), context
    (finished_run,) = [r for r in runs if r.info.status == "FINISHED"]
    assert finished_run.info.run_id == json.loads((run_dir / "mlflow.json").read_text())["run_id"]
    logged = client.get_metric_history(finished_run.info.run_id, "loss")
    assert [m.step for m in logged] == list(range(epochs)), context
    assert [m.value for m in logged] == pytest.approx(history["loss"], rel=1e-6)


# ---- atomic outputs; an output folder that cannot be written ----------------------------------------


def test_every_artefact_of_a_run_is_written_by_rename(keras, tmp_path, monkeypatch):
    renamed, real_replace = set(), os.replace

    def recording_replace(source, destination, **kwargs):
        renamed.add(Path(destination).resolve())
        return real_replace(source, destination, **kwargs)

    monkeypatch.setattr(os, "replace", recording_replace)
    from dlcv.training.engine import train

    result = train(short_config(tmp_path, "callbacks.checkpoint=improvements"), verbose=0)
    written = {path.resolve() for path in result.run_dir.rglob("*") if path.is_file()}
    assert {"history.json", "model.h5", "results.json", "confusion_matrix.png"} <= {p.name for p in written}
    assert written - renamed == set()  # none was written in place, where a kill would leave half a file
    assert not list(result.run_dir.rglob(".tmp-*"))


def _unwritable_folders(tmp_path: Path) -> dict[str, Path]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folders = {"below a file": blocker / "runs"}
    if os.geteuid() != 0:  # root writes anywhere, whatever the mode bits say
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o500)
        folders["read-only"] = read_only
    return folders


def test_an_unwritable_output_folder_is_refused_before_any_data_is_read(tmp_path, monkeypatch, capsys):
    from dlcv import app
    from dlcv.training import engine

    def must_not_run(*args, **kwargs):
        raise AssertionError("the data was read (or Keras started) before the output folder was checked")

    monkeypatch.setattr(engine, "prepare_data", must_not_run)
    monkeypatch.setattr(app, "start_keras", must_not_run)
    for why, folder in _unwritable_folders(tmp_path).items():
        code = cli.main(["train", "--set", f"output_dir={folder}", "--set", "name=run"])
        error = capsys.readouterr().err
        assert code == 2, why
        assert error.count("\n") == 1 and "is not writable" in error and str(folder) in error, why


# ---- a folder of images with every kind of bad file -------------------------------------------------


def test_a_folder_with_bad_files_trains_and_reports_what_it_skipped(keras, tmp_path, capsys, console_output):
    from dlcv.training.engine import train

    root = write_class_folders(tmp_path / "animals", per_class=10)
    bad = add_bad_files(root / "dogs", sorted((root / "cats").glob("*.jpg"))[0])
    bad += add_bad_files(root / "panda", sorted((root / "cats").glob("*.jpg"))[0])
    config = short_config(tmp_path, "dataset.name=folder", f"dataset.path={root}", "preprocessing.width=8",
                          "preprocessing.height=8", "dataset.test_size=0.25")
    result = train(config, verbose=0)
    assert len(result.prepared.skipped) == len(bad) == 14
    assert sum(len(s.labels) for s in vars(result.prepared.splits).values()) == 30
    warning = [line for line in capsys.readouterr().err.splitlines() if "unreadable" in line]
    assert len(warning) == 1 and "skipped 14 unreadable image file(s)" in warning[0]
    listed = (result.run_dir / "skipped_files.txt").read_text().splitlines()
    assert sorted(listed) == sorted(str(p) for p in bad)
    assert json.loads((result.run_dir / "results.json").read_text())["skipped_files"] == 14


# ---- malformed configs ------------------------------------------------------------------------------

# Every leaf of the schema, with values that are the wrong type or out of range for it. Strict
# validation: "10" is not an int, 1 is not a bool, 1.5 is not an int.
_TEXT = st.text(min_size=1, max_size=12).filter(lambda s: s not in ("official", "auto"))
_NOT_A_NUMBER = st.one_of(_TEXT, st.lists(st.integers(), max_size=2), st.booleans(),
                          st.dictionaries(st.sampled_from("ab"), st.integers(), min_size=1, max_size=1))
_NOT_AN_INT = st.one_of(_NOT_A_NUMBER, st.floats(allow_nan=False, allow_infinity=False).filter(
    lambda v: not float(v).is_integer()))
_NOT_POSITIVE = st.integers(max_value=0)
_NOT_A_BOOL = st.one_of(_TEXT, st.integers(), st.lists(st.booleans(), max_size=2))
_NOT_A_STRING = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                          st.lists(_TEXT, min_size=1, max_size=2))
_NOT_A_FRACTION = st.one_of(_NOT_A_NUMBER, st.floats(min_value=1.0, max_value=1e6),
                            st.floats(max_value=0.0, min_value=-1e6))

_BAD_VALUES = {
    "name": st.one_of(_NOT_A_STRING, st.just(""), st.sampled_from(["my run", "a/b", "../up", "x:y"])),
    "description": _NOT_A_STRING,
    "seed": _NOT_AN_INT,
    "backend": st.one_of(_TEXT, st.integers()),
    "output_dir": _NOT_A_STRING,
    "epochs": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "batch_size": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "route": st.one_of(_TEXT, st.integers()),
    "precision": st.one_of(_TEXT, st.floats(allow_nan=False)),
    "jit_compile": st.one_of(_TEXT, st.integers()),
    "distribution": st.one_of(_TEXT, st.booleans()),
    "dataset.name": _NOT_A_STRING,
    "dataset.path": st.one_of(_NOT_A_STRING, st.just("no/such/folder")),
    "dataset.test_size": _NOT_A_FRACTION,
    "dataset.val_size": _NOT_A_FRACTION,
    "dataset.streaming": st.one_of(_TEXT, st.integers()),
    "dataset.memory_budget": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "dataset.cache": st.one_of(_TEXT.filter(lambda s: s not in ("disk", "none")), st.booleans()),
    "dataset.cache_dir": _NOT_A_STRING,
    "preprocessing.width": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "preprocessing.height": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "preprocessing.channels": st.one_of(st.integers().filter(lambda n: n not in (1, 3)), _TEXT),
    "preprocessing.resize": st.one_of(_TEXT, st.integers()),
    "model.name": _NOT_A_STRING,
    "model.params": st.one_of(_TEXT, st.integers(), st.lists(st.integers(), max_size=2)),
    "optimizer.name": st.one_of(_TEXT.filter(lambda s: s != "sgd"), st.integers()),
    "optimizer.learning_rate": st.one_of(_NOT_A_NUMBER, st.floats(max_value=0.0, min_value=-10.0)),
    "optimizer.momentum": st.one_of(_NOT_A_NUMBER, st.floats(min_value=1.0, max_value=1e3),
                                    st.floats(max_value=-1e-6, min_value=-1e3)),
    "optimizer.nesterov": _NOT_A_BOOL,
    "schedule.name": st.one_of(_TEXT.filter(lambda s: s not in ("constant", "step", "cosine",
                                                                "inverse_time")), st.integers()),
    "callbacks.monitor": _NOT_A_BOOL,
    "callbacks.checkpoint": st.one_of(_TEXT, st.booleans()),
    "callbacks.checkpoint_format": st.one_of(_TEXT, st.integers()),
    "callbacks.checkpoint_dir": _NOT_A_STRING,
    "callbacks.early_stopping_patience": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "callbacks.terminate_on_nan": _NOT_A_BOOL,
    "callbacks.tensorboard": _NOT_A_BOOL,
}
_STEP_SCHEDULE_BAD = {"schedule.factor": _NOT_A_FRACTION,
                      "schedule.drop_every": st.one_of(_NOT_AN_INT, _NOT_POSITIVE)}
_SECTIONS = ["dataset", "preprocessing", "model", "optimizer", "schedule", "callbacks"]


@st.composite
def malformed_configs(draw) -> tuple[dict, str]:
    """A valid config with one thing broken, and the dotted key the error must name."""
    config = ExperimentConfig().to_dict()
    config["schedule"] = {"name": "step", "factor": 0.5, "drop_every": 2}
    kind = draw(st.sampled_from(["bad value", "bad value", "bad value", "unknown key", "not a section"]))
    if kind == "unknown key":
        section = draw(st.sampled_from([None, *_SECTIONS]))
        node = config if section is None else config[section]
        key = draw(st.from_regex(r"[a-z][a-z_]{0,14}", fullmatch=True).filter(lambda k: k not in node))
        node[key] = draw(st.one_of(st.integers(), _TEXT))
        return config, key if section is None else f"{section}.{key}"
    if kind == "not a section":
        section = draw(st.sampled_from(_SECTIONS))
        config[section] = draw(st.one_of(st.integers(), _TEXT, st.lists(st.integers(), max_size=2)))
        return config, section
    field, values = draw(st.sampled_from(sorted({**_BAD_VALUES, **_STEP_SCHEDULE_BAD}.items())))
    *sections, leaf = field.split(".")
    (config[sections[0]] if sections else config)[leaf] = draw(values)
    return config, field


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(malformed=malformed_configs())
def test_malformed_configs_exit_2_with_one_line_naming_the_key(tmp_path, capsys, malformed):
    config, key = malformed
    path = tmp_path / "malformed.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    code = cli.main(["train", str(path)])
    captured = capsys.readouterr()
    assert code == 2, f"{key}: exit {code}; stdout {captured.out[-300:]!r}"
    assert captured.err.startswith("dlcv: error: ") and captured.err.count("\n") == 1, captured.err
    assert f"{key}:" in captured.err or f"{key}." in captured.err, (key, captured.err)
    assert "Traceback" not in captured.err and captured.out == ""


# ---- divergence; determinism -------------------------------------------------------------------------


def test_a_loss_that_turns_nan_stops_the_run_and_keeps_the_last_good_model(keras, tmp_path):
    """Weights poisoned before epoch 3 (as a fault would): the run stops, epoch 2's model is kept."""
    from dlcv.errors import TrainingStopped
    from dlcv.runs import RunFolder
    from dlcv.training.engine import train

    class PoisonWeights(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                kernel = self.model.layers[-1].kernel
                kernel.assign(keras.ops.full(kernel.shape, float("nan")))

    with pytest.raises(TrainingStopped, match="the loss became NaN in epoch 3") as stopped:
        train(short_config(tmp_path, "epochs=10"), callbacks=[PoisonWeights()], verbose=0)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == 3 and math.isfinite(history["loss"][1]) and math.isnan(history["loss"][2])
    point = RunFolder(tmp_path / "run").resume_point()
    assert point.epoch == 2 and f"the last good model (after epoch 2) is {point.model_path}" in str(stopped.value)
    assert np.isfinite(keras.models.load_model(point.model_path).get_weights()[-2]).all()
    assert not (tmp_path / "run" / "model.h5").exists()  # no NaN model exported


def test_a_run_that_diverges_in_its_first_epoch_says_no_model_was_kept(keras, tmp_path):
    from dlcv.errors import TrainingStopped
    from dlcv.training.engine import train

    class PoisonFirst(keras.callbacks.Callback):  # on TensorFlow a learning rate of 1e4 does it too; not on JAX
        def on_epoch_begin(self, epoch, logs=None):
            kernel = self.model.layers[-1].kernel
            kernel.assign(keras.ops.full(kernel.shape, float("nan")))

    with pytest.raises(TrainingStopped, match="NaN in epoch 1; no epoch finished with a finite loss"):
        train(short_config(tmp_path, "epochs=30"), callbacks=[PoisonFirst()], verbose=0)
    assert not (tmp_path / "run" / "model.h5").exists()


@pytest.mark.parametrize("route", ["fast", "fit"])
def test_two_seeded_runs_give_bit_identical_weights(keras, tmp_path, route):
    from dlcv.training.engine import train

    weights = [train(short_config(tmp_path / str(i), f"route={route}"), verbose=0).model.get_weights()
               for i in range(2)]
    assert len(weights[0]) == len(weights[1]) > 0
    for first, second in zip(*weights):
        assert first.tobytes() == second.tobytes()
    assert any(not np.array_equal(w, np.zeros_like(w)) for w in weights[0])
