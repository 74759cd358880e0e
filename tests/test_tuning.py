"""dlcv tune: Optuna studies of real training runs, judged on validation, in a real SQLite database.

The data is a folder with its own train/, val/ and test/ split whose test/ also holds unreadable files:
a run that decodes the test split lists them as skipped, so a trial that never does lists none.
"""
import csv
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from data_files import write_class_folders

optuna = pytest.importorskip("optuna")
sqlalchemy_exc = pytest.importorskip("sqlalchemy.exc")

ROOT = Path(__file__).resolve().parents[1]
GOOD, TOO_LOW, EXPLODES = 0.1, 1e-6, 1e37


def split_folder(root: Path) -> Path:
    for part, count, seed in (("train", 10, 0), ("val", 5, 1), ("test", 5, 2)):
        write_class_folders(root / part, per_class=count, seed=seed, size=(10, 10))
    for name in ("cats", "dogs", "panda"):
        (root / "test" / name / f"{name}_broken.jpg").write_bytes(b"not a JPEG")
    return root


def write_config(tmp_path: Path, name: str, search: dict, **settings) -> Path:
    config = {"name": name, "output_dir": str(tmp_path / "output"), "seed": 3,
              "dataset": {"name": "folder", "path": str(split_folder(tmp_path / "photos"))},
              "preprocessing": {"width": 8, "height": 8, "channels": 3},
              "model": {"name": "linear", "params": {}},
              "optimizer": {"name": "sgd", "learning_rate": TOO_LOW},  # a deliberately bad default
              "epochs": 4, "batch_size": 8, "callbacks": {"checkpoint": "none", "monitor": False},
              "search": {"space": {"optimizer.learning_rate": {"log_uniform": [TOO_LOW, EXPLODES]}}, **search},
              **settings}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_a_study_prunes_records_failures_and_beats_a_bad_default_without_reading_the_test_split(keras, tmp_path):
    from dlcv import app

    path = write_config(tmp_path, "study", {"trials": 6, "pruner": "median", "sampler": "random"})
    folder = tmp_path / "output" / "study"
    folder.mkdir(parents=True)
    # The values are fixed here so that the outcome is: five good trials, one that diverges, one that the
    # median pruner stops after its first epoch (a value far below the five's median there).
    study = optuna.create_study(study_name="study", storage=f"sqlite:///{folder / 'study.db'}", direction="maximize")
    for rate in (GOOD,) * 5 + (EXPLODES, TOO_LOW):
        study.enqueue_trial({"optimizer.learning_rate": rate})

    results = app.tune(path, retrain=True)

    table = rows(folder / "trials.csv")
    assert [r["state"] for r in table] == ["complete"] * 5 + ["fail", "pruned"]
    assert all(r["epochs_run"] == "4" and float(r["val_accuracy"]) > 0.9 for r in table[:5])
    assert "NaN" in table[5]["failure"] and table[5]["val_accuracy"] == ""
    assert table[6]["epochs_run"] == "1" and table[6]["val_accuracy"] == ""  # pruned: no value, its reason says
    assert re.fullmatch(r"pruned after epoch 1 \(1: 0\.[0-5]\d*\)", table[6]["failure"]), table[6]["failure"]
    pruned = folder / "trials" / "6"
    assert (pruned / "history.json").is_file() and not list(pruned.glob("model.*"))
    # dlcv runs: the pruned trial is no finished run, and each trial's row shows what the search judged
    from dlcv.run_table import find_runs

    listed = {row.name: row for row in find_runs(folder / "trials")}
    assert listed["6"].status == "pruned after epoch 1" and listed["0"].status == "finished"
    for n in range(5):
        assert listed[str(n)].val_accuracy == pytest.approx(float(table[n]["val_accuracy"]), abs=1e-6)
    assert not (pruned / "checkpoints").exists()
    # no trial decoded the test split; --retrain did, and found the unreadable files
    assert not list((folder / "trials").glob("*/skipped_files.txt"))
    assert not any("test_accuracy" in json.loads(p.read_text()) for p in (folder / "trials").glob("*/results.json"))
    skipped = (folder / "best" / "skipped_files.txt").read_text()
    assert skipped.count("_broken.jpg") == 3
    best = yaml.safe_load((folder / "best.yaml").read_text())
    assert best["optimizer"]["learning_rate"] == GOOD and best["name"] == "best" and "search" not in best
    by_label = {label: result.evaluation.accuracy for label, result in results.items()}
    assert by_label["the best trial's config"] > 0.9 > 0.6 > by_label["the config as written"]
    assert (folder / "optimization_history.png").stat().st_size > 5000
    assert "best: trial 0" in (folder / "summary.txt").read_text()


