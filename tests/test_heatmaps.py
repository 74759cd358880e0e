"""Where the model looks: HiResCAM / Grad-CAM / LayerCAM maps (dlcv.heatmaps), `dlcv explain`'s files, and the
report's heatmaps beside its mistakes."""
import base64
import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "runs"


def test_each_method_by_hand():
    """Two positions, two channels: the maps worked out by hand."""
    from dlcv.heatmaps import class_activation_map, normalised, peak

    activations = np.array([[[[1.0, 2.0], [3.0, 0.0]]]], np.float32)   # (1, 1, 2, 2): x = 0 and x = 1
    gradients = np.array([[[[2.0, -1.0], [-2.0, 4.0]]]], np.float32)
    # hirescam: 1*2 + 2*-1 = 0 | 3*-2 + 0*4 = -6 -> 0 ; gradcam: mean gradients (0, 1.5): 3 | 0 ;
    # layercam: 1*2 + 2*0 = 2 | 3*0 + 0*4 = 0
    assert class_activation_map(activations, gradients, "hirescam").tolist() == [[[0.0, 0.0]]]
    assert class_activation_map(activations, gradients, "gradcam").tolist() == [[[3.0, 0.0]]]
    assert class_activation_map(activations, gradients, "layercam").tolist() == [[[2.0, 0.0]]]
    flat = normalised(np.zeros((2, 2), np.float32), 4, 4)
    assert flat.shape == (4, 4) and not flat.any() and peak(flat) is None  # no evidence: all zeros, no peak
    spot = normalised(np.array([[0, 0], [0, 1]], np.float32), 8, 8)
    # bilinear with pixel centres: x, y = 6 and 7 both sit at or past the last cell's centre; the first is the peak
    assert spot.sum() == pytest.approx(1.0) and peak(spot) == [6, 6] and spot[7, 7] == spot[6, 6]


def _flatten_network(keras, nested: bool):
    """Conv -> ReLU -> Flatten -> Dense -> softmax at 6x6 (the conv and ReLU inside a model of their own when
    ``nested``), with set weights."""
    from keras import layers

    from dlcv.models.heads import classifier_output

    rng = np.random.default_rng(0)
    inputs = keras.Input((6, 6, 3))
    body_in = keras.Input((6, 6, 3)) if nested else inputs
    x = layers.Conv2D(4, 3, padding="same", name="conv")(body_in)
    x = layers.Activation("relu", name="features")(x)
    if nested:
        x = keras.Model(body_in, x, name="body")(inputs)
    x = layers.Flatten()(x)
    model = keras.Model(inputs, classifier_output(x, 3, "softmax"))
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_hirescam_on_a_flatten_head_is_each_places_part_of_the_score(keras, nested):
    """Behind Flatten -> Dense, a class's score is the sum over places and channels of activation times
    kernel weight: HiResCAM's map is exactly that (positive part), inside a nested model as outside."""
    from dlcv.heatmaps import Explainer

    model = _flatten_network(keras, nested)
    images = np.random.default_rng(1).integers(0, 256, (3, 6, 6, 3), dtype=np.uint8)
    classes = [0, 2, 1]
    explainer = Explainer(model, "hirescam", "features")
    maps, scores = explainer.heatmaps(images, classes)
    assert explainer.layer == "features" and explainer.map_size == (6, 6)

    inside = model.get_layer("body") if nested else model
    features = keras.Model(inside.inputs[0], inside.get_layer("features").output)(images / 255.0)
    features = keras.ops.convert_to_numpy(features)                     # (3, 6, 6, 4)
    kernel, bias = model.get_layer("class_scores").get_weights()        # (144, 3), row = (y * 6 + x) * 4 + k
    for i, k in enumerate(classes):
        terms = features[i] * kernel[:, k].reshape(6, 6, 4)
        expected = np.maximum(terms.sum(axis=-1), 0)
        np.testing.assert_allclose(maps[i], expected / expected.sum(), rtol=1e-4, atol=1e-6)
        assert scores[i] == pytest.approx(terms.sum() + bias[k], rel=1e-4)  # the pre-activation score


def _patch_model(keras):
    """MiniVGGNet trained on the patch task at 48x48 (its BatchNormalization's statistics follow a few steps:
    momentum 0.8), with 100 images it did not train on. (At 32x32 the patch is two cells of the 8x8 map: 0.86 to
    0.95 of the peaks on it over seeds, too close to the bar; at 48x48, three cells: 0.97 to 0.99.)"""
    from dlcv.data.toy import patch_task
    from dlcv.inputs import model_input
    from dlcv.models import build_model

    images, labels, _ = patch_task(300, 48, seed=0)
    keras.utils.set_random_seed(0)
    model = build_model("minivggnet", 48, 48, 3, 3, batch_norm_momentum=0.8)
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss=keras.losses.SparseCategoricalCrossentropy())
    model.fit(model_input(images), labels.astype("int32"), batch_size=32, epochs=5, verbose=0)
    return model, patch_task(100, 48, seed=1)


