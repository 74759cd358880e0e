"""The fast route: compiled windows, resident or fed from the host; its progress output; TensorBoard and
the learning rate at epoch granularity. The module runs on the session's backend, and a slow test runs
it again on JAX."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, run_config


def digits(tmp_path, *overrides):
    return run_config(tmp_path, "callbacks.checkpoint=none", *overrides)


def trained_weights(keras, config, **trainer_options):
    """One epoch of the quickstart model with the given trainer options; its weights."""
    from dlcv.data import prepare_data
    from dlcv.training.compiled import build_trainer
    from dlcv.training.engine import compile_model
    from dlcv.training.plan import EpochPlan
    from dlcv.training.windows import Windows

    keras.utils.set_random_seed(0)
    prepared = prepare_data(config, progress=False)
    train, val = prepared.splits.train, prepared.splits.val
    model = compile_model(prepared.config, 10, -(-len(train.labels) // config.batch_size))
    trainer = build_trainer(model, EpochPlan(train, val, config.batch_size, seed=0),
                            Windows(progress=False, **trainer_options))
    for epoch in range(2):
        trainer.train_epoch(epoch)
    trainer.evaluate()
    return [np.asarray(w) for w in model.get_weights()]


@pytest.mark.parametrize("window", [None, 5])
def test_host_fed_windows_train_exactly_as_the_resident_set(keras, tmp_path, window):
    """One window holding the whole epoch, or windows of 5 batches moved from the host: the same batches in
    the same order as the resident route, so the same weights to the bit."""
    config = digits(tmp_path)
    resident = trained_weights(keras, config, resident=True)
    fed = trained_weights(keras, config, resident=False, window=window or 10**6)
    assert len(resident) == len(fed)
    for a, b in zip(resident, fed):
        assert a.tobytes() == b.tobytes()


def test_small_windows_reach_the_same_accuracy(keras, tmp_path):
    from dlcv.training.engine import train

    whole = train(digits(tmp_path / "a", "epochs=10"), verbose=0).test_accuracy
    windowed = train(digits(tmp_path / "b", "epochs=10", "window=3"), verbose=0)
    assert windowed.route == "fast"
    assert abs(windowed.test_accuracy - whole) <= 0.01 and whole > 0.9


def test_a_streamed_folder_trains_in_host_fed_windows(keras, tmp_path):
    from data_files import write_class_folders

    from dlcv.training.engine import train

    root = write_class_folders(tmp_path / "photos", per_class=12)
    result = train(digits(tmp_path, "dataset.name=folder", f"dataset.path={root}", "preprocessing.width=8",
                          "preprocessing.height=8", "model.name=linear", "model.params={}", "dataset.streaming=true",
                          "window=2", "epochs=6", "dataset.test_size=0.3"), verbose=0)
    assert result.route == "fast" and result.prepared.streamed and result.test_accuracy > 0.8


def test_a_progress_bar_advances_window_by_window(keras, tmp_path, monkeypatch):
    from dlcv.data import prepare_data
    from dlcv.training.compiled import build_trainer
    from dlcv.training.engine import compile_model
    from dlcv.training.plan import EpochPlan
    from dlcv.training.windows import Windows

    updates = []

    class Recording(keras.utils.Progbar):
        def update(self, current, values=None, finalize=None):
            updates.append((current, self.target, dict(values or []).get("loss") is not None))
            super().update(current, values, finalize)

    monkeypatch.setattr(keras.utils, "Progbar", Recording)
    config = digits(tmp_path, "batch_size=100")  # 1,212 training images: 13 steps, 12 full
    prepared = prepare_data(config, progress=False)
    model = compile_model(prepared.config, 10, 13)
    trainer = build_trainer(model, EpochPlan(prepared.splits.train, prepared.splits.val, 100, seed=0),
                            Windows(window=4, progress=True))
    logs = trainer.train_epoch(0)
    trainer.finish_progress({**logs, **trainer.evaluate()})
    assert updates == [(4, 13, True), (8, 13, True), (12, 13, True), (13, 13, True)]


def test_output_to_a_file_has_no_carriage_returns_or_escapes(dlcv, tmp_path):
    """stdout here is not a terminal, as in a log file: one plain line per epoch, on every route."""
    for route in ("fast", "fit"):
        outcome = dlcv("train", "--set", f"output_dir={tmp_path}", "--set", f"name={route}", "--set", "epochs=3",
                       "--set", f"route={route}")
        assert outcome.code == 0, outcome.err
        for stream in (outcome.out, outcome.err):
            assert "\r" not in stream and "\x1b" not in stream
        assert [line.split(" ")[1] for line in outcome.out.splitlines() if line.startswith("Epoch ")] == \
               ["1/3", "2/3", "3/3"]


def test_the_learning_rate_of_each_epoch_is_in_the_history(keras, tmp_path):
    from dlcv.training.engine import train

    config = digits(tmp_path, "epochs=6", "schedule.name=step", "schedule.drop_every=2", "schedule.factor=0.5",
                    "optimizer.learning_rate=0.04")
    history = json.loads((train(config, verbose=0).run_dir / "history.json").read_text())
    # the rate in force at each epoch's end (its last step): 0.04 * 0.5 ** floor((1 + epoch) / 2)
    assert history["learning_rate"] == pytest.approx([0.02, 0.02, 0.01, 0.01, 0.005, 0.005])


def test_tensorboard_writes_epoch_summaries_on_the_fast_route(keras, tmp_path):
    pytest.importorskip("tensorboard")
    pytest.importorskip("tensorflow")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from dlcv.training.engine import train

    result = train(digits(tmp_path, "callbacks.tensorboard=true"), verbose=0)
    assert result.route == "fast"
    tags = {}
    for part in ("train", "validation"):
        events = EventAccumulator(str(result.run_dir / "tensorboard" / part))
        events.Reload()
        tags[part] = {tag: len(events.Tensors(tag)) for tag in events.Tags()["tensors"]}
    assert tags["train"]["epoch_loss"] == 3 and tags["train"]["epoch_learning_rate"] == 3
    assert tags["validation"]["epoch_accuracy"] == 3


@pytest.mark.slow
def test_this_module_on_jax(tmp_path):
    """The JAX trainer's own paths with KERAS_BACKEND=jax, in a process of their own (a backend is chosen per
    process): host-fed windows of 5 batches, a streamed folder, the progress bar, the learning rate, augmentation in
    the compiled step with mixed images and labels. (The rest of these modules is backend-independent and
    runs once, above; the seeded-augmentation test, 15 s under JAX, runs on TensorFlow's fast route only.)"""
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    selected = "(host_fed and 5) or streamed_folder or progress_bar or learning_rate or (mixed and fast)"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                             "-p", "no:xdist", "-k", selected,
                             *(str(ROOT / "tests" / f"test_{name}.py") for name in ("compiled", "augmentation",
                                                                                     "engine"))],
                            cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:]