@pytest.mark.slow
def test_two_processes_share_a_study_and_a_killed_one_loses_nothing(keras, tmp_path):
    """Two `dlcv tune` processes on one SQLite study; one is killed mid-trial; the other finishes the study,
    taking the killed trial's place once its heartbeat is missed; a rerun continues the same study."""
    from dlcv import app

    path = write_config(tmp_path, "shared", {"trials": 4, "pruner": "none", "sampler": "random", "heartbeat": 1,
                                             "space": {"optimizer.learning_rate": {"log_uniform": [0.03, 0.3]}}},
                        epochs=3)
    folder = tmp_path / "output" / "shared"
    command = [sys.executable, "-m", "dlcv", "tune", str(path)]
    processes = {p.pid: p for p in (subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.PIPE) for _ in range(2))}
    deadline, victim = time.time() + 240, None
    while victim is None:  # kill a process in the middle of a trial, once some trial has completed
        assert time.time() < deadline, "no process was caught in a trial in time"
        assert any(p.poll() is None for p in processes.values()), "the study ended before a trial was caught"
        time.sleep(0.05)
        if not (folder / "study.db").exists():
            continue
        try:
            trials = optuna.load_study(study_name="shared", storage=f"sqlite:///{folder / 'study.db'}").trials
        except (KeyError, optuna.exceptions.StorageInternalError, ValueError, sqlalchemy_exc.OperationalError,
                sqlalchemy_exc.IntegrityError):  # this poll can also be the one that stamps the schema version
            continue  # not created yet (or being created: this poll races the two processes to make the tables)
        # In its first epoch (none reported): the rest of the trial outlasts this poll, so the kill lands in it
        running = [t for t in trials if t.state.name == "RUNNING" and "worker" in t.user_attrs
                   and not t.intermediate_values]
        if running and any(t.state.name == "COMPLETE" for t in trials):
            victim = running[0]
    killed = processes.pop(int(victim.user_attrs["worker"].rsplit(":", 1)[1]))  # "host:pid"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    survivor = next(iter(processes.values()))
    said = survivor.communicate(timeout=240)[1].decode()
    assert survivor.returncode == 0, said[-2000:]
    assert "[I 20" not in said, said[-2000:]  # Optuna's own INFO lines (study created or loaded): dlcv says which

    study = optuna.load_study(study_name="shared", storage=f"sqlite:///{folder / 'study.db'}")
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    unfinished = [t for t in study.trials if t.state.name != "COMPLETE"
                  and t.user_attrs.get("worker", "").endswith(f":{killed.pid}")]
    assert len(complete) == 4 and [(t.number, t.state.name) for t in unfinished] == [(victim.number, "FAIL")]
    assert {t.user_attrs["worker"].rsplit(":", 1)[1] for t in complete} <= {str(killed.pid), str(survivor.pid)}
    assert len({t.number for t in study.trials}) == len(study.trials)
    before = {t.number: (t.params, t.value) for t in complete}

    app.tune(path, trials=5)  # the same study, continued: one more trial, nothing lost or repeated
    study = optuna.load_study(study_name="shared", storage=f"sqlite:///{folder / 'study.db'}")
    after = {t.number: (t.params, t.value) for t in study.trials if t.state.name == "COMPLETE"}
    assert len(after) == 5 and all(after[n] == before[n] for n in before)
    assert (folder / "trials" / str(max(after)) / "results.json").is_file()
    table = rows(folder / "trials.csv")
    assert len(table) == len(study.trials)
    killed_row = table[victim.number]
    assert killed_row["state"] == "fail" and killed_row["val_accuracy"] == ""  # no value: it did not finish
    assert "its process stopped" in killed_row["failure"]