def test_minivggnet_looks_at_the_patch_and_the_report_draws_each_mistakes_heatmap(keras, tmp_path):
    """One test, so one worker trains the model (xdist shares no fixture)."""
    from dlcv.heatmaps import Explainer, peak

    model, (images, labels, boxes) = _patch_model(keras)
    explainer = Explainer(model)  # HiResCAM, the last map of at least 7x7
    maps, _ = explainer.heatmaps(images, labels)
    assert explainer.method == "hirescam" and explainer.map_size == (12, 12) and maps.shape == (100, 48, 48)
    assert explainer.layer.startswith("max_pooling2d")  # the second block's pooled map (its dropout passes it on)
    on_patch = [x0 <= x < x1 and y0 <= y < y1 for (x, y), (x0, y0, x1, y1) in zip(map(peak, maps), boxes)]
    assert np.mean(on_patch) >= 0.85
    _check_report_heatmaps(model, images, labels, tmp_path, explainer.layer)  # Keras numbers layer names


def _check_report_heatmaps(model, images, labels, tmp_path, layer: str):
    from dlcv.data import ImageSet
    from dlcv.pipeline import predict_dataset
    from dlcv.report import write_report
    from dlcv.runs import RunFolder
    from dlcv.task import SingleLabel

    names = ["red", "green", "blue"]
    labels = labels.copy()
    labels[:6] = (labels[:6] + 1) % 3  # six wrong labels: mistakes however well the model did
    test, task = ImageSet(images, labels, names), SingleLabel(names)
    evaluation = task.score(*predict_dataset(model, test))
    wrong = int((evaluation.probabilities.argmax(axis=1) != labels).sum())
    assert wrong >= 6
    page = write_report(RunFolder(tmp_path / "with"), evaluation, test, task=task, model=model).read_text()
    overlays = re.findall(r'<img alt="heatmap of test image \d+" src="data:image/png;base64,([^"]+)"', page)
    assert len(overlays) == wrong and f"hirescam at layer {layer} (12x12)" in page
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(overlays[0]), np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (240, 240, 3)  # 48x48 drawn 5 times larger, no caption band
    plain = write_report(RunFolder(tmp_path / "without"), evaluation, test, task=task).read_text()
    assert "heatmap of test image" not in plain  # report.heatmaps: false


def _images(folder: Path, size: int = 40) -> Path:
    """a/000.png, a/001.png and b/000.png: two files of one name in two folders."""
    from dlcv.data.toy import patch_task

    images, _, _ = patch_task(3, size, seed=3)
    for image, name in zip(images, ("a/000.png", "a/001.png", "b/000.png")):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), image[..., ::-1])
    return folder


def test_explain_writes_a_heatmap_and_an_overlay_per_image_through_a_nested_backbone(dlcv, tmp_path):
    """The committed MobileNetV2 run (a nested backbone, a head that is one Dense with its softmax): files named
    after each image's path under their common folder, maps at the input size summing to 1, their peaks."""
    images = _images(tmp_path / "photos")
    said = dlcv("explain", "--model", FIXTURES / "backbone", images, "--output", tmp_path / "why")
    assert said.code == 0, said.err
    listed = json.loads((tmp_path / "why" / "explain.json").read_text())
    assert listed["method"] == "hirescam" and listed["layer"] in said.err + json.dumps(listed)
    assert listed["input_size"] == [32, 32] and min(listed["map_size"]) >= 7
    entries = listed["images"]
    assert sorted(Path(e["path"]).relative_to(images).as_posix() for e in entries) == ["a/000.png", "a/001.png",
                                                                                        "b/000.png"]
    predicted = json.loads(dlcv("predict", "--model", FIXTURES / "backbone" / "model.keras", images,
                                "--format", "json").out)
    by_path = {p["path"]: p for p in predicted}
    for entry in entries:
        heatmap = np.load(tmp_path / "why" / entry["heatmap"])
        assert heatmap.dtype == np.float32 and heatmap.shape == (32, 32)
        assert heatmap.sum() == pytest.approx(1.0, abs=1e-4)
        y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)
        assert entry["peak"] == [x, y] and entry["layer"] == listed["layer"]
        assert entry["class"] == by_path[entry["path"]]["label"]
        assert entry["probability"] == pytest.approx(by_path[entry["path"]]["probability"], abs=1e-5)
        overlay = cv2.imread(str(tmp_path / "why" / entry["overlay"]))
        assert overlay.shape[:2] == (256 + 2 * 18 + 8, 256)  # the image 8 times larger, two caption lines below
    assert {e["heatmap"] for e in entries} == {f"{name}.{by_path[e['path']]['label']}.npy"
                                               for name, e in zip(("a/000.png", "a/001.png", "b/000.png"),
                                                                  sorted(entries, key=lambda e: e["path"]))}


