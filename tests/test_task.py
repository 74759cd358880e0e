"""The task in one home (dlcv.task): every network built for either task by its builder, the prediction
record each task makes (text, CSV and JSON say the same), its fields in serving.json, and no branch on
the task anywhere else in the package."""
import csv
import io
import json
import subprocess
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "runs" / "multilabel"


def test_every_registered_network_is_built_for_either_task_by_its_builder(keras, tmp_path):
    """classifier_activation is an argument, as keras.applications take it, and the model's config (what its
    file holds) says it; the pre-activation scores are a layer of their own. The book's networks and a
    backbone here, for both tasks; every backbone for both in tests/test_backbones.py (which builds each one
    anyway, its probabilities checked against its scores); from_run in tests/test_transfer.py (it needs a
    finished run)."""
    from dlcv.models import MODELS, build_model
    from dlcv.models.backbones import BACKBONES

    params = {"resnet": {"depth": 20}, "fastnet": {"width": 0.25}, "mobilenet_v3_small": {"weights": "none"}}
    names = [name for name in sorted(MODELS) if name not in BACKBONES and name != "from_run"]
    for name in [*names, "mobilenet_v3_small"]:
        for activation in ("softmax", "sigmoid"):
            model = build_model(name, 32, 32, 3, 4, classifier_activation=activation, **params.get(name, {}))
            assert model.get_config()["layers"][-1]["config"]["activation"] == activation, (name, activation)
            if name != "fastnet":  # fastnet scales its scores before the activation
                scores = model.layers[-2]
                assert isinstance(scores, keras.layers.Dense) and scores.activation.__name__ == "linear", name
    model.save(tmp_path / "model.keras")  # the file says it too
    saved = json.loads(zipfile.ZipFile(tmp_path / "model.keras").read("config.json"))
    assert saved["config"]["layers"][-1]["config"]["activation"] == "sigmoid"


def test_a_config_cannot_set_the_heads_activation():
    from dlcv.errors import ConfigError
    from dlcv.models import check_params

    with pytest.raises(ConfigError, match="model.params.classifier_activation: unknown parameter"):
        check_params("shallownet", {"classifier_activation": "sigmoid"})


def write_images(folder: Path, count: int = 5) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = []
    for i in range(count):
        image = np.zeros((32, 32, 3), np.uint8)
        image[rng.integers(0, 16):, rng.integers(0, 16):] = rng.integers(0, 256, 3)  # a coloured block
        paths.append(folder / f"{i}.png")
        cv2.imwrite(str(paths[-1]), image)
    return paths


@pytest.fixture
def multilabel_predictions(dlcv, tmp_path):
    """The committed multi-label run's predictions on five images, as JSON, text and CSV (with --top 2)."""
    paths = write_images(tmp_path / "images")
    said = {}
    for output_format in ("json", "text", "csv"):
        outcome = dlcv("predict", "--model", FIXTURE / "model.keras", *paths, "--format", output_format,
                       "--top", "2")
        assert outcome.code == 0, outcome.err
        said[output_format] = outcome.out
    return said


def test_multi_label_text_and_csv_print_each_labels_own_probability(multilabel_predictions):
    records = json.loads(multilabel_predictions["json"])
    thresholds = json.loads((FIXTURE / "thresholds.json").read_text())["thresholds"]
    classes = json.loads((FIXTURE / "class_names.json").read_text())
    text = [line.split("\t") for line in multilabel_predictions["text"].splitlines()]
    table = list(csv.reader(io.StringIO(multilabel_predictions["csv"])))
    assert table[0] == ["path", "labels", "probabilities", "label_1", "probability_1", "label_2", "probability_2"]
    for record, line, row in zip(records, text, table[1:], strict=True):
        p = record["probabilities"]
        assert set(p) == set(classes)
        # the label set is the thresholds', whatever --top asks for
        assert record["labels"] == [name for name in classes if p[name] >= thresholds[name]]
        for cells, digits in ((line, 4), (row, 6)):
            names = cells[1].split("|") if cells[1] else []
            shown = [float(v) for v in cells[2].split("|")] if cells[2] else []
            assert names == record["labels"]
            assert shown == pytest.approx([p[name] for name in names], abs=10 ** -digits)
            ranked = sorted(classes, key=lambda name: -p[name])[:2]  # --top 2: the two most probable classes
            assert cells[3::2] == ranked
            assert [float(v) for v in cells[4::2]] == pytest.approx([p[name] for name in ranked], abs=10 ** -digits)


