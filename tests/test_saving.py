"""What a run's model files are (dlcv.saving): Keras's own objects only, so plain Keras loads them; and the
run folders written before that (tests/fixtures/runs) still load and predict through dlcv."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from dlcv.config import load_config

FIXTURES = Path(__file__).parent / "fixtures" / "runs"

# A Python in which dlcv cannot be imported: each model file is loaded as the book does (compile left at its
# default), its compile config checked and its predictions written for the test to compare.
PLAIN_KERAS = """
import sys
sys.modules["dlcv"] = None  # `import dlcv` now fails
import json, keras, numpy as np
out = {}
for path, inputs in json.loads(sys.argv[1]).items():
    model = keras.saving.load_model(path)
    optimizer = model.optimizer.get_config()
    out[path] = {"loss": str(model.loss), "optimizer": type(model.optimizer).__name__,
                 "momentum": optimizer.get("momentum"),
                 "probabilities": model.predict(np.load(inputs), verbose=0).tolist()}
print(json.dumps(out))
"""


def test_a_runs_model_files_load_and_predict_where_dlcv_is_not_installed(keras, tmp_path, digits_run):
    """A backbone model compiled with everything that used to need dlcv to load (its input conversion,
    the loss and accuracy of smoothed and mixed labels, the step schedule), and a real run's files."""
    from dlcv.runs import RunFolder
    from dlcv.saving import save_model
    from dlcv.training.engine import compile_model

    config = load_config(overrides=[
        "model.name=mobilenet_v2", "model.params={weights: none, trainable: true}", "preprocessing.width=32",
        "preprocessing.height=32", "preprocessing.channels=3", "label_smoothing=0.1", "augmentation.mixup=0.2",
        "schedule={name: step, factor: 0.5, drop_every: 2}"])
    from dlcv.task import build_task

    task = build_task("single", ["a", "b", "c"])
    model = compile_model(config, task, steps_per_epoch=4)
    assert "CrossEntropy" in str(model.get_compile_config())  # what training compiles: dlcv's loss
    backbone_files = save_model(model, RunFolder(tmp_path / "backbone"), task)
    images = np.random.default_rng(0).random((2, 32, 32, 3), np.float32)
    digits = np.random.default_rng(1).random((2, 8, 8, 1), np.float32)
    np.save(tmp_path / "photos.npy", images)
    np.save(tmp_path / "digits.npy", digits)
    cases = {str(backbone_files[key]): (model, tmp_path / "photos.npy") for key in ("model_h5", "model_keras")}
    cases.update({str(digits_run.artefacts[key]): (digits_run.model, tmp_path / "digits.npy")
                  for key in ("model_h5", "model_keras")})

    loaded = subprocess.run([sys.executable, "-c", PLAIN_KERAS, json.dumps({k: str(v[1]) for k, v in cases.items()})],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    results = json.loads(loaded.stdout.strip().splitlines()[-1])
    for path, (trained, inputs) in cases.items():
        result = results[path]
        assert "sparse_categorical_crossentropy" in result["loss"], path
        # the optimizer training used, with its state (not RMSprop's defaults)
        assert result["optimizer"] == "SGD" and result["momentum"] == 0.9, path
        expected = keras.ops.convert_to_numpy(trained(np.load(inputs), training=False))
        np.testing.assert_allclose(result["probabilities"], expected, rtol=1e-5, atol=1e-6, err_msg=path)


@pytest.mark.parametrize("run", ["backbone", "smoothed", "step_decay"])
@pytest.mark.parametrize("file", ["model.h5", "model.keras"])
def test_run_folders_written_before_still_predict(dlcv, tmp_path, run, file):
    config = load_config(FIXTURES / run / "config.yaml")
    p = config.preprocessing
    image = np.random.default_rng(0).integers(0, 256, (p.height or 8, p.width or 8, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "image.png"), image)
    predicted = dlcv("predict", "--model", FIXTURES / run / file, tmp_path / "image.png", "--format", "json")
    assert predicted.code == 0, predicted.err
    [row] = json.loads(predicted.out)
    classes = json.loads((FIXTURES / run / "class_names.json").read_text())
    assert row["label"] in classes and 0 < row["probability"] <= 1


@pytest.mark.parametrize("file", ["model.h5", "model.keras"])
def test_a_multi_label_run_folder_written_before_still_predicts_its_label_sets(dlcv, keras, tmp_path, file):
    """Its labels are the classes at or above the thresholds its thresholds.json holds (computed here with
    plain Keras), each with its own probability."""
    run = FIXTURES / "multilabel"
    images = np.random.default_rng(3).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(paths[-1]), image[:, :, ::-1])  # RGB -> OpenCV's BGR: decoded back to `image`
    predicted = dlcv("predict", "--model", run / file, *paths, "--format", "json")
    assert predicted.code == 0, predicted.err
    model = keras.saving.load_model(run / file, compile=False)
    probabilities = keras.ops.convert_to_numpy(model(images.astype(np.float32) / 255.0, training=False))
    classes = json.loads((run / "class_names.json").read_text())
    thresholds = json.loads((run / "thresholds.json").read_text())["thresholds"]
    for row, expected in zip(json.loads(predicted.out), probabilities):
        assert row["labels"] == [name for k, name in enumerate(classes) if expected[k] >= thresholds[name]]
