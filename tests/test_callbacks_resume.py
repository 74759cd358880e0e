"""Checkpoints, the resume record and the learning-rate command (kills and NaN: test_reliability.py)."""
import json

import numpy as np
import pytest

from conftest import run_cli
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


def test_lr_command_prints_and_plots_the_step_schedule(tmp_path):
    result = run_cli("lr", "configs/cifar10_lr_decay.yaml", "--steps-per-epoch", "10", "--set", "epochs=12",
                     "--output", str(tmp_path / "lr.png"))
    assert result.returncode == 0, result.stderr
    rates = [float(line.split()[-1]) for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert rates == pytest.approx([0.01 * 0.25 ** np.floor((1 + e) / 5) for e in range(12)])
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
