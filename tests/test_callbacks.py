"""The callbacks: the TrainingMonitor's history and plot after every epoch, the book's improvement
checkpoints, the resume record."""
import json

import pytest
from conftest import run_config


def _fake_epochs(monitor, logs):
    monitor.on_train_begin()
    for epoch, entry in enumerate(logs):
        monitor.on_epoch_end(epoch, entry)
    monitor.on_train_end()


def short_config(tmp_path, *overrides):
    return run_config(tmp_path, *overrides, epochs=4)


def test_training_monitor_writes_json_and_png_each_epoch(keras, tmp_path):
    from dlcv.training.monitor import TrainingMonitor

    monitor = TrainingMonitor(tmp_path / "plot.png", json_path=tmp_path / "history.json", min_interval=0)
    logs = [{"loss": 1.0 / (e + 1), "accuracy": 0.5 + e / 10, "val_loss": 1.2 / (e + 1),
             "val_accuracy": 0.4 + e / 10} for e in range(3)]
    monitor.on_train_begin()
    for epoch, entry in enumerate(logs):
        (tmp_path / "plot.png").unlink(missing_ok=True)
        monitor.on_epoch_end(epoch, entry)
        assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"  # redrawn after this epoch
        assert len(json.loads((tmp_path / "history.json").read_text())["loss"]) == epoch + 1
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["loss"] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "plot.png"]


def test_the_plot_is_redrawn_once_min_interval_has_passed_and_after_the_last_epoch(keras, tmp_path, monkeypatch):
    """Epochs shorter than min_interval (default 1 s) are drawn together; history.json has each epoch."""
    from types import SimpleNamespace

    from dlcv.training import monitor as module

    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=lambda: clock.now))
    monitor = module.TrainingMonitor(tmp_path / "plot.png", json_path=tmp_path / "history.json")
    drawn, plot = [], monitor._plot
    monkeypatch.setattr(monitor, "_plot", lambda: (drawn.append(len(monitor.history["loss"])), plot()))
    monitor.on_train_begin()
    for epoch, ends_at in enumerate([100.3, 101.2, 101.5, 102.1, 102.3, 102.4]):
        clock.now = ends_at
        monitor.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
        assert len(json.loads((tmp_path / "history.json").read_text())["loss"]) == epoch + 1
    assert drawn == [2, 5]  # 1.2 s after the start, 1.1 s after the last redraw; 0.9 s was not enough
    monitor.on_train_end()
    assert drawn == [2, 5, 6] and monitor._panels[0].get_title().endswith("[epoch 6]")
    monitor.on_train_end()  # nothing new to draw
    assert drawn == [2, 5, 6] and (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_training_monitor_refuses_a_min_interval_that_is_not_a_number_of_seconds(keras, tmp_path, seconds):
    from dlcv.training.monitor import TrainingMonitor

    with pytest.raises(ValueError, match="min_interval must be a number of seconds >= 0"):
        TrainingMonitor(tmp_path / "plot.png", min_interval=seconds)


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


def test_an_improving_epochs_model_is_saved_once_for_the_best_and_the_resume_checkpoint(keras, tmp_path, monkeypatch):
    """After an improving epoch, best.keras and the resume checkpoint are one file under two names (a hard
    link); another epoch's model is its own file, and replacing either name never changes the other. Where
    the file system cannot link, each is saved."""
    import os

    import numpy as np

    from dlcv.training.callbacks import AtomicModelCheckpoint, ResumeCheckpoint

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    best = AtomicModelCheckpoint(str(tmp_path / "best.keras"), monitor="val_loss", mode="min", save_best_only=True,
                                 verbose=0)
    last = ResumeCheckpoint(tmp_path, same_model=best)

    def epoch(index: int, val_loss: float):
        model.layers[0].kernel.assign(np.full((3, 2), float(index)))  # each epoch's own weights
        for callback in (best, last):
            callback.set_model(model)
            callback.on_epoch_end(index, {"loss": 1.0, "val_loss": val_loss})
        return tmp_path / f"last-epoch{index + 1:04d}.keras"

    def kernel(path) -> float:
        return float(keras.ops.convert_to_numpy(keras.models.load_model(path).layers[0].kernel)[0, 0])

    first = epoch(0, 0.5)
    assert os.path.samefile(first, tmp_path / "best.keras")
    model.layers[0].kernel.assign(np.full((3, 2), 1.0))
    best.on_epoch_end(1, {"loss": 1.0, "val_loss": 0.45})  # a kill here resumes from the committed epoch 1
    assert (kernel(tmp_path / "best.keras"), kernel(first)) == (1.0, 0.0)
    last.on_epoch_end(1, {"loss": 1.0, "val_loss": 0.45})
    second = tmp_path / "last-epoch0002.keras"
    assert not first.exists() and os.path.samefile(second, tmp_path / "best.keras")
    third = epoch(2, 0.7)  # no improvement: its own file; best.keras, epoch 2's, outlives the name it shared
    assert not second.exists() and not os.path.samefile(third, tmp_path / "best.keras")
    assert (kernel(tmp_path / "best.keras"), kernel(third)) == (1.0, 2.0)

    def refused(source, target):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refused)
    fourth = epoch(3, 0.4)
    assert not os.path.samefile(fourth, tmp_path / "best.keras")
    assert (kernel(tmp_path / "best.keras"), kernel(fourth)) == (3.0, 3.0)
    assert json.loads((tmp_path / "last.json").read_text())["model"] == fourth.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras", "last-epoch0004.keras", "last.json"]


@pytest.mark.parametrize("overrides, extra, linked", [
    ((), False, True), (("optimizer.ema=0.99",), False, False), ((), True, False),
    (("callbacks.checkpoint=none",), False, False)])
def test_the_resume_checkpoint_links_only_where_nothing_between_the_two_changes_the_weights(
        keras, tmp_path, overrides, extra, linked):
    """Weight averaging swaps the raw weights back between the two, and a caller's callbacks run there."""
    from dlcv.runs import RunFolder
    from dlcv.training.callbacks import AtomicModelCheckpoint, ResumeCheckpoint, build_callbacks

    built = build_callbacks(short_config(tmp_path, *overrides), RunFolder(tmp_path / "run"),
                            extra=[keras.callbacks.Callback()] if extra else ())
    resume = next(c for c in built if isinstance(c, ResumeCheckpoint))
    assert isinstance(resume.same_model, AtomicModelCheckpoint) is linked
