"""Routes: the one place that decides how a model trains (fast / fit / a strategy's loop), every route on
the model's compiled loss and metrics, user callbacks, and JAX without TensorFlow."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, run_config
from data_files import tiny_split

from dlcv.config import load_config


def short(tmp_path, *overrides):
    return run_config(tmp_path, "callbacks.checkpoint=none", *overrides)


# ---- choosing -----------------------------------------------------------------------------------------


def images_of(mebibytes: int):
    from dlcv.data import ImageSet

    return ImageSet(np.zeros((mebibytes, 1024, 1024, 1), np.uint8), np.zeros(mebibytes, np.int64), ["a"])


def test_choose_route_picks_and_says_why(keras, monkeypatch):
    from dlcv.data import StreamedSet
    from dlcv.data.sources import ArraySource
    from dlcv.training import routes
    from dlcv.training.distribution import Distribution

    small = images_of(1)
    fast = routes.choose_route(load_config(), small, Distribution())
    assert isinstance(fast, routes.CompiledRoute) and fast.windows.resident
    assert str(fast) == "route: fast (whole epochs compiled, training data on the device)"
    assert isinstance(routes.choose_route(load_config(overrides=["route=fit"]), small, Distribution()),
                      routes.FitRoute)
    streamed = routes.choose_route(load_config(), StreamedSet(ArraySource(small), np.arange(1)), Distribution())
    assert isinstance(streamed, routes.CompiledRoute) and not streamed.windows.resident
    assert streamed.reason == "compiled windows fed from the host: the training set is streamed from disk"
    monkeypatch.setattr(routes, "_device_memory_budget", lambda: 2**20)
    too_big = routes.choose_route(load_config(overrides=["window=7"]), images_of(10), Distribution())
    assert isinstance(too_big, routes.CompiledRoute) and not too_big.windows.resident and too_big.windows.window == 7
    assert too_big.reason == ("compiled windows fed from the host: the training set (10 MiB) does not fit the "
                              "device budget (1 MiB)")
    parallel = routes.choose_route(load_config(overrides=["distribution=data_parallel"]), small,
                                   Distribution("data_parallel", 2, batch_multiple=2))
    assert isinstance(parallel, routes.FitRoute) and parallel.multiple_of == 2


def test_a_distribution_with_its_own_loop_gets_it(keras):
    from dlcv.training import routes
    from dlcv.training.distribution import Distribution
    from dlcv.training.strategy_route import StrategyRoute

    chosen = routes.choose_route(load_config(), images_of(1), Distribution("multi_worker", 2, strategy="S",
                                                                    loop=StrategyRoute, loop_reason="why"))
    assert isinstance(chosen, StrategyRoute) and chosen.strategy == "S" and chosen.reason == "why"


def test_only_the_route_module_chooses_the_route():
    """The route setting is read where the route is chosen, and by the check that refuses route: fast."""
    readers = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "dlcv").rglob("*.py")
                     if "config.route" in p.read_text())
    assert readers == ["dlcv/checks.py", "dlcv/training/routes.py"]
    assert (ROOT / "dlcv" / "checks.py").read_text().count("config.route") == 1


# ---- training ------------------------------------------------------------------------------------------


def test_fast_and_fit_routes_reach_the_same_accuracy(keras, tmp_path):
    from dlcv.training.engine import train

    accuracy = {}
    for route in ("fast", "fit"):
        config = short(tmp_path / route, f"route={route}", "epochs=30", "callbacks.monitor=false")
        result = train(config, verbose=0)
        assert result.route == route
        accuracy[route] = result.test_accuracy
    assert abs(accuracy["fast"] - accuracy["fit"]) <= 0.01, accuracy
    assert min(accuracy.values()) >= 0.95


def test_compiled_epochs_use_the_models_compiled_loss_and_metrics(keras):
    """A model compiled with an L2 penalty and an extra metric: the compiled loop's validation loss is
    Keras's own evaluate() (which adds the penalty), and the extra metric is logged."""
    from dlcv.training.compiled import build_trainer
    from dlcv.training.plan import EpochPlan

    train, val = tiny_split()
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(0.5))(
        keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    trainer = build_trainer(model, EpochPlan(train, val, batch_size=8, seed=0))
    logs = trainer.train_epoch(0)
    assert set(logs) == {"loss", "accuracy", "top2"}
    val_logs = trainer.evaluate()
    expected = model.evaluate(val.images.astype("float32") / 255.0, val.labels, verbose=0, return_dict=True)
    assert val_logs["val_loss"] == pytest.approx(expected["loss"], rel=1e-4)
    assert val_logs["val_top2"] == pytest.approx(expected["top2"])
    penalty = float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses))
    assert penalty > 0.05  # the penalty is a real part of that loss


