"""Multi-label classification end to end, on a real task: 2x2 mosaics of the sample's pictures, each
labelled with every class it shows (dlcv.task's MultiLabel, the label table's multi-label rows, the sigmoid head,
thresholds chosen on validation, the scores, predict, export and the report)."""
import json
import os
import re

import numpy as np
import pytest
from data_files import write_class_folders

from dlcv.config import load_config


@pytest.fixture(scope="module")
def mosaics(tmp_path_factory):
    """dlcv data sample --multilabel's data set: 240 mosaics and their labels.csv."""
    from dlcv.data.sample import write_mosaics

    root = tmp_path_factory.mktemp("multilabel") / "mosaics"
    write_mosaics(root, count=240)
    return root / "labels.csv"


def settings(table, output, *more: str) -> list[str]:
    return ["dataset.name=labels", f"dataset.path={table}", "dataset.val_size=0.2", "dataset.cache=none",
            "preprocessing.width=48", "preprocessing.height=48", "model.name=shallownet", "model.params={}",
            "optimizer.learning_rate=0.02", "epochs=12", "batch_size=16", "callbacks.checkpoint=none",
            f"output_dir={output}", "name=mosaics", *more]


@pytest.fixture(scope="module")
def trained(keras, mosaics, tmp_path_factory):
    from dlcv.training.engine import train

    return train(load_config(overrides=settings(mosaics, tmp_path_factory.mktemp("runs"))), verbose=0)


def test_a_multi_label_table_trains_a_sigmoid_per_class_well_above_chance(trained):
    config = trained.prepared.config
    assert config.task == "multilabel" and trained.prepared.class_names == ["circles", "squares", "triangles"]
    assert trained.model.layers[-1].activation.__name__ == "sigmoid"
    results = json.loads((trained.run_dir / "results.json").read_text())
    test = trained.prepared.splits.test
    chance = float(np.mean(test.labels))  # a scorer that knows nothing: each class's frequency as its precision
    assert results["test_map"] > chance + 0.25, (results["test_map"], chance)
    assert 0 <= results["test_exact_match"] <= 1 and results["test_f1_micro"] > 0.5
    assert set(results["test_classes"]) == {"circles", "squares", "triangles"}
    for key in ("precision", "recall", "f1", "average_precision", "threshold", "support"):
        assert key in results["test_classes"]["circles"]


def test_the_thresholds_are_each_classs_best_f1_on_validation_never_the_test_split(keras, trained):
    from sklearn.metrics import precision_recall_curve

    from dlcv.inputs import model_input

    saved = json.loads((trained.run_dir / "thresholds.json").read_text())
    assert saved["chosen_on"] == "validation"
    val = trained.prepared.splits.val
    raw = np.clip(np.asarray(trained.model.predict(model_input(val.images), verbose=0), np.float64), 1e-7, 1 - 1e-7)
    stored = json.loads((trained.run_dir / "calibration.json").read_text())["temperature"]  # chosen first
    temperatures = np.array([stored[name] for name in trained.prepared.class_names])
    probabilities = 1 / (1 + np.exp(-np.log(raw / (1 - raw)) / temperatures))  # each class's sigmoid at its T
    for k, name in enumerate(trained.prepared.class_names):
        precision, recall, candidates = precision_recall_curve(val.labels[:, k], probabilities[:, k])
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        assert saved["thresholds"][name] == pytest.approx(float(candidates[int(np.argmax(f1[:-1]))]), abs=1e-5)
    # the test labels have no say: scoring other test labels leaves the run's thresholds as they are
    from dlcv.task.multilabel import read_thresholds, score_multilabel

    test = trained.prepared.splits.test
    thresholds = read_thresholds(trained.run_dir / "thresholds.json", trained.prepared.class_names)
    flipped = score_multilabel(trained.evaluation.probabilities, 1 - test.labels, trained.prepared.class_names,
                               thresholds)
    assert np.array_equal(flipped.thresholds, thresholds)
    assert flipped.average_precision != trained.evaluation.average_precision


def test_predict_and_the_exports_give_the_same_label_sets(keras, trained, dlcv, tmp_path):
    pytest.importorskip("onnxruntime")
    images = [str(p) for p in sorted(trained.prepared.splits.test.paths or ())[:12]]
    exported = dlcv("export", trained.run_dir, "--format", "saved_model", "onnx", "--output", tmp_path / "export")
    assert exported.code == 0, exported.err
    assert "label sets" in exported.out + exported.err
    spec = json.loads((tmp_path / "export" / "serving.json").read_text())
    assert spec["task"] == "multilabel" and set(spec["thresholds"]) == {"circles", "squares", "triangles"}
    answers = {}
    export = tmp_path / "export"
    for model in (trained.run_dir / "model.keras", export / "saved_model", export / "model.onnx"):
        said = dlcv("predict", "--model", model, *images, "--format", "json")
        assert said.code == 0, said.err
        answers[model.name] = [row["labels"] for row in json.loads(said.out)]
    assert answers["model.keras"] == answers["saved_model"] == answers["model.onnx"]
    assert any(len(labels) > 1 for labels in answers["model.keras"])  # several labels for some mosaic


