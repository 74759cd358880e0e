"""`dlcv export` (SavedModel, ONNX, LiteRT: uint8 in, probabilities out, checked against Keras) and
`dlcv predict` on exports: streaming, output formats, skipping and exit codes."""
import contextlib
import csv
import io
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import at_temperature

from dlcv.inputs import model_input

pytestmark = pytest.mark.usefixtures("keras")


def _needs_tensorflow(keras):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("exports are written on the TensorFlow backend")


@pytest.fixture(scope="module")
def exported(digits_run, tmp_path_factory, keras):
    """The short digits run exported once in all three formats (checked on its own test split)."""
    _needs_tensorflow(keras)
    from dlcv import app

    target = tmp_path_factory.mktemp("exports") / "export"
    reports = app.export(digits_run.run_dir, formats=["saved_model", "onnx", "litert"], output=target)
    return target, reports


@pytest.fixture(scope="module")
def test_images(digits_run):
    return digits_run.prepared.splits.test.images[:16]


@pytest.fixture(scope="module")
def keras_probabilities(digits_run, test_images):
    """What the trained Keras model itself says about the test images (the reference every export meets)."""
    return np.asarray(digits_run.model.predict(model_input(test_images), verbose=0))


@pytest.fixture(scope="module")
def digit_pngs(digits_run, tmp_path_factory, test_images):
    folder = tmp_path_factory.mktemp("export-pngs")
    for i, image in enumerate(test_images[:6]):
        cv2.imwrite(str(folder / f"digit{i}.png"), image)
    return folder


def test_saved_model_serving_default_takes_a_uint8_batch_by_name(exported, test_images, keras_probabilities):
    """Called as TensorFlow Serving calls it: the signature by name, its input by name, uint8 pixels."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(exported[0] / "saved_model"))
    signature = loaded.signatures["serving_default"]
    (spec,) = signature.structured_input_signature[1].values()
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, 8, 8, 1]
    outputs = signature(images=tf.constant(test_images))
    (probabilities,) = outputs.values()
    np.testing.assert_allclose(probabilities.numpy(), keras_probabilities, atol=1e-5)


def test_onnx_runs_in_onnxruntime_and_agrees_with_keras(exported, test_images, keras_probabilities):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(exported[0] / "model.onnx"), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert given.type == "tensor(uint8)" and given.shape[1:] == [8, 8, 1]
    (probabilities,) = session.run(None, {given.name: test_images})
    np.testing.assert_allclose(probabilities, keras_probabilities, atol=1e-5)


def test_litert_runs_in_its_interpreter_and_agrees_with_keras(exported, test_images, keras_probabilities):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(exported[0] / "model.tflite"))
    given = interpreter.get_input_details()[0]
    assert given["dtype"] == np.uint8
    interpreter.resize_tensor_input(given["index"], test_images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], test_images)
    interpreter.invoke()
    probabilities = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(probabilities, keras_probabilities, atol=1e-5)


def test_the_export_folder_describes_itself(exported, digits_run):
    target, reports = exported
    spec = json.loads((target / "serving.json").read_text())
    assert spec["input"] == {"name": "images", "dtype": "uint8", "shape": [None, 8, 8, 1], "layout": "NHWC",
                             "colour": "grey", "range": [0, 255]}
    assert spec["output"]["shape"] == [None, 10] and spec["labels"] == [str(i) for i in range(10)]
    assert (spec["preprocessing"]["width"], spec["preprocessing"]["height"]) == (8, 8)
    assert set(spec["exports"]) == {"saved_model", "onnx", "litert"}
    assert json.loads((target / "class_names.json").read_text()) == spec["labels"]
    assert [r.name for r in reports] == ["saved_model", "onnx", "litert"]
    assert all(r.max_difference <= 1e-4 and r.agreement == 1.0 for r in reports)
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("exported_file", ["saved_model", "model.onnx", "model.tflite"])
def test_predict_on_an_export_gives_the_keras_models_labels(dlcv, exported, digits_run, digit_pngs, exported_file):
    on_keras = dlcv("predict", "--model", digits_run.run_dir / "model.h5", digit_pngs)
    on_export = dlcv("predict", "--model", exported[0] / exported_file, digit_pngs)
    assert on_keras.code == 0 and on_export.code == 0, on_export.err
    keras_rows = [line.split("\t") for line in on_keras.out.splitlines() if "\t" in line]
    export_rows = [line.split("\t") for line in on_export.out.splitlines() if "\t" in line]
    assert len(export_rows) == 6
    assert [row[:2] for row in export_rows] == [row[:2] for row in keras_rows]
    for ours, theirs in zip(export_rows, keras_rows):
        assert float(ours[2]) == pytest.approx(float(theirs[2]), abs=2e-4)


def test_a_tampered_export_fails_its_parity_check_and_leaves_nothing(dlcv, digits_run, tmp_path, monkeypatch):
    """A writer whose file no longer computes the model's function: exit 1, one line, no folder."""
    import dataclasses

    from dlcv.export import formats

    original = formats.FORMATS["onnx"]

    def tampered(model, path, quantization=None):
        weights = model.get_weights()
        model.set_weights([w + 0.05 for w in weights])
        try:
            original.write(model, path)
        finally:
            model.set_weights(weights)

    monkeypatch.setitem(formats.FORMATS, "onnx", dataclasses.replace(original, write=tampered))
    result = dlcv("export", digits_run.run_dir, "--format", "onnx", "--output", tmp_path / "export")
    assert result.code == 1, result.err
    assert "parity" in result.err and "onnx differs" in result.err and result.err.count("\n") == 1
    assert not (tmp_path / "export").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_export_refuses_a_non_empty_output_unless_forced(dlcv, digits_run, tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "keep.txt").write_text("someone's file")
    refused = dlcv("export", digits_run.run_dir, "--format", "saved_model", "--output", target)
    assert refused.code == 2 and "--force" in refused.err and refused.err.count("\n") == 1
    assert (target / "keep.txt").exists()
    forced = dlcv("export", digits_run.run_dir, "--format", "saved_model", "--output", target, "--force")
    assert forced.code == 0, forced.err
    assert not (target / "keep.txt").exists() and (target / "saved_model" / "saved_model.pb").is_file()


