"""Backends (TensorFlow, JAX, JAX without TensorFlow installed) and the two training routes."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from dlcv.config import load_config

NO_TENSORFLOW = (
    "import sys; sys.modules['tensorflow'] = None\n"  # `import tensorflow` now raises ImportError
    "from dlcv.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "assert sys.modules.get('tensorflow') is None, 'TensorFlow was imported'\n"
    "sys.exit(code)\n")


def run_backend(backend: str, *args: str, without_tensorflow: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": backend}
    command = [sys.executable, "-c", NO_TENSORFLOW] if without_tensorflow else [sys.executable, "-m", "dlcv"]
    return subprocess.run([*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


# TensorFlow is the default backend, covered by every other test (tests/test_quickstart.py runs the CLI).
@pytest.mark.parametrize("backend, without_tensorflow", [("jax", False), ("jax", True)])
def test_quickstart_trains_and_predicts_on_each_backend(tmp_path, backend, without_tensorflow):
    pytest.importorskip(backend)
    result = run_backend(backend, "train", "--set", "epochs=5", "--set", f"output_dir={tmp_path}",
                         without_tensorflow=without_tensorflow)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"backend {backend}" in result.stdout.splitlines()[0]
    assert "route: fast" in result.stdout
    results = json.loads((tmp_path / "quickstart" / "results.json").read_text())
    assert results["backend"] == backend and results["test_accuracy"] > 0.85
    # a model trained on any backend is a plain Keras file: predict with it on this process's backend
    import cv2

    cv2.imwrite(str(tmp_path / "digit.png"), np.full((8, 8), 128, np.uint8))
    predicted = run_backend(backend, "predict", "--model", str(tmp_path / "quickstart" / "model.h5"),
                            str(tmp_path / "digit.png"), without_tensorflow=without_tensorflow)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert predicted.stdout.strip().splitlines()[-1].startswith(str(tmp_path / "digit.png"))


def test_fast_and_fit_routes_reach_the_same_accuracy(keras, tmp_path):
    from dlcv.training import train

    accuracy = {}
    for route in ("fast", "fit"):
        config = load_config(overrides=[f"route={route}", f"output_dir={tmp_path}", f"name={route}",
                                        "callbacks.monitor=false", "callbacks.checkpoint=none"])
        accuracy[route] = train(config, verbose=0).test_accuracy
    assert abs(accuracy["fast"] - accuracy["fit"]) <= 0.01, accuracy
    assert min(accuracy.values()) >= 0.95


def test_a_fast_route_model_saves_reloads_and_predicts_identically(keras, tmp_path):
    from dlcv.pipeline import to_model_input
    from dlcv.training import train

    result = train(load_config(overrides=["route=fast", "epochs=3", f"output_dir={tmp_path}"]), verbose=0)
    x = to_model_input(result.prepared.splits.test.images)
    expected = result.model.predict(x, verbose=0)
    for name in ("model.h5", "model.keras"):
        reloaded = keras.models.load_model(result.run_dir / name)
        np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # the variables the compiled loop trained were synced into the model that callbacks saw
    history = json.loads((result.run_dir / "history.json").read_text())
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0]


def test_auto_route_falls_back_to_fit_and_says_why(keras, tmp_path, capsys):
    from dlcv.training import train

    try:
        train(load_config(overrides=["precision=mixed_float16", "epochs=1", f"output_dir={tmp_path}"]), verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    assert "route: fit (float16 needs loss scaling, which fit's LossScaleOptimizer does)" in capsys.readouterr().out


def test_tensorboard_without_its_package_is_refused_before_training(keras, tmp_path):
    import importlib.util

    from dlcv.errors import ConfigError
    from dlcv.training import train

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed here")
    with pytest.raises(ConfigError, match="callbacks.tensorboard: needs the tensorboard package"):
        train(load_config(overrides=["callbacks.tensorboard=true", f"output_dir={tmp_path}"]), verbose=0)


def test_routes_that_cannot_apply(keras):
    from dlcv.errors import ConfigError
    from dlcv.training.routes import choose_route

    assert choose_route(load_config(overrides=["route=fit"]), 1000)[0] == "fit"
    assert choose_route(load_config(overrides=["precision=mixed_float16"]), 1000) == \
        ("fit", "float16 needs loss scaling, which fit's LossScaleOptimizer does")
    with pytest.raises(ConfigError, match="route: fast cannot be used here: TensorBoard"):
        choose_route(load_config(overrides=["route=fast", "callbacks.tensorboard=true"]), 1000)
    huge = choose_route(load_config(), 10**15)
    assert huge[0] == "fit" and "does not fit the device budget" in huge[1]


def test_mixed_bfloat16_trains_on_the_fast_route(keras, tmp_path):
    from dlcv.training import train

    try:
        result = train(load_config(overrides=["precision=mixed_bfloat16", "epochs=3", f"output_dir={tmp_path}"]),
                       verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    assert result.model.dtype_policy.name == "mixed_bfloat16"
    assert result.test_accuracy > 0.5