def test_the_report_names_each_mistakes_missed_and_extra_labels(trained):
    page = (trained.run_dir / "report.html").read_text()
    assert "average precision" in page and "threshold" in page and "Confusion matrix" not in page
    assert "test images with a wrong label" in page
    assert "missed <b>" in page or "extra <b>" in page
    assert "mosaics/" in page  # each mistake's file, under the table's images folder


@pytest.mark.parametrize("more, message", [
    (["dataset.name=folder", "dataset.path={photos}", "task=multilabel"], "task: multilabel needs images with any "),
    (["sampling=balanced"], "sampling: balanced: "),
    (["task=single"], "expected exactly one per image in a single-label table (several labels per image: task: "
                      "multilabel)"),
    (["search={space: {optimizer.learning_rate: {log_uniform: [0.001, 0.1]}}}"], "search.metric: val_accuracy: "),
])
def test_what_a_multi_label_table_cannot_take_is_one_line(dlcv, mosaics, tmp_path, more, message):
    photos = write_class_folders(tmp_path / "photos", per_class=2) if "{photos}" in str(more) else None
    more = [item.replace("{photos}", str(photos)) for item in more]
    searching = [item for item in more if item.startswith("search=")]
    rest = [item for item in more if item not in searching]
    args = [part for o in settings(mosaics, tmp_path, *rest) for part in ("--set", o)]
    if searching:  # dlcv tune takes the config file its search is in
        (tmp_path / "tune.yaml").write_text(searching[0].replace("search=", "search: ", 1) + "\n")
        said = dlcv("tune", tmp_path / "tune.yaml", *args)
    else:
        said = dlcv("train", *args)
    assert said.code == 2 and said.err.count("\n") == 1, said.err
    assert message in said.err, said.err


@pytest.mark.parametrize("task, said", [
    ("auto", ["task: multilabel, as images have several labels: a sigmoid per class"]),
    ("multilabel", []),  # as set: nothing to say
])
def test_the_table_says_what_its_cells_hold_and_the_task_is_said_once(keras, mosaics, tmp_path, caplog, task, said):
    from dlcv.data import prepare_data

    with caplog.at_level("INFO", logger="dlcv"):
        prepare_data(load_config(overrides=settings(mosaics, tmp_path, f"task={task}")), with_test=False)
    assert re.search(r"data: labels.csv: several labels per image \(line \d+ has [23]: [a-z, ]+\)", caplog.text)
    assert [m for m in caplog.messages if m.startswith("task:")] == said