@pytest.mark.parametrize("args, fragment", [
    (["--format", "onnx", "--quantize"], "--quantize dynamic applies to litert"),
    (["--format", "saved_model", "--quantize", "int8"], "a SavedModel is exported in float32"),
    (["--format", "onnx", "--quantize", "int8", "--min-agreement", "1.5"], "--min-agreement 1.5"),
    (["--format", "onnx", "--backend", "jax"], "exports are written on the TensorFlow backend"),
    (["--format", "onnx", "--check-images", "missing.png"], "image path not found"),
])
def test_export_misuse_is_one_line_exit_2(dlcv, digits_run, tmp_path, args, fragment):
    result = dlcv("export", digits_run.run_dir, "--output", tmp_path / "export", *args)
    assert result.code == 2 and fragment in result.err and result.err.count("\n") == 1
    assert not (tmp_path / "export").exists()


def test_export_names_what_to_install_when_a_runtime_is_missing(dlcv, digits_run, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    result = dlcv("export", digits_run.run_dir, "--format", "onnx", "--output", tmp_path / "export")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "pip install onnxruntime" in result.err


def test_quantized_litert_reports_its_accuracy_change(dlcv, digits_run, tmp_path):
    result = dlcv("export", digits_run.run_dir, "--format", "litert", "--quantize", "--output", tmp_path / "q")
    assert result.code == 0, result.err
    assert "litert dynamic: test accuracy" in result.out and "images of the run's test split" in result.out
    spec = json.loads((tmp_path / "q" / "serving.json").read_text())
    assert spec["exports"]["litert"]["quantized"] is True
    assert spec["exports"]["litert"]["quantization"]["mode"] == "dynamic"


@contextlib.contextmanager
def native_stderr(path):
    """What native code writes to file descriptor 2 in the block, into ``path`` (capsys sees Python's alone)."""
    saved = os.dup(2)
    with open(path, "wb") as native:
        os.dup2(native.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def test_int8_litert_and_onnx_agree_with_keras_and_serve_like_any_export(dlcv, digits_run, digit_pngs, tmp_path):
    """Full-integer exports calibrated on 200 training images: most test labels as Keras gives them; the
    converter's native lines ("fully_quantize: 0, inference_type: 6, ...") not written to the console."""
    with native_stderr(tmp_path / "native.txt"):
        result = dlcv("export", digits_run.run_dir, "--format", "litert", "onnx", "--quantize", "int8",
                      "--output", tmp_path / "q")
    assert result.code == 0, result.err
    assert "fully_quantize" not in (tmp_path / "native.txt").read_text()
    spec = json.loads((tmp_path / "q" / "serving.json").read_text())
    for name in ("litert", "onnx"):
        record = spec["exports"][name]["quantization"]
        assert record["mode"] == "int8" and record["calibration_images"] == 200
        assert record["agreement"] >= 0.97 and spec["exports"][name]["agreement"] == record["agreement"]
        assert record["accuracy"] == pytest.approx(record["reference_accuracy"], abs=0.03)
    import onnx

    ops = {node.op_type for node in onnx.load(str(tmp_path / "q" / "model.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # int8 inside, not float
    said = dlcv("predict", "--model", tmp_path / "q" / "model.tflite", digit_pngs, "--format", "json")
    assert said.code == 0 and len(json.loads(said.out)) == 6


def test_a_broken_calibration_fails_the_int8_gate_and_writes_nothing(dlcv, digits_run, tmp_path):
    """Calibrated on one blank image, every activation range is zero: its labels are not Keras's."""
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((8, 8), np.uint8))
    args = ["export", digits_run.run_dir, "--format", "onnx", "--quantize", "int8", "--calibration-images", blank,
            "--output", tmp_path / "q"]
    refused = dlcv(*args)
    assert refused.code == 1 and "below --min-agreement 0.97" in refused.err and refused.err.count("\n") == 1
    assert not (tmp_path / "q").exists()
    dropped = dlcv(*args, "--allow-drop")
    assert dropped.code == 0 and "written anyway (--allow-drop)" in dropped.err
    assert (tmp_path / "q" / "model.onnx").is_file()


def test_a_bare_model_exports_with_index_labels_checked_on_given_images(dlcv, digits_run, digit_pngs, tmp_path):
    bare = tmp_path / "bare.keras"
    shutil.copyfile(digits_run.run_dir / "model.keras", bare)
    result = dlcv("export", bare, "--format", "onnx", "--check-images", digit_pngs)
    assert result.code == 0, result.err
    assert "labels are class indexes 0-9" in result.err
    assert "6 images from --check-images" in result.out
    spec = json.loads((tmp_path / "export" / "serving.json").read_text())
    assert spec["labels"] == [str(i) for i in range(10)] and spec["has_run_metadata"] is False


def test_the_stored_temperature_gives_dlcvs_probabilities_through_every_runtime(exported, test_images,
                                                                               keras_probabilities, digits_run):
    """A client applying serving.json's temperature to SavedModel's or ONNX's output gets what dlcv predict
    gives (calibrated Keras); the temperature is the run's calibration.json's."""
    import onnxruntime
    import tensorflow as tf

    from dlcv.inference import load_classifier

    spec = json.loads((exported[0] / "serving.json").read_text())
    stored = json.loads((digits_run.run_dir / "calibration.json").read_text())
    assert spec["calibration"] == stored and stored["method"] == "temperature" and stored["temperature"] != 1.0
    ours = load_classifier(digits_run.run_dir / "model.keras").predict_arrays(test_images)
    session = onnxruntime.InferenceSession(str(exported[0] / "model.onnx"), providers=["CPUExecutionProvider"])
    (onnx,) = session.run(None, {session.get_inputs()[0].name: test_images})
    signature = tf.saved_model.load(str(exported[0] / "saved_model")).signatures["serving_default"]
    (saved,) = signature(images=tf.constant(test_images)).values()
    for raw in (keras_probabilities, onnx, saved.numpy()):  # (a sharpening T magnifies float32's rounding)
        np.testing.assert_allclose(at_temperature(raw, digits_run.run_dir), ours, atol=1e-4)
    assert not np.allclose(ours, keras_probabilities, atol=1e-3)  # the temperature changed them


def test_predict_writes_csv_with_the_top_k(dlcv, digits_run, digit_pngs, keras_probabilities, tmp_path):
    out = tmp_path / "labels.csv"
    result = dlcv("predict", "--model", digits_run.run_dir / "model.keras", digit_pngs, "--format", "csv",
                  "--top", "3", "--output", out)
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["path", "label", "probability", "label_2", "probability_2", "label_3", "probability_3"]
    assert [row["path"] for row in rows] == [str(digit_pngs / f"digit{i}.png") for i in range(6)]
    calibrated = at_temperature(keras_probabilities, digits_run.run_dir)  # as the run predicts
    for i, row in enumerate(rows):
        expected = np.argsort(-calibrated[i])[:3]
        assert [row["label"], row["label_2"], row["label_3"]] == [str(k) for k in expected]
        assert float(row["probability_2"]) == pytest.approx(calibrated[i][expected[1]], abs=1e-4)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_predict_json_is_one_array_and_skips_unreadable_files_with_exit_1(dlcv, digits_run, digit_pngs, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(digit_pngs, folder)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    (folder / "notes.jpg").write_text("not an image")
    (folder / "empty.jpg").write_bytes(b"")
    result = dlcv("predict", "--model", digits_run.run_dir / "model.h5", folder, "--format", "json",
                  "--batch-size", "4")
    assert result.code == 1
    records = json.loads(result.out)
    assert len(records) == 6 and {"path", "label", "probability"} <= set(records[0])
    warnings = {Path(line.split("'")[1]).name: line for line in result.err.splitlines() if "warning: skipped" in line}
    assert sorted(warnings) == ["broken.png", "empty.jpg", "notes.jpg"]
    assert "(28 bytes): damaged, or not a JPEG, PNG, BMP, TIFF, WebP, PPM/PGM or GIF file" in warnings["broken.png"]
    assert "is empty (0 bytes)" in warnings["empty.jpg"] and "(12 bytes): damaged" in warnings["notes.jpg"]
    assert "labelled 6 of 9 images; skipped 3 unreadable file(s)" in result.err


def test_predict_streams_inputs_in_bounded_batches(digits_run, digit_pngs, monkeypatch):
    """Every forward pass sees at most batch_size images, and decoding runs at most two batches ahead."""
    from dlcv.inference import load_classifier

    run = load_classifier(digits_run.run_dir / "model.h5")
    paths = [str(p) for p in sorted(digit_pngs.iterdir())] * 20  # 120 files
    seen, decoded = [], []
    forward, decode = run.forward, run.decode
    run.forward = lambda images: seen.append(len(images)) or forward(images)
    monkeypatch.setattr(run, "decode", lambda path: decoded.append(path) or decode(path))
    stream = run.iter_predictions(iter(paths), batch_size=8)
    first = [next(stream) for _ in range(8)]
    assert len(decoded) <= 8 + 2 * 8 + 1  # the first batch, at most two batches queued behind it
    rest = list(stream)
    assert len(first) + len(rest) == 120 and max(seen) == 8 and sum(seen) == 120


@pytest.mark.parametrize("args, fragment", [
    (["--top", "11"], "--top 11: the model has 10 classes"),
    (["--output", "."], "is a folder; expected a file name"),
])
def test_predict_misuse_is_one_line_exit_2(dlcv, digits_run, digit_pngs, args, fragment):
    result = dlcv("predict", "--model", digits_run.run_dir / "model.h5", digit_pngs, *args)
    assert result.code == 2 and fragment in result.err.splitlines()[-1]


def test_an_onnx_or_litert_export_predicts_in_a_process_without_keras_or_tensorflow(exported, digits_run, digit_pngs):
    """The deployment check needs only the export's runtime: Keras and TensorFlow made unimportable."""
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
            "from dlcv.cli import main\n"
            "code = main(['predict', '--model', sys.argv[1], sys.argv[2], '--format', 'csv'])\n"
            "assert 'keras' not in sys.modules or sys.modules['keras'] is None\n"
            "raise SystemExit(code)\n")
    expected = dict(line.split("\t")[:2] for line in _keras_lines(digits_run, digit_pngs))
    for name in ("model.onnx", "model.tflite"):
        result = subprocess.run([sys.executable, "-c", code, str(exported[0] / name), str(digit_pngs)], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert {row["path"]: row["label"] for row in rows} == expected


def _keras_lines(digits_run, digit_pngs):
    from dlcv.inference import load_classifier

    run = load_classifier(digits_run.run_dir / "model.h5")
    return [f"{p.path}\t{p.label}" for p in run.iter_predictions(sorted(str(p) for p in digit_pngs.iterdir()))]


def test_a_folder_run_is_checked_on_its_own_test_split_until_the_photos_are_gone(dlcv, tmp_path):
    """The test split is streamed (only its images decoded); with the photos deleted, generated images."""
    from data_files import write_class_folders

    root = write_class_folders(tmp_path / "photos", per_class=10)
    trained = dlcv("train", "--set", "dataset.name=folder", "--set", f"dataset.path={root}", "--set",
                   "preprocessing.width=8", "--set", "preprocessing.height=8", "--set", "model.name=linear",
                   "--set", "model.params={}", "--set", f"output_dir={tmp_path / 'out'}", "--set", "name=run",
                   "--set", "epochs=2", "--set", "dataset.test_size=0.3")
    assert trained.code == 0, trained.err
    run_dir = tmp_path / "out" / "run"
    with_data = dlcv("export", run_dir, "--format", "onnx")
    assert with_data.code == 0, with_data.err
    assert "on 9 images of the run's test split" in with_data.out  # 30% of 30 photos
    assert "streaming" not in with_data.out
    shutil.rmtree(root)
    without = dlcv("export", run_dir, "--format", "onnx", "--force")
    assert without.code == 0, without.err
    assert "32 generated images (the run's data is not here" in without.out


def test_a_multi_label_run_quantizes_and_its_agreement_is_of_label_sets(dlcv, tmp_path):
    from conftest import ROOT

    run = shutil.copytree(ROOT / "tests" / "fixtures" / "runs" / "multilabel", tmp_path / "run")
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        cv2.imwrite(str(photos / f"{i}.png"), rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    result = dlcv("export", run, "--format", "litert", "--quantize", "int8", "--calibration-images", photos,
                  "--check-images", photos, "--allow-drop", "--output", tmp_path / "q")
    assert result.code == 0, result.err
    assert "sets agree" in result.out
    record = json.loads((tmp_path / "q" / "serving.json").read_text())["exports"]["litert"]["quantization"]
    assert record["mode"] == "int8" and record["calibration_images"] == 20 and 0 <= record["agreement"] <= 1