def test_auto_xla_skips_convolutional_networks_and_short_runs_on_a_cpu(keras):
    from dlcv.models import build_model
    from dlcv.runtime import devices
    from dlcv.training.compiled import use_xla

    lenet, mlp = build_model("lenet", 28, 28, 1, 10), build_model("mlp", 8, 8, 1, 10, hidden=[16])
    assert use_xla(lenet, False) is False and use_xla(lenet, True) is True  # an explicit setting wins
    assert use_xla(mlp, True, steps=10) is True
    if keras.backend.backend() == "tensorflow" and not devices():
        assert use_xla(lenet) is False and use_xla(lenet, steps=10**6) is False
        # The quickstart (30 epochs of 38 batches) is over before XLA's compile is repaid; 100 epochs of
        # the CIFAR-10 images are not, and the CIFAR MLP (3.7 million parameters) repays it within 200 batches.
        assert use_xla(mlp, steps=30 * 38) is False and use_xla(mlp, steps=100 * 1407) is True
        cifar_mlp = build_model("mlp", 32, 32, 3, 10, hidden=[1024, 512])
        assert use_xla(mlp, steps=200) is False and use_xla(cifar_mlp, steps=200) is True
        assert use_xla(mlp) is True  # a run of unknown length: a long one
    else:
        assert use_xla(mlp) is True and use_xla(mlp, steps=10) is True


def test_a_short_dense_run_trains_without_xla_on_a_cpu_and_a_long_one_with_it(tmp_path, keras):
    from dlcv.data import prepare_data
    from dlcv.runtime import devices
    from dlcv.training.distribution import build_distribution
    from dlcv.training.engine import compile_model
    from dlcv.training.plan import EpochPlan
    from dlcv.training.routes import choose_route

    if keras.backend.backend() != "tensorflow" or devices():
        pytest.skip("the CPU rule of the TensorFlow backend")
    prepared = prepare_data(digits(tmp_path), progress=False)
    train, val = prepared.splits.train, prepared.splits.val
    model = compile_model(prepared.config, 10, -(-len(train.labels) // 32))
    chosen = {}
    for epochs in (30, 200):  # 1,213 training digits, 38 batches an epoch: 1,140 batches, then 7,600
        config = prepared.config.model_copy(update={"epochs": epochs})
        route = choose_route(config, train, build_distribution(config), model)
        chosen[epochs] = route.build_trainer(model, EpochPlan(train, val, 32, seed=0)).jit_compile
    assert chosen == {30: False, 200: True}
