"""Schedules, the TrainingMonitor callback and the model registry."""
import json

import numpy as np
import pytest

from dlcv.config import CosineSchedule, InverseTimeSchedule, StepSchedule
from dlcv.errors import ConfigError


def test_inverse_time_equals_keras2_decay_over_many_steps(keras):
    from dlcv.training import build_schedule

    lr0, decay = 0.01, 0.01 / 40
    schedule = build_schedule(InverseTimeSchedule(name="inverse_time", decay=decay), lr0, 100, 40)
    steps = np.arange(0, 4000, 37)
    expected = lr0 / (1.0 + decay * steps)  # Keras 2: lr * 1 / (1 + decay * iterations)
    actual = np.array([float(schedule(int(s))) for s in steps])
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


@pytest.mark.parametrize("factor", [0.25, 0.5, 0.75])
def test_step_decay_follows_the_books_formula(keras, factor):
    from dlcv.training import build_schedule

    steps_per_epoch = 10
    schedule = build_schedule(StepSchedule(name="step", factor=factor, drop_every=5), 0.01,
                              steps_per_epoch, 40)
    for epoch in range(40):
        expected = 0.01 * factor ** np.floor((1 + epoch) / 5)
        for step in (epoch * steps_per_epoch, epoch * steps_per_epoch + steps_per_epoch - 1):
            assert float(schedule(step)) == pytest.approx(expected, rel=1e-6)


def test_cosine_warms_up_then_decays(keras):
    from dlcv.training import build_schedule

    schedule = build_schedule(CosineSchedule(name="cosine", warmup_epochs=2), 0.1, 10, 12)
    lrs = [float(schedule(s)) for s in range(120)]
    assert lrs[0] == pytest.approx(0.0) and lrs[20] == pytest.approx(0.1)
    assert all(a <= b + 1e-9 for a, b in zip(lrs[:20], lrs[1:21]))   # rising
    assert all(a >= b - 1e-9 for a, b in zip(lrs[20:], lrs[21:]))    # falling
    assert lrs[-1] < 0.01


def _fake_epochs(monitor, logs):
    monitor.on_train_begin()
    for epoch, entry in enumerate(logs):
        monitor.on_epoch_end(epoch, entry)


def test_training_monitor_writes_json_and_png_each_epoch(keras, tmp_path):
    from dlcv.training import TrainingMonitor

    monitor = TrainingMonitor(tmp_path / "plot.png", json_path=tmp_path / "history.json")
    logs = [{"loss": 1.0 / (e + 1), "accuracy": 0.5 + e / 10, "val_loss": 1.2 / (e + 1),
             "val_accuracy": 0.4 + e / 10} for e in range(3)]
    _fake_epochs(monitor, logs)
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["loss"] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "plot.png"]


def test_training_monitor_start_at_truncates_the_history(keras, tmp_path):
    from dlcv.training import TrainingMonitor

    path = tmp_path / "history.json"
    path.write_text(json.dumps({"loss": [5.0, 4.0, 3.0, 2.0], "val_loss": [6.0, 5.0, 4.0, 3.0]}))
    monitor = TrainingMonitor(tmp_path / "plot.png", json_path=path, start_at=2)
    _fake_epochs(monitor, [{"loss": 2.5, "val_loss": 3.5}])
    assert json.loads(path.read_text()) == {"loss": [5.0, 4.0, 2.5], "val_loss": [6.0, 5.0, 3.5]}


def test_model_registry_builds_and_validates_params(keras):
    from dlcv.models import MODELS, build_model

    assert {"linear", "mlp"} <= set(MODELS)
    mnist = build_model("mlp", 28, 28, 1, 10, hidden=[256, 128], activation="sigmoid")
    assert mnist.count_params() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    cifar = build_model("mlp", 32, 32, 3, 10, hidden=[1024, 512], activation="relu")
    assert cifar.count_params() == 3072 * 1024 + 1024 + 1024 * 512 + 512 + 512 * 10 + 10
    assert build_model("linear", 8, 8, 1, 10).count_params() == 64 * 10 + 10
    with pytest.raises(ConfigError, match="model.params.depth_multiplier: unknown parameter"):
        build_model("mlp", 8, 8, 1, 10, depth_multiplier=2)
    with pytest.raises(ConfigError, match="model.name: unknown model 'resnet9000'"):
        build_model("resnet9000", 8, 8, 1, 10)


def test_auto_xla_skips_convolutional_networks_on_a_cpu(keras):
    from dlcv.models import build_model
    from dlcv.training.compiled import use_xla

    lenet, mlp = build_model("lenet", 28, 28, 1, 10), build_model("mlp", 8, 8, 1, 10, hidden=[16])
    assert use_xla(lenet, False) is False and use_xla(lenet, True) is True  # an explicit setting wins
    from dlcv.runtime import devices

    if keras.backend.backend() == "tensorflow" and not devices():
        assert use_xla(lenet) is False and use_xla(mlp) is True
    else:
        assert use_xla(mlp) is True