def test_a_single_label_record_is_as_before(dlcv, digits_run, tmp_path):
    """path, label, probability (the top class's own), and the next classes with --top."""
    images = digits_run.prepared.splits.test.images[:3, :, :, 0]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(paths[-1]), image)
    records = json.loads(dlcv("predict", "--model", digits_run.run_dir / "model.keras", *paths, "--format", "json",
                              "--top", "3").out)
    table = list(csv.reader(io.StringIO(dlcv("predict", "--model", digits_run.run_dir / "model.keras", *paths,
                                             "--format", "csv", "--top", "3").out)))
    assert table[0] == ["path", "label", "probability", "label_2", "probability_2", "label_3", "probability_3"]
    for record, row in zip(records, table[1:], strict=True):
        assert set(record) == {"path", "label", "probability", "top"}
        assert row[1] == record["label"] == record["top"][0]["label"]
        assert [row[3], row[5]] == [entry["label"] for entry in record["top"][1:]]


def test_serving_json_says_the_task_of_a_single_label_export_too(keras, digits_run, dlcv, tmp_path):
    pytest.importorskip("tensorflow")
    said = dlcv("export", digits_run.run_dir, "--format", "saved_model", "--output", tmp_path / "export")
    assert said.code == 0, said.err
    spec = json.loads((tmp_path / "export" / "serving.json").read_text())
    assert spec["task"] == "single" and "thresholds" not in spec


def test_the_report_shows_each_mistakes_true_set_and_its_scores(keras, tmp_path):
    """A caption names the true label set, the predicted one with each label's probability, and what was
    missed or extra (two missed labels are not "one missed or one too many")."""
    from dlcv.task import build_task

    task = build_task("multilabel", ["circles", "squares", "triangles"])
    probabilities = np.array([[0.9, 0.2, 0.1], [0.1, 0.2, 0.3], [0.6, 0.7, 0.8]], np.float32)
    truth = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0]], np.uint8)
    evaluation = task.score(probabilities, truth)
    sections = task.report_sections(evaluation, lambda cards, what, order: (
        f"{len(cards)} {what} " + " | ".join(caption for _, caption, _ in cards), [i for i, _, _ in cards]))
    text = sections[-1]
    assert text.startswith("2 with a wrong label set") and "one missed or one too many" not in text
    assert "true {circles, squares}, predicted {none}: missed <b>circles 0.100, squares 0.200</b>" in text
    assert "true {circles}, predicted {circles 0.600, squares 0.700, triangles 0.800}: extra <b>squares 0.700, " \
           "triangles 0.800</b>" in text


def test_a_runs_description_names_its_primary_score(tmp_path):
    from dlcv.runs import RunFolder

    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.results_file.write_text(json.dumps({"epochs_run": 3, "test_exact_match": 0.5467, "test_map": 0.91,
                                            "primary_metric": {"name": "test_map", "value": 0.91,
                                                               "direction": "maximize"}}))
    assert run.describe() == f"the finished run in {run.path}/ (3 epochs, test map 0.9100)"
    run.results_file.write_text(json.dumps({"epochs_run": 2}))  # a search's trial: no test score
    assert run.describe() == f"the finished run in {run.path}/ (2 epochs)"


def test_only_the_task_module_branches_on_the_task():
    """`grep -rn multilabel dlcv/` outside the task package, the config schema, the label-table reader and the
    command line's help (dlcv data sample --multilabel's mosaics) finds nothing but the sample config's name."""
    allowed = {"dlcv/config/schema.py", "dlcv/data/table.py", "dlcv/cli.py"}
    found = subprocess.run(["grep", "-rn", "multilabel", "dlcv/"], cwd=ROOT, capture_output=True, text=True).stdout
    lines = [line for line in found.splitlines()
             if not line.startswith("dlcv/task/") and line.split(":")[0] not in allowed
             and not line.startswith("Binary file")]
    lines = [line for line in lines if "configs/multilabel_sample.yaml" not in line]  # a file's name
    assert lines == [], "\n".join(lines)


def test_a_task_single_is_never_trained_on_several_labels_per_image():
    from dlcv.errors import ConfigError
    from dlcv.task import resolve_task

    multi_hot = np.array([[1, 1, 0], [0, 0, 1]], np.uint8)
    assert resolve_task("auto", multi_hot, 3)[0] == "multilabel"
    with pytest.raises(ConfigError, match="task: single, but the data has several labels per image"):
        resolve_task("single", multi_hot, 3)