@pytest.mark.parametrize("change, expected", [
    ({"search": {"space": {"optimizer.lr": {"uniform": [0.1, 0.2]}}}},
     "optimizer.lr=0.1 would train an invalid config: optimizer.lr: unknown key; expected one of: name"),
    ({"search": {"space": {"optimizer.learning_rate": {"uniform": [0.2, 0.1]}}}},
     "search.space.optimizer.learning_rate: low 0.2 > high 0.1"),
    ({"search": {"space": {"optimizer.learning_rate": {"log_uniform": [0.0, 0.1]}}}}, "log_uniform needs bounds > 0"),
    ({"search": {"space": {"batch_size": {"choice": [0, 8]}}}},
     "a trial drawing batch_size=0 would train an invalid config: batch_size: input should be greater than"),
    ({"search": {"space": {"optimizer.name": {"choice": ["sgd", "adam"]},
                           "optimizer.momentum": {"uniform": [0.5, 0.9]}}}},
     "optimizer.momentum: unknown key; expected one of: name, learning_rate, beta_1"),
    ({"search": {"space": {"dataset.val_size": {"uniform": [0.1, 0.3]}}}}, "dataset is fixed for a search"),
    ({"search": None}, "no search: section"),
])
def test_a_bad_space_is_one_line_before_any_training(dlcv, tmp_path, change, expected):
    path = tmp_path / "bad.yaml"
    config = {"name": "bad", "output_dir": str(tmp_path / "out"), "epochs": 1,
              "search": {"space": {"optimizer.learning_rate": {"uniform": [0.01, 0.1]}}}} | change
    path.write_text(yaml.safe_dump({k: v for k, v in config.items() if v is not None}))
    said = dlcv("tune", path)
    assert said.code == 2, said.err
    assert expected in said.err and len(said.err.strip().splitlines()) == 1, said.err
    assert not (tmp_path / "out" / "bad" / "trials").exists()


@pytest.mark.parametrize("url, expected", [
    ("mysql://user:secret@127.0.0.1/study", "needs a MySQL driver"),
    ("postgresql://user:secret@127.0.0.1:1/study", "the database does not answer"),
    ("postgresql://user:se/cr#et?@127.0.0.1:1/study", "the database does not answer"),  # as SQLAlchemy reads it
    ("redis://127.0.0.1/0", "unknown database 'redis'"),
])
def test_a_storage_that_cannot_be_used_is_one_line(dlcv, tmp_path, url, expected):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump({"name": "ok", "output_dir": str(tmp_path / "out"), "epochs": 1, "search": {
        "space": {"optimizer.learning_rate": {"uniform": [0.01, 0.1]}}}}))
    said = dlcv("tune", path, "--storage", url)
    assert said.code == 2 and expected in said.err and len(said.err.strip().splitlines()) == 1, said.err
    assert "secret" not in said.err and "cr#et" not in said.err and "cr%23et" not in said.err


def test_train_refuses_a_study_folder(dlcv, tmp_path):
    (tmp_path / "searched").mkdir()
    (tmp_path / "searched" / "study.json").write_text("{}")
    said = dlcv("train", "--set", f"output_dir={tmp_path}", "--set", "name=searched")
    assert said.code == 2 and "holds a dlcv tune study; train its best.yaml" in said.err


def test_a_grid_covers_its_values_once_its_trials_nested_in_mlflow(keras, tmp_path, monkeypatch):
    from dlcv import app

    monkeypatch.chdir(tmp_path)  # MLflow puts an SQLite store's artefacts in ./mlruns
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = write_config(tmp_path, "grid", {"trials": 10, "pruner": "none", "sampler": "grid",
                                           "space": {"batch_size": {"choice": [4, 8]},
                                                     "epochs": {"int_uniform": [1, 1]}}},
                        optimizer={"name": "sgd", "learning_rate": GOOD}, tracking={"mlflow": {"uri": store}})
    study = app.tune(path)  # two combinations: two trials, not ten (Optuna's grid would repeat them)
    drawn = sorted((t.params["batch_size"], t.params["epochs"]) for t in study.trials)
    assert drawn == [(4, 1), (8, 1)]
    assert np.all([t.state.name == "COMPLETE" for t in study.trials])

    from mlflow import MlflowClient

    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("dlcv").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("optuna_study") == "grid"]
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and parent.info.status == "FINISHED"
    assert parent.info.run_id == study.user_attrs["mlflow_run_id"]
    assert sorted(r.data.params["batch_size"] for r in trials) == ["4", "8"]
    assert all(r.info.status == "FINISHED" and "val_accuracy" in r.data.metrics for r in trials)
    assert parent.data.metrics["best_val_accuracy"] == pytest.approx(study.best_value)
    assert {"trials.csv", "best.yaml", "summary.txt"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}


def _open_storage(url, barrier):
    from dlcv.config import load_config
    from dlcv.tuning.study import _storage

    search = load_config(overrides=["search={space: {optimizer.learning_rate: {uniform: [0.01, 0.1]}}}"]).search
    barrier.wait()
    _storage(url, search)


def test_processes_starting_at_once_on_an_empty_database_all_get_the_study(tmp_path):
    """Optuna's tables are created by whichever process comes first; the others must not fail on them."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(6)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    processes = [context.Process(target=_open_storage, args=(url, barrier)) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * 6