def test_a_single_label_table_trained_as_multi_label_is_said(keras, tmp_path, caplog, monkeypatch):
    """... and trained on one-hot rows, while the source it read keeps its labels (nothing mutates it)."""
    from dlcv.data import prepare, prepare_data

    loaded = []
    real_get_dataset = prepare.get_dataset

    class Recording:
        def __init__(self, name):
            self.spec = real_get_dataset(name)

        def __getattr__(self, key):
            return getattr(self.spec, key)

        def load(self, *args):
            loaded.append(self.spec.load(*args))
            return loaded[-1]

    monkeypatch.setattr(prepare, "get_dataset", Recording)

    root = write_class_folders(tmp_path / "photos", per_class=6)
    rows = [f"{name}/{p.name},{name}" for name in ("cats", "dogs", "panda") for p in sorted((root / name).iterdir())]
    (root / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    with caplog.at_level("INFO", logger="dlcv"):
        prepared = prepare_data(load_config(overrides=["dataset.name=labels", f"dataset.path={root / 'labels.csv'}",
                                                       "preprocessing.width=8", "preprocessing.height=8",
                                                       "task=multilabel", "dataset.cache=none"]))
    assert prepared.config.task == "multilabel" and prepared.splits.train.labels.shape[1] == 3
    assert "task: multilabel as set, though every image has one label" in caplog.text
    assert "data: labels.csv: one label per image" in caplog.text and "task: single" not in caplog.text
    [source] = loaded
    assert source.labels.ndim == 1 and prepared.source.labels.ndim == 2 and prepared.source is not source


def test_the_fit_route_with_mixed_multi_hot_targets_trains_too(keras, mosaics, tmp_path):
    """Keras's fit on the tf.data pipeline (float multi-hot targets), MixUp mixing label sets, label smoothing
    and the binary focal loss: it trains, and its logs are the multi-label metrics."""
    from dlcv.training.engine import train

    result = train(load_config(overrides=settings(
        mosaics, tmp_path, "route=fit", "epochs=3", "loss=focal", "label_smoothing=0.1",
        "augmentation={mixup: 0.2}", "callbacks.monitor=false")), verbose=0)
    assert result.route == "fit" and type(result.model.loss).__name__ == "BinaryFocalCrossentropy"
    history = json.loads((result.run_dir / "history.json").read_text())
    assert {"map", "f1_macro", "val_map", "val_f1_macro"} <= set(history)
    assert history["loss"][-1] < history["loss"][0]


def test_dlcv_runs_shows_a_multi_label_runs_map(trained):
    from dlcv.run_table import find_runs, format_rows

    results = json.loads((trained.run_dir / "results.json").read_text())
    [row] = [row for row in find_runs(trained.run_dir.parent) if row.name == "mosaics"]
    # its exact match is no accuracy: the accuracy column stays empty
    assert row.test_map == results["test_map"] and row.test_accuracy is None and row.task == "multilabel"
    assert row.val_map == pytest.approx(json.loads((trained.run_dir / "history.json").read_text())["val_map"][-1])
    assert "test_map" in format_rows([row], "text").splitlines()[0]
    assert results["primary_metric"] == {"name": "test_map", "value": results["test_map"], "direction": "maximize"}


def test_a_search_optimises_a_multi_label_runs_validation_map(keras, mosaics, tmp_path):
    pytest.importorskip("optuna")
    import csv

    import yaml

    from dlcv import app

    config = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in settings(
        mosaics, tmp_path, "epochs=2", "callbacks.monitor=false")) if "." not in key}
    config["dataset"] = {"name": "labels", "path": str(mosaics), "val_size": 0.2, "cache": "none"}
    config["preprocessing"] = {"width": 48, "height": 48}
    config["model"] = {"name": "shallownet", "params": {}}
    config["callbacks"] = {"checkpoint": "none", "monitor": False}
    config["search"] = {"metric": "val_map", "trials": 2, "pruner": "none", "sampler": "random",
                        "space": {"optimizer.learning_rate": {"log_uniform": [0.005, 0.05]}}}
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config["tracking"] = {"mlflow": {"uri": store}}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    study = app.tune(path)
    assert study.direction.name == "MAXIMIZE" and 0 < study.best_value <= 1
    with open(tmp_path / "mosaics" / "trials.csv") as stream:
        trials = list(csv.DictReader(stream))
    assert len(trials) == 2 and all(0 < float(row["val_map"]) <= 1 for row in trials)
    # MLflow has the same figures: each trial's last val_map, the study's best
    from mlflow import MlflowClient

    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("dlcv").experiment_id])
    [parent] = [r for r in runs if "optuna_study" in r.data.tags]
    assert parent.data.metrics["best_val_map"] == pytest.approx(study.best_value)
    logged = sorted(r.data.metrics["val_map"] for r in runs if r is not parent)  # each trial's last epoch
    assert logged == pytest.approx(sorted(float(row["val_map"]) for row in trials))


def test_evaluate_and_report_rescore_a_multi_label_run_with_its_thresholds(keras, trained):
    from dlcv import app

    results = json.loads((trained.run_dir / "results.json").read_text())
    from dlcv.run_table import find_runs

    page_before = (trained.run_dir / "report.html").read_bytes()
    os.utime(trained.run_dir / "results.json", (1_700_000_000, 1_700_000_000))  # finished in November 2023
    evaluation = app.evaluate(str(trained.run_dir / "model.keras"))
    assert (trained.run_dir / "report.html").read_bytes() == page_before  # the run's page as trained
    [row] = [row for row in find_runs(trained.run_dir.parent) if row.name == "mosaics"]
    assert row.date == "2023-11-14 22:13" and row.evaluated.startswith("test_map ")  # its date as trained
    evaluated = json.loads((trained.run_dir / "evaluation.json").read_text())
    assert evaluated["primary_metric"]["value"] == pytest.approx(results["test_map"], abs=1e-6)
    assert evaluation.average_precision == pytest.approx(results["test_map"], abs=1e-6)
    assert evaluation.exact_match == pytest.approx(results["test_exact_match"], abs=1e-6)
    saved = json.loads((trained.run_dir / "thresholds.json").read_text())["thresholds"]
    assert evaluation.thresholds.tolist() == pytest.approx([saved[name] for name in evaluation.class_names])
    page = app.report(trained.run_dir).read_text()
    assert f"<b>test mAP {results['test_map']:.4f}," in page
    assert "missed <b>" in page or "extra <b>" in page