def test_a_caption_too_wide_for_the_overlay_wraps_and_loses_nothing():
    from dlcv.explain import CAPTION_FONT, overlay, wrapped

    caption = ("a_class_name_much_wider_than_the_picture_it_labels 0.50", "hirescam at block_6_expand_relu")
    lines = [part for line in caption for part in wrapped(line, 120)]
    assert all(cv2.getTextSize(line, *CAPTION_FONT, 1)[0][0] <= 120 for line in lines) and len(lines) >= 5
    assert "".join(lines).replace(" ", "") == "".join(caption).replace(" ", "")  # every character kept, in order
    picture = overlay(np.zeros((16, 16, 3), np.uint8), np.ones((16, 16)), caption)
    assert picture.shape[1] == 256 and picture.shape[0] > 256 + 3 * 18  # the band grows with the lines


def test_a_multi_label_image_gets_one_heatmap_per_predicted_label(dlcv, tmp_path):
    images = _images(tmp_path / "photos", size=32)
    model = FIXTURES / "multilabel" / "model.keras"
    said = dlcv("explain", "--model", model, images, "--output", tmp_path / "why")
    assert said.code == 0, said.err
    predicted = json.loads(dlcv("predict", "--model", model, images, "--format", "json").out)
    explained = json.loads((tmp_path / "why" / "explain.json").read_text())["images"]
    assert sum(len(p["labels"]) for p in predicted) >= 2
    for record in predicted:
        mine = [e for e in explained if e["path"] == record["path"]]
        assert sorted(e["class"] for e in mine if e["class"]) == sorted(record["labels"])
        for entry in mine:
            if entry["class"]:
                assert entry["probability"] == pytest.approx(record["probabilities"][entry["class"]], abs=1e-5)
    chosen = dlcv("explain", "--model", model, images, "--output", tmp_path / "one", "--class", "squares",
                  "--method", "layercam")
    assert chosen.code == 0, chosen.err
    one = json.loads((tmp_path / "one" / "explain.json").read_text())
    assert [e["class"] for e in one["images"]] == ["squares"] * 3 and one["method"] == "layercam"


def test_what_cannot_be_explained_is_one_line(dlcv, digits_run, tmp_path, monkeypatch):
    images = _images(tmp_path / "photos", size=32)
    backbone = FIXTURES / "backbone"
    refusals = {
        ("--model", digits_run.run_dir): "no convolutional feature map",
        # MobileNetV2 at 32 px: 16x16 after Conv1, 8x8 after block 1, 4x4 from block 3's strided depthwise on
        ("--model", backbone, "--layer", "nowhere"): "--layer 'nowhere': the model has no layer of that name; "
                                                     "expected a layer with a feature map of at least 7x7, e.g. "
                                                     "block_3_expand_relu, block_3_expand_BN, block_3_expand, "
                                                     "block_2_add and ",
        ("--model", backbone, "--layer", "pooling"): "--layer 'pooling' has no spatial feature map",
        ("--model", backbone, "--class", "zebra"): "--class 'zebra': expected one of the model's classes",
    }
    for args, said in refusals.items():
        outcome = dlcv("explain", *args, images, "--output", tmp_path / "out")
        assert outcome.code == 2 and said in outcome.err and "Traceback" not in outcome.err, (args, outcome.err)
        assert not (tmp_path / "out").exists()  # refused before anything is written

    from dlcv.cli import main

    with pytest.raises(SystemExit) as exited:  # argparse's own refusal
        main(["explain", "--model", str(backbone), str(images), "--output", str(tmp_path / "out"), "--method", "x"])
    assert exited.value.code == 2

    import dataclasses

    import keras

    from dlcv.errors import DlcvError
    from dlcv.explain import explainer_for
    from dlcv.heatmaps import Explainer
    from dlcv.inference import load_classifier

    classifier = load_classifier(backbone / "model.keras")
    with pytest.raises(DlcvError, match="an exported model has no gradients"):
        explainer_for(dataclasses.replace(classifier, model=None))  # what loading an export gives
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(DlcvError, match="not yet on jax"):
        Explainer(classifier.model)


def test_heatmaps_can_be_copied_from_a_run_folder_anywhere(dlcv, tmp_path):
    """--model takes the run folder (its model file found there), as dlcv export does."""
    run = shutil.copytree(FIXTURES / "backbone", tmp_path / "run")
    said = dlcv("explain", "--model", run, _images(tmp_path / "photos") / "a", "--output", tmp_path / "why")
    assert said.code == 0, said.err
    assert len(json.loads((tmp_path / "why" / "explain.json").read_text())["images"]) == 2
