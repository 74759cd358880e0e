"""Calibrated confidence and "unknown": temperature scaling, the reject rule chosen on validation, the label
in every predict format and a served response, and photos of none of the classes measured."""
import csv
import io
import json
import re

import cv2
import numpy as np
import pytest
from conftest import Server, run_config

from dlcv.task import MultiLabel, SingleLabel


def overconfident(count: int = 400, classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A classifier right about 70% of the time that says 0.99 or so: its logits scaled up fivefold."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, count)
    logits = rng.normal(0, 1, (count, classes))
    logits[np.arange(count), labels] += 1.5
    logits *= 5
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probabilities / probabilities.sum(axis=1, keepdims=True), labels


def nll(probabilities, labels) -> float:
    return float(-np.mean(np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1))))


def test_temperature_scaling_lowers_the_nll_of_an_overconfident_model():
    probabilities, labels = overconfident()
    task = SingleLabel(["a", "b", "c", "d"]).calibrate(probabilities[:200], labels[:200])  # "validation"
    temperature = float(task.calibration.temperature)
    assert 3 < temperature < 8  # the logits were scaled by 5
    held, truth = probabilities[200:], labels[200:]
    assert nll(task.calibrated(held), truth) < 0.8 * nll(held, truth)
    assert task.ece(task.calibrated(held), truth) < task.ece(held, truth)
    assert np.array_equal(task.calibrated(held).argmax(axis=1), held.argmax(axis=1))  # the labels stay


def test_each_class_of_a_multi_label_run_gets_its_own_temperature():
    rng = np.random.default_rng(1)
    targets = (rng.random((300, 2)) < 0.4).astype(np.uint8)
    logits = np.where(targets == 1, 1.0, -1.0) + rng.normal(0, 1.2, targets.shape)
    logits *= np.array([4.0, 1.0])  # the first class overconfident, the second about right
    task = MultiLabel(["x", "y"]).calibrate(1 / (1 + np.exp(-logits)), targets)
    first, second = task.calibration.temperature
    assert first > 2.5 and 0.6 < second < 1.6


def test_a_temperature_is_learnt_only_from_three_mistakes_or_more(caplog):
    """On images all classified right the likelihood rises as T falls to 0 (every probability pushed to 1):
    with fewer than 3 misclassified, T stays 1; a class of a multi-label run likewise, on its side of 0.5."""
    probabilities, labels = overconfident(count=60)
    right = probabilities.argmax(axis=1) == labels
    for mistakes, fitted in ((0, False), (2, False), (3, True)):
        rows = np.concatenate([np.flatnonzero(right)[:30], np.flatnonzero(~right)[:mistakes]])
        caplog.clear()
        with caplog.at_level("INFO", logger="dlcv"):
            task = SingleLabel(["a", "b", "c", "d"]).calibrate(probabilities[rows], labels[rows])
        assert (float(task.calibration.temperature) != 1.0) == fitted, mistakes
        said = ("temperature 1, the network's own probabilities: a temperature is learnt from at least 3 validation "
                f"mistakes, and only {mistakes} of {len(rows)} validation images were misclassified")
        assert (said in caplog.text) == (not fitted), caplog.text
        assert ("chosen on validation" in caplog.text) == fitted
    targets = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0], [0, 1]] * 5)
    sure = np.where(targets == 1, 0.9, 0.1)  # x: every image on its right side; y: three on the wrong one
    sure[:3, 1] = 1 - sure[:3, 1]
    with caplog.at_level("INFO", logger="dlcv"):
        first, second = MultiLabel(["x", "y"]).calibrate(sure, targets).calibration.temperature
    assert first == 1.0 and second != 1.0
    said = (r"calibration: temperature 1.000-\d\.\d{3} \(per class\) chosen on validation \(ECE [\d.]+ -> [\d.]+\); "
            r"1 where x had fewer than 3 validation images on the wrong side of 0.5$")
    assert re.search(said, caplog.text, re.M), caplog.text


