"""Checkpoints, the resume record, the NaN stop, and a real SIGKILL + --resume in a subprocess."""
import json
import math
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, run_cli
from dlcv.config import load_config


def short_config(tmp_path, *overrides):
    return load_config(overrides=[f"output_dir={tmp_path}", "name=run", "epochs=4", *overrides])


def test_improvement_checkpoints_use_the_books_template_and_are_atomic(keras, tmp_path):
    from dlcv.training import train

    result = train(short_config(tmp_path, "callbacks.checkpoint=improvements", "callbacks.checkpoint_format=h5"),
                   verbose=0)
    saved = sorted(p.name for p in (result.run_dir / "checkpoints").glob("weights-*.h5"))
    assert saved and all(len(name.split("-")) == 3 and name.split("-")[1].isdigit() for name in saved)
    val_losses = json.loads((result.run_dir / "history.json").read_text())["val_loss"]
    for name in saved:  # each file is an improvement, named by its epoch and that epoch's val_loss
        epoch, loss = int(name.split("-")[1]), float(name.split("-")[2].removesuffix(".h5"))
        assert loss == pytest.approx(val_losses[epoch - 1], abs=1e-4)
        assert val_losses[epoch - 1] == min(val_losses[:epoch])
        keras.models.load_model(result.run_dir / "checkpoints" / name)
    assert not list(result.run_dir.rglob(".tmp-*"))


def test_resume_record_points_at_a_complete_model(keras, tmp_path):
    from dlcv.training import train
    from dlcv.training.callbacks import read_resume_point

    result = train(short_config(tmp_path), verbose=0)
    point = read_resume_point(result.run_dir)
    assert point.epoch == 4 and point.model_path.name == "last-epoch0004.keras"
    assert list((result.run_dir / "checkpoints").glob("last-epoch*.keras")) == [point.model_path]
    reloaded = keras.models.load_model(point.model_path)
    assert int(keras.ops.convert_to_numpy(reloaded.optimizer.iterations)) > 0  # optimizer state kept


def test_resume_without_a_record_is_a_one_line_error(tmp_path):
    result = run_cli("train", "--resume", "--set", f"output_dir={tmp_path}", "--set", "name=fresh")
    assert result.returncode == 2
    assert "nothing to resume" in result.stderr and "Traceback" not in result.stderr


def test_a_nan_loss_stops_training_and_keeps_the_last_good_model(keras, tmp_path):
    from dlcv.errors import TrainingStopped
    from dlcv.training import train

    # A learning rate this large sends the MLP's loss to inf/NaN within a few epochs.
    config = short_config(tmp_path, "epochs=30", "optimizer.learning_rate=1e4", "optimizer.momentum=0.0",
                          "optimizer.nesterov=false")
    with pytest.raises(TrainingStopped, match="the loss became NaN in epoch") as stopped:
        train(config, verbose=0)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) < 30 and not math.isfinite(history["loss"][-1])
    assert not (tmp_path / "run" / "model.h5").exists()  # no NaN model exported
    if "last good model" in str(stopped.value):
        from dlcv.training.callbacks import read_resume_point

        point = read_resume_point(tmp_path / "run")
        assert point.epoch == len(history["loss"]) - 1
        keras.models.load_model(point.model_path)


def test_killed_run_resumes_with_continuous_history(tmp_path):
    """SIGKILL a real training process part-way, resume it, and check nothing is lost or repeated."""
    args = ["--set", f"output_dir={tmp_path}", "--set", "name=killed", "--set", "epochs=40",
            "--set", "callbacks.checkpoint=improvements"]
    history_path = tmp_path / "killed" / "history.json"
    process = subprocess.Popen([sys.executable, "-m", "dlcv", "train", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if history_path.exists() and len(json.loads(history_path.read_text()).get("loss", [])) >= 3:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = len(json.loads(history_path.read_text())["loss"])
    assert 3 <= killed_at < 40, "the kill must land part-way through training"
    assert not (tmp_path / "killed" / "results.json").exists()

    resumed = run_cli("train", "--resume", *args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming killed after epoch" in resumed.stdout
    history = json.loads(history_path.read_text())
    assert all(len(values) == 40 for values in history.values())
    assert "Epoch 1/40" not in resumed.stdout and "Epoch 40/40" in resumed.stdout
    import keras  # the checkpoints load

    for checkpoint in (tmp_path / "killed" / "checkpoints").glob("*.keras"):
        keras.models.load_model(checkpoint)
    assert not list((tmp_path / "killed").rglob(".tmp-*"))
    assert json.loads((tmp_path / "killed" / "results.json").read_text())["epochs_run"] == 40 - int(
        resumed.stdout.split("resuming killed after epoch ")[1].split()[0])


def test_lr_command_prints_and_plots_the_step_schedule(tmp_path):
    result = run_cli("lr", "configs/cifar10_lr_decay.yaml", "--steps-per-epoch", "10", "--set", "epochs=12",
                     "--output", str(tmp_path / "lr.png"))
    assert result.returncode == 0, result.stderr
    rates = [float(line.split()[-1]) for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert rates == pytest.approx([0.01 * 0.25 ** np.floor((1 + e) / 5) for e in range(12)])
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
