"""Schedules, the TrainingMonitor callback, checkpoints and the resume record, the model registry."""
import json

import pytest

from dlcv.config import CosineSchedule, InverseTimeSchedule, StepSchedule, load_config
from dlcv.errors import ConfigError

# ---- schedules ---------------------------------------------------------------------------------------


def test_inverse_time_equals_keras2_decay_over_many_steps(keras):
    from dlcv.training.schedules import build_schedule

    schedule = build_schedule(InverseTimeSchedule(name="inverse_time", decay=0.01 / 40), 0.01, 100, 40)
    # Keras 2's SGD(lr=0.01, decay=0.01/40): lr / (1 + decay * iterations), written out at a few steps
    expected = {0: 0.01, 40: 0.01 / 1.01, 400: 0.01 / 1.1, 4000: 0.01 / 2.0, 3960: 0.01 / 1.99}
    for step, rate in expected.items():
        assert float(schedule(step)) == pytest.approx(rate, rel=1e-6)


# The book's step decay, lr0 * factor ** floor((1 + epoch) / 5), written out per epoch for lr0 = 0.01.
BOOK_STEP_RATES = {
    0.25: [0.01] * 4 + [0.0025] * 5 + [0.000625] * 5 + [0.00015625] * 5,
    0.5: [0.01] * 4 + [0.005] * 5 + [0.0025] * 5 + [0.00125] * 5,
    0.75: [0.01] * 4 + [0.0075] * 5 + [0.005625] * 5 + [0.00421875] * 5,
}


@pytest.mark.parametrize("factor", sorted(BOOK_STEP_RATES))
def test_step_decay_follows_the_books_formula(keras, factor):
    from dlcv.training.schedules import build_schedule

    steps_per_epoch = 10
    schedule = build_schedule(StepSchedule(name="step", factor=factor, drop_every=5), 0.01, steps_per_epoch, 19)
    for epoch, rate in enumerate(BOOK_STEP_RATES[factor]):
        for step in (epoch * steps_per_epoch, epoch * steps_per_epoch + steps_per_epoch - 1):
            assert float(schedule(step)) == pytest.approx(rate, rel=1e-6), (epoch, step)


def test_cosine_warms_up_then_decays(keras):
    from dlcv.training.schedules import build_schedule

    schedule = build_schedule(CosineSchedule(name="cosine", warmup_epochs=2), 0.1, 10, 12)
    lrs = [float(schedule(s)) for s in range(120)]
    assert lrs[0] == pytest.approx(0.0) and lrs[10] == pytest.approx(0.05) and lrs[20] == pytest.approx(0.1)
    assert lrs[70] == pytest.approx(0.05, rel=1e-5)  # half-way through the 100 decay steps: cos(pi/2)
    assert all(a <= b + 1e-9 for a, b in zip(lrs[:20], lrs[1:21]))   # rising
    assert all(a >= b - 1e-9 for a, b in zip(lrs[20:], lrs[21:]))    # falling
    assert lrs[-1] < 0.01


def test_lr_command_prints_and_plots_the_step_schedule(dlcv, tmp_path):
    from conftest import ROOT

    outcome = dlcv("lr", ROOT / "configs" / "cifar10_lr_decay.yaml", "--steps-per-epoch", "10", "--set", "epochs=12",
                   "--output", tmp_path / "lr.png")
    assert outcome.code == 0, outcome.err
    rates = [float(line.split()[-1]) for line in outcome.out.splitlines() if line.startswith("epoch")]
    assert rates == pytest.approx(BOOK_STEP_RATES[0.25][:12])
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


# ---- TrainingMonitor ---------------------------------------------------------------------------------


def _fake_epochs(monitor, logs):
    monitor.on_train_begin()
    for epoch, entry in enumerate(logs):
        monitor.on_epoch_end(epoch, entry)


def test_training_monitor_writes_json_and_png_each_epoch(keras, tmp_path):
    from dlcv.training.monitor import TrainingMonitor

    monitor = TrainingMonitor(tmp_path / "plot.png", json_path=tmp_path / "history.json")
    logs = [{"loss": 1.0 / (e + 1), "accuracy": 0.5 + e / 10, "val_loss": 1.2 / (e + 1),
             "val_accuracy": 0.4 + e / 10} for e in range(3)]
    _fake_epochs(monitor, logs)
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["loss"] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "plot.png"]