@pytest.fixture(scope="module")
def rejecting_run(keras, tmp_path_factory):
    """The quickstart with a reject rule that keeps 80% of validation (a short run: plenty turned away)."""
    from dlcv.training.engine import train

    config = run_config(tmp_path_factory.mktemp("reject"), "reject={keep: 0.8}", epochs=4)
    return train(config, verbose=0)


@pytest.fixture(scope="module")
def digit_files(rejecting_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    for i, image in enumerate(rejecting_run.prepared.splits.test.images[:40]):
        cv2.imwrite(str(folder / f"{i:02d}.png"), image)
    return folder


def test_the_threshold_keeps_the_asked_share_of_validation(rejecting_run):
    from dlcv.inference import load_classifier

    saved = json.loads((rejecting_run.run_dir / "calibration.json").read_text())
    assert saved["reject"]["score"] == "confidence" and saved["reject"]["keep"] == 0.8
    classifier = load_classifier(rejecting_run.run_dir / "model.keras")
    val = rejecting_run.prepared.splits.val
    kept = classifier.predict_arrays(val.images).max(axis=1) >= saved["reject"]["threshold"]
    assert kept.mean() == pytest.approx(0.8, abs=1.5 / len(val.labels))
    assert json.loads((rejecting_run.run_dir / "results.json").read_text())["calibrated"] is True


def test_unknown_is_in_every_predict_format_and_no_reject_gives_the_top_label(dlcv, rejecting_run, digit_files):
    model = rejecting_run.run_dir / "model.keras"
    said = json.loads(dlcv("predict", "--model", model, digit_files, "--format", "json").out)
    unknown = {record["path"] for record in said if record.get("unknown")}
    assert 0 < len(unknown) < len(said)  # some images turned away, not all
    assert all(record["label"] == "unknown" for record in said if record["path"] in unknown)
    text = dlcv("predict", "--model", model, digit_files).out.splitlines()
    assert {line.split("\t")[0] for line in text if line.split("\t")[1] == "unknown"} == unknown
    rows = list(csv.DictReader(io.StringIO(dlcv("predict", "--model", model, digit_files, "--format", "csv").out)))
    assert {row["path"] for row in rows if row["label"] == "unknown"} == unknown
    plain = json.loads(dlcv("predict", "--model", model, digit_files, "--format", "json", "--no-reject").out)
    assert not any(record.get("unknown") or record["label"] == "unknown" for record in plain)


def test_a_served_response_says_unknown(rejecting_run, digit_files):
    served = Server(rejecting_run.run_dir)
    try:
        answers = [served.call("/v1/predict", path.read_bytes(), "image/png")[2]["predictions"][0]
                   for path in sorted(digit_files.glob("*.png"))[:20]]
    finally:
        assert served.stop() == 0
    assert any(a.get("unknown") and a["label"] == "unknown" for a in answers)
    assert all(len(a["probabilities"]) == 10 for a in answers)


def test_photos_of_none_of_the_classes_are_measured(dlcv, rejecting_run, digit_files, tmp_path):
    """Noise images against the digits: the figures are what the scores say (recomputed here)."""
    from sklearn.metrics import roc_auc_score

    from dlcv.inference import load_classifier

    strangers = tmp_path / "strangers"
    strangers.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):
        cv2.imwrite(str(strangers / f"{i}.png"), rng.integers(0, 256, (8, 8), dtype=np.uint8))
    said = dlcv("evaluate", "--model", rejecting_run.run_dir / "model.keras", "--unknown", strangers,
                "--format", "json")
    assert said.code == 0, said.err
    figures = json.loads(said.out or "null")
    assert figures, (said.out, said.err[-2000:])
    classifier = load_classifier(rejecting_run.run_dir / "model.keras")
    test = rejecting_run.prepared.splits.test
    known = classifier.predict_arrays(test.images).max(axis=1)
    noise = classifier.predict_arrays(np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)[..., None]
                                                for p in sorted(strangers.glob("*.png"))])).max(axis=1)
    threshold = json.loads((rejecting_run.run_dir / "calibration.json").read_text())["reject"]["threshold"]
    assert figures["images"] == 30 and figures["threshold"] == threshold
    assert figures["rejected"] == pytest.approx(np.mean(noise < threshold), abs=1e-6)
    truth = np.r_[np.ones(len(known)), np.zeros(len(noise))]
    assert figures["auroc"] == pytest.approx(roc_auc_score(truth, np.r_[known, noise]), abs=1e-4)
    evaluated = json.loads((rejecting_run.run_dir / "evaluation.json").read_text())
    assert 0 < evaluated["coverage"] <= 1 and evaluated["selective_accuracy"] >= evaluated["test_accuracy"] - 1e-9