@pytest.mark.parametrize("route", ["fast", "fit"])
def test_train_takes_the_users_callbacks(keras, tmp_path, route):
    from dlcv.training.engine import train

    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append((epoch, sorted(logs)))

    recorder = Recorder()
    train(short(tmp_path, f"route={route}"), callbacks=[recorder], verbose=0)
    assert [epoch for epoch, _ in recorder.epochs] == [0, 1, 2]
    assert all({"loss", "val_loss", "accuracy", "val_accuracy"} <= set(keys) for _, keys in recorder.epochs)


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_on_the_fast_route(keras, tmp_path, precision):
    """float16 too: Keras's train_step scales the loss, inside the compiled loop as in fit."""
    from dlcv.training.engine import train

    try:
        result = train(short(tmp_path, f"precision={precision}", "epochs=5"), verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    assert result.route == "fast" and result.model.dtype_policy.name == precision
    assert result.test_accuracy > 0.8


# ---- JAX, TensorFlow made unimportable ----------------------------------------------------------------

NO_TENSORFLOW = (
    "import sys; sys.modules['tensorflow'] = None\n"  # `import tensorflow` now raises ImportError
    "from dlcv.cli import main\n"
    "out = sys.argv[1]\n"
    "assert main(['train', '--set', 'epochs=5', '--set', f'output_dir={out}',\n"
    "             '--set', f'tracking.mlflow.uri=sqlite:///{out}/mlflow.db']) == 0\n"
    "import cv2, numpy as np\n"
    "cv2.imwrite(f'{out}/digit.png', np.full((8, 8), 128, np.uint8))\n"
    "assert main(['predict', '--model', f'{out}/quickstart/model.h5', f'{out}/digit.png']) == 0\n"
    "import os\n"
    "for c, name in enumerate(['red', 'green']):\n"
    "    os.makedirs(f'{out}/photos/{name}')\n"
    "    for i in range(12):\n"
    "        cv2.imwrite(f'{out}/photos/{name}/{i}.png', np.full((20, 24, 3), 40 + 150 * c, np.uint8))\n"
    "assert main(['train', '--set', 'dataset.name=folder', '--set', f'dataset.path={out}/photos',\n"
    "             '--set', 'preprocessing.width=8', '--set', 'dataset.streaming=true', '--set', 'epochs=2',\n"
    "             '--set', f'output_dir={out}', '--set', 'name=streamed', '--set', 'dataset.test_size=0.3']) == 0\n"
    "assert sys.modules.get('tensorflow') is None, 'TensorFlow was imported'\n")


@pytest.mark.slow
def test_jax_trains_streams_and_predicts_without_tensorflow(tmp_path):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, str(tmp_path)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)  # MLflow's artefacts: ./mlruns
    assert result.returncode == 0, result.stderr[-3000:]
    assert "backend jax" in result.stdout.splitlines()[0] and "route: fast" in result.stdout
    results = json.loads((tmp_path / "quickstart" / "results.json").read_text())
    assert results["backend"] == "jax" and results["test_accuracy"] > 0.85
    assert f"{tmp_path / 'digit.png'}\t" in result.stdout
    assert "data: streaming 24 images from disk" in result.stdout
    assert json.loads((tmp_path / "streamed" / "results.json").read_text())["route"] == "fast"
    from mlflow import MlflowClient  # the JAX run in MLflow: each epoch, the tags, the model

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    logged = client.get_run(json.loads((tmp_path / "quickstart" / "mlflow.json").read_text())["run_id"])
    assert logged.info.status == "FINISHED" and logged.data.tags["backend"] == "jax"
    assert [m.step for m in client.get_metric_history(logged.info.run_id, "val_accuracy")] == [0, 1, 2, 3, 4]
    assert "model/MLmodel" in {a.path for a in client.list_artifacts(logged.info.run_id, "model")}