def test_training_png_keeps_its_labels_inside_its_legend_off_the_curves_and_whole_epochs(keras, tmp_path):
    """What a person sees: every axis label and tick label inside the image, the legend beside the panel
    rather than over its curves, and epochs ticked 1, 2, 3 (not 1.5, 2.5)."""
    from dlcv.training.monitor import TrainingMonitor

    monitor = TrainingMonitor(tmp_path / "plot.png")
    _fake_epochs(monitor, [{"loss": 1.0 / (e + 1), "accuracy": 0.5 + e / 10, "val_loss": 1.2 / (e + 1),
                            "val_accuracy": 0.4 + e / 10, "learning_rate": 1e-4 * 0.5 ** e} for e in range(3)])
    figure = monitor._figure
    renderer = figure.canvas.get_renderer()
    page = figure.bbox
    curves, rates = monitor._panels
    for panel in (curves, rates):
        (left, right), (bottom, top) = sorted(panel.get_xlim()), sorted(panel.get_ylim())
        shown = [t for t in panel.get_xticklabels() if t.get_text() and left <= t.get_position()[0] <= right]
        shown += [t for t in panel.get_yticklabels() if t.get_text() and bottom <= t.get_position()[1] <= top]
        texts = [panel.xaxis.label, panel.yaxis.label, panel.title, panel.yaxis.get_offset_text(), *shown]
        for text in texts:
            box = text.get_window_extent(renderer)
            assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, \
                text.get_text()
        ticks = [t for t in panel.get_xticks() if panel.get_xlim()[0] <= t <= panel.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
    legend = curves.get_legend().get_window_extent(renderer)
    assert legend.x0 >= curves.get_window_extent(renderer).x1  # beside the curves, not on them
    assert legend.x1 <= page.x1


def test_training_monitor_start_at_truncates_the_history(keras, tmp_path):
    from dlcv.training.monitor import TrainingMonitor

    path = tmp_path / "history.json"
    path.write_text(json.dumps({"loss": [5.0, 4.0, 3.0, 2.0], "val_loss": [6.0, 5.0, 4.0, 3.0]}))
    monitor = TrainingMonitor(tmp_path / "plot.png", json_path=path, start_at=2)
    _fake_epochs(monitor, [{"loss": 2.5, "val_loss": 3.5}])
    assert json.loads(path.read_text()) == {"loss": [5.0, 4.0, 2.5], "val_loss": [6.0, 5.0, 3.5]}


# ---- checkpoints and the resume record ---------------------------------------------------------------


def short_config(tmp_path, *overrides):
    return load_config(overrides=[f"output_dir={tmp_path}", "name=run", "epochs=4", *overrides])


def test_improvement_checkpoints_use_the_books_template_and_are_atomic(keras, tmp_path):
    from dlcv.training.engine import train

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


def test_resume_record_points_at_a_complete_model_with_its_optimizer_state(keras, tmp_path):
    from dlcv.runs import RunFolder
    from dlcv.training.engine import train

    result = train(short_config(tmp_path), verbose=0)
    point = RunFolder(result.run_dir).resume_point()
    assert point.epoch == 4 and point.model_path.name == "last-epoch0004.keras"
    assert list((result.run_dir / "checkpoints").glob("last-epoch*.keras")) == [point.model_path]
    reloaded = keras.models.load_model(point.model_path)
    steps = -(-len(result.prepared.splits.train.labels) // 32)
    assert int(keras.ops.convert_to_numpy(reloaded.optimizer.iterations)) == 4 * steps


# ---- the model registry -----------------------------------------------------------------------------


def test_model_registry_builds_and_validates_params(keras):
    from dlcv.models import MODELS, build_model

    assert {"linear", "mlp", "shallownet", "lenet", "minivggnet"} <= set(MODELS)
    mnist = build_model("mlp", 28, 28, 1, 10, hidden=[256, 128], activation="sigmoid")
    assert mnist.count_params() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    with pytest.raises(ConfigError, match="model.params.depth_multiplier: unknown parameter"):
        build_model("mlp", 8, 8, 1, 10, depth_multiplier=2)
    with pytest.raises(ConfigError, match="model.name: unknown model 'resnet9000'"):
        build_model("resnet9000", 8, 8, 1, 10)


def test_the_registry_is_usable_without_keras():
    import subprocess
    import sys

    code = ("import sys\nfrom dlcv.models import check_params, describe_models\n"
            "check_params('mlp', {'hidden': [8]})\nprint(len(describe_models()), 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["19", "False"], result.stderr  # the book's 5, 11 backbones, from_run, 2 more


def test_a_bug_inside_a_builder_keeps_its_traceback(keras, monkeypatch):
    """Only the parameters are user input: an error raised while building is a bug, not a ConfigError."""
    from dlcv.models import build_model, registry

    def broken(width: int, height: int, depth: int, classes: int):
        raise ValueError("a bug in a layer")

    monkeypatch.setitem(registry.MODELS, "broken", broken)
    with pytest.raises(ValueError, match="a bug in a layer"):
        build_model("broken", 8, 8, 1, 10)


def test_auto_xla_skips_convolutional_networks_on_a_cpu(keras):
    from dlcv.models import build_model
    from dlcv.runtime import devices
    from dlcv.training.compiled import use_xla

    lenet, mlp = build_model("lenet", 28, 28, 1, 10), build_model("mlp", 8, 8, 1, 10, hidden=[16])
    assert use_xla(lenet, False) is False and use_xla(lenet, True) is True  # an explicit setting wins
    if keras.backend.backend() == "tensorflow" and not devices():
        assert use_xla(lenet) is False and use_xla(mlp) is True
    else:
        assert use_xla(mlp) is True