def test_the_neighbours_score_keeps_the_training_features(keras, tmp_path, dlcv):
    from dlcv.training.engine import train

    result = train(run_config(tmp_path, "reject={score: neighbours, keep: 0.9}", epochs=2), verbose=0)
    features = np.load(result.run_dir / "features.npy")
    assert features.dtype == np.float16 and features.shape == (len(result.prepared.splits.train.labels), 32)
    assert np.allclose(np.linalg.norm(features.astype(np.float32), axis=1), 1, atol=1e-2)
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (8, 8, 1), dtype=np.uint8) for _ in range(4)]  # noise
    pictures += list(result.prepared.splits.test.images[:4])                        # digits
    for i, picture in enumerate(pictures):
        cv2.imwrite(str(tmp_path / f"{i}.png"), picture)
    said = json.loads(dlcv("predict", "--model", result.run_dir / "model.keras", *sorted(tmp_path.glob("*.png")),
                           "--format", "json").out)
    # the score recomputed here: the head's input, unit length, its 10th most similar training image
    model = keras.saving.load_model(result.run_dir / "model.keras")
    head = keras.Model(model.inputs, model.get_layer("class_scores").input)
    queries = np.array(head(np.stack(pictures).astype("float32") / 255.0), np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    scores = np.sort(queries @ features.astype(np.float32).T, axis=1)[:, -10]
    threshold = json.loads((result.run_dir / "calibration.json").read_text())["reject"]["threshold"]
    assert [bool(record.get("unknown")) for record in said] == list(scores < threshold)


@pytest.mark.parametrize("overrides, said", [
    (["reject={keep: 0}"], "reject.keep"),
    (["reject={keep: 1.5}"], "reject.keep"),
    (["reject={}", "task=multilabel"], "reject: a run of label sets has no top label to turn away"),
])
def test_a_reject_rule_that_cannot_be_is_one_line(dlcv, tmp_path, overrides, said):
    outcome = dlcv("train", "--set", f"output_dir={tmp_path}", *[a for o in overrides for a in ("--set", o)])
    assert outcome.code == 2 and said in outcome.err and outcome.err.count("\n") == 1, outcome.err


def test_unknown_photos_from_an_empty_folder_are_one_line(dlcv, rejecting_run, tmp_path):
    said = dlcv("evaluate", "--model", rejecting_run.run_dir / "model.keras", "--unknown", tmp_path)
    assert said.code == 2 and "holds no images" in said.err and said.err.count("\n") == 1


def test_a_run_trained_before_calibration_predicts_as_before_and_says_so(keras, caplog):
    """A committed run folder written before runs were calibrated: the network's own probabilities."""
    from conftest import ROOT

    from dlcv.inference import load_classifier

    run = ROOT / "tests" / "fixtures" / "runs" / "multilabel"
    with caplog.at_level("INFO", logger="dlcv"):
        classifier = load_classifier(run / "model.keras")
    assert "multilabel: no calibration.json; its probabilities are the network's own (uncalibrated)" in caplog.text
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    raw = keras.saving.load_model(run / "model.keras").predict(images.astype("float32") / 255.0, verbose=0)
    np.testing.assert_allclose(classifier.predict_arrays(images), raw, atol=1e-6)