@pytest.mark.parametrize("route", ["fit", "fast"])
def test_balanced_sampling_draws_every_class_equally_each_epoch(keras, monkeypatch, route):
    """Three classes of 30, 6 and 3 training images: each epoch 39 draws, 13 of each class, on the route (the
    plan's order: the one place an order is drawn)."""
    from dlcv import shuffling
    from dlcv.data import ImageSet
    from dlcv.training import plan
    from dlcv.training.engine import compile_model
    from dlcv.training.routes import CompiledRoute, FitRoute
    from dlcv.training.windows import Windows

    train, val = tiny_split(train=90)
    keep = np.concatenate([np.flatnonzero(train.labels == 0)[:30], np.flatnonzero(train.labels == 1)[:6],
                           np.flatnonzero(train.labels == 2)[:3]])
    train = ImageSet(train.images[keep], train.labels[keep], train.class_names)
    drawn = []

    def recording(seed, epoch, count, balance=None):
        order = shuffling.epoch_order(seed, epoch, count, balance)
        assert balance is not None and np.array_equal(balance, train.labels)
        drawn.append(np.bincount(train.labels[order], minlength=3).tolist())
        return order

    monkeypatch.setattr(plan, "epoch_order", recording)
    config = load_config(overrides=["preprocessing.width=8", "preprocessing.height=8", "preprocessing.channels=1"])
    model = compile_model(config, 3, 5)
    common = dict(reason="test", epochs=2, batch_size=8)
    chosen = FitRoute(**common) if route == "fit" else CompiledRoute(windows=Windows(jit_compile=False), **common)
    history = chosen.fit(model, plan.EpochPlan(train, val, 8, 42, balanced=True), callbacks=[], verbose=0)
    assert len(history.history["loss"]) == 2
    assert drawn and all(counts == [13, 13, 13] for counts in drawn), drawn


def test_the_strategy_route_trains_each_epoch_in_the_plans_order(keras):
    """The multi-worker loop no longer shuffles on its own: its batches are the plan's rows, epoch by epoch
    (run here under a one-CPU MirroredStrategy, in this process), as on every other route."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the strategy route is TensorFlow's")
    import tensorflow as tf

    from dlcv.training.engine import compile_model
    from dlcv.training.plan import EpochPlan
    from dlcv.training.strategy_route import StrategyEpochs

    train, val = tiny_split(train=30)

    class Recording:  # the training set, noting which rows each batch reads
        labels, shape, reads_from_disk = train.labels, train.shape, False

        def __init__(self):
            self.read = []

        def batch(self, rows):
            self.read.extend(np.asarray(rows).tolist())
            return train.batch(rows)

    recording = Recording()
    plan = EpochPlan(recording, val, batch_size=8, seed=5)
    config = load_config(overrides=["preprocessing.width=8", "preprocessing.height=8", "preprocessing.channels=1"])
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        trainer = StrategyEpochs(compile_model(config, 3, 4), plan, strategy)
    for epoch in (0, 1):
        recording.read.clear()
        logs = trainer.train_epoch(epoch)
        assert recording.read == plan.order(epoch).tolist() and math.isfinite(logs["loss"])
    assert plan.order(0).tolist() != plan.order(1).tolist()
