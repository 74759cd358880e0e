"""MLflow tracking against a real MLflow tracking server started here on 127.0.0.1 (its own SQLite store),
and against a plain sqlite:/// URI: what a run logs on each route, the model back from MLflow, a server
that stops answering mid-run, and URIs that do not work. (Resuming a killed run into its own MLflow run:
test_engine's SIGKILL test; another backend: test_routes's JAX test; a search's nested runs:
test_tuning's grid test.)"""
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("mlflow")
import mlflow.keras  # noqa: E402
import mlflow.pyfunc  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    """``mlflow server`` on a free port of 127.0.0.1, its runs in an SQLite file, its artefacts in a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--artifacts-destination",
         str(folder / "artifacts")], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: `mlflow server` runs the web server as a child
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})  # no job runner: tracking only
    uri, deadline = f"http://127.0.0.1:{port}", time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                if answer.status == 200:
                    return server, uri
        except OSError:
            pass
        assert server.poll() is None and time.time() < deadline, server.stderr.read().decode()[-2000:]
        time.sleep(0.25)


def stop(server: subprocess.Popen) -> None:
    """Kill the server and its web server child (the whole process group): gone at once, as a crash."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()


@pytest.fixture(scope="module")
def server_and_store(tmp_path_factory):
    """The server's URI and the folder of its store (database and artefacts)."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    server, uri = start_server(folder)
    yield uri, folder
    stop(server)


@pytest.fixture(scope="module")
def tracking_server(server_and_store):
    return server_and_store[0]


def tracked_config(tmp_path, uri, *overrides):
    from dlcv.config import load_config

    return load_config(overrides=[f"output_dir={tmp_path}", "epochs=3", f"tracking.mlflow.uri={uri}",
                                  *overrides])


def run_id_of(run_dir: Path) -> str:
    return json.loads((run_dir / "mlflow.json").read_text())["run_id"]


PASSWORD = "S3cr/et#pw?"
"""A password in a tracking URI (escaped there as a URL needs it): written nowhere, said nowhere."""


@pytest.mark.parametrize("route", ["fast", "fit"])
def test_a_run_is_logged_to_a_tracking_server_on_each_route(keras, tmp_path, server_and_store, route, monkeypatch,
                                                            capfd, console_output):
    from urllib.parse import quote

    from dlcv.inputs import model_input
    from dlcv.training.engine import train

    tracking_server, store = server_and_store
    # the fit route's run gives the server a user and password in its URI (a server without auth ignores them)
    uri = tracking_server.replace("://", f"://alice:{quote(PASSWORD, safe='')}@") if route == "fit" else tracking_server
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    result = train(tracked_config(tmp_path, uri, f"route={route}", f"name={route}"), verbose=0)
    assert result.route == route
    client = MlflowClient(tracking_server)
    logged = client.get_run(run_id_of(result.run_dir))
    assert logged.info.status == "FINISHED" and logged.info.run_name == route
    params = logged.data.params
    assert params["optimizer.learning_rate"] == "0.05" and params["model.name"] == "mlp"
    assert params["route"] == route and params["epochs"] == "3"
    # the config as the data resolved it, as config.yaml holds it (not the file's task: auto, width: null)
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert params["task"] == saved["task"] == "single"
    assert params["preprocessing.width"] == str(saved["preprocessing"]["width"]) == "8"
    tags = logged.data.tags
    assert tags["backend"] == keras.backend.backend() and tags["route"] == route and tags["devices"] == "CPU only"
    assert tags["dlcv_version"]
    history = json.loads((result.run_dir / "history.json").read_text())
    for key in EPOCH_METRICS:  # every epoch once, at steps 0, 1, 2, as the run folder has them
        logged_history = client.get_metric_history(logged.info.run_id, key)
        assert [m.step for m in logged_history] == [0, 1, 2], key
        assert [m.value for m in logged_history] == pytest.approx(history[key], rel=1e-6), key
    results = json.loads((result.run_dir / "results.json").read_text())
    assert logged.data.metrics["test_accuracy"] == pytest.approx(results["test_accuracy"])
    assert logged.data.metrics["test_loss"] == pytest.approx(results["test_loss"])
    artefacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"config.yaml", "report.html", "training.png", "history.json", "results.json", "confusion_matrix.png",
            "model"} <= artefacts
    assert "mlflow.json" not in artefacts and "model.h5" not in artefacts

    if route == "fit":
        check_no_password_anywhere(capfd, result.run_dir, store)
        assert os.environ["MLFLOW_TRACKING_PASSWORD"] == PASSWORD  # how MLflow was given it
        return  # the model is logged alike from either route: loaded back once
    # the model, back from MLflow, labels the test images as the run's own model does
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)  # where runs:/ URIs are looked up
    from_mlflow = mlflow.keras.load_model(f"runs:/{logged.info.run_id}/model")
    images = result.prepared.splits.test.images[:64]  # uint8, as a client sends them
    assert images.dtype == np.uint8
    saved = keras.models.load_model(result.run_dir / "model.keras")
    expected = saved.predict(model_input(images), verbose=0).argmax(axis=1)
    assert np.array_equal(from_mlflow.predict(images, verbose=0).argmax(axis=1), expected)
    served = mlflow.pyfunc.load_model(f"runs:/{logged.info.run_id}/model")  # as `mlflow models serve` would
    assert np.array_equal(np.asarray(served.predict(images)).argmax(axis=1), expected)


def check_no_password_anywhere(capfd, run_dir: Path, store: Path) -> None:
    """Not in the run folder, not in the MLflow store (its database and artefacts), not in what was printed."""
    from urllib.parse import quote

    said = capfd.readouterr()
    forms = [PASSWORD.encode(), quote(PASSWORD, safe="").encode(), b"S3cr"]
    files = [path for folder in (run_dir, store) for path in folder.rglob("*") if path.is_file()]
    assert any(path.name == "config.yaml" for path in files) and any(path.name == "server.db" for path in files)
    for path in files:
        content = path.read_bytes()
        assert not any(form in content for form in forms), path
    assert "MLflow: run" in said.err + said.out  # the run's lines were captured
    assert not any(form.decode() in said.out + said.err for form in forms)


def test_a_server_stopped_mid_run_costs_one_warning_and_nothing_local(keras, tmp_path, caplog):
    from dlcv.training.engine import train

    class StopServer(keras.callbacks.Callback):  # at the end of epoch 2, before MLflow hears of it
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                stop(server)

    server, uri = start_server(tmp_path / "server")
    try:
        started = time.perf_counter()
        result = train(tracked_config(tmp_path, uri, "epochs=5", "name=lost"), verbose=0, callbacks=[StopServer()])
        seconds = time.perf_counter() - started
    finally:
        stop(server)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "MLflow" in r.getMessage()]
    assert len(warnings) == 1 and "epoch 2's metrics" in warnings[0] and "training goes on" in warnings[0]
    run_dir = result.run_dir
    assert json.loads((run_dir / "results.json").read_text())["epochs_run"] == 5
    assert all((run_dir / name).is_file() for name in ("model.keras", "model.h5", "report.html", "training.png"))
    assert len(json.loads((run_dir / "history.json").read_text())["loss"]) == 5
    assert seconds < 60  # not minutes of MLflow's default retries (the whole run takes a few seconds)
    # what the server had stored before it stopped: the first epoch, the run still RUNNING
    stored = MlflowClient(f"sqlite:///{tmp_path / 'server' / 'server.db'}")
    run_id = run_id_of(run_dir)
    assert [m.step for m in stored.get_metric_history(run_id, "loss")] == [0]
    assert stored.get_run(run_id).info.status == "RUNNING"


def test_mlflow_tracking_uri_from_the_environment_with_an_sqlite_store(keras, tmp_path, monkeypatch):
    from dlcv.config import load_config
    from dlcv.training.engine import train

    monkeypatch.chdir(tmp_path)  # MLflow puts an SQLite store's artefacts in ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    config = load_config(overrides=[f"output_dir={tmp_path}", "epochs=2", "name=env", "tracking.mlflow={}",
                                    "tracking.mlflow.experiment=digits"])
    result = train(config, verbose=0)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("digits")
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.run_id == run_id_of(result.run_dir) and logged.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(logged.info.run_id, "val_accuracy")] == [0, 1]
    assert (tmp_path / "mlruns").is_dir()


@pytest.mark.parametrize("uri, expected", [
    ("foo://bar", "a scheme MLflow does not know"),
    ("http://127.0.0.1:{port}", "connection refused"),
])
def test_a_uri_that_does_not_work_is_one_line_before_any_data_is_read(tmp_path, monkeypatch, dlcv, uri, expected):
    from dlcv import app
    from dlcv.training import engine

    def must_not_run(*args, **kwargs):
        raise AssertionError("Keras started (or the data was read) before the tracking URI was checked")

    monkeypatch.setattr(engine, "prepare_data", must_not_run)
    monkeypatch.setattr(app, "start_keras", must_not_run)
    uri = uri.format(port=free_port())
    said = dlcv("train", "--set", f"output_dir={tmp_path}", "--set", f"tracking.mlflow.uri={uri}")
    assert said.code == 2 and said.err.count("\n") == 1, said.err
    assert f"tracking.mlflow.uri {uri!r} does not work: {expected}; expected an MLflow tracking server" in said.err


def test_mlflow_missing_says_what_to_install(tmp_path, monkeypatch, dlcv):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    said = dlcv("train", "--set", f"output_dir={tmp_path}", "--set", "tracking.mlflow={}")
    assert said.code == 2 and said.err == ("dlcv: error: tracking.mlflow needs MLflow, which is not installed; "
                                           "pip install mlflow\n")


def test_an_epoch_committed_but_not_logged_is_logged_once_on_resume(keras, tmp_path, monkeypatch):
    """Interrupted between committing epoch 2 and logging it: --resume continues the same MLflow run,
    logs epoch 2 from the run folder, then epoch 3; every epoch once."""
    from dlcv import tracking
    from dlcv.config import load_config
    from dlcv.training.engine import train

    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = load_config(overrides=[f"output_dir={tmp_path}", "epochs=3", "name=cut", f"tracking.mlflow.uri={store}"])
    log_epoch = tracking.MlflowRun.log_epoch

    def interrupted_at_the_second(self, epoch, logs):
        if epoch == 1:
            raise KeyboardInterrupt
        log_epoch(self, epoch, logs)

    monkeypatch.setattr(tracking.MlflowRun, "log_epoch", interrupted_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        train(config, verbose=0)
    client = MlflowClient(store)
    run_id = run_id_of(tmp_path / "cut")
    assert client.get_run(run_id).info.status == "KILLED"
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0]
    assert json.loads((tmp_path / "cut" / "checkpoints" / "last.json").read_text())["epoch"] == 2

    monkeypatch.setattr(tracking.MlflowRun, "log_epoch", log_epoch)
    result = train(config, resume=True, verbose=0)
    assert run_id_of(result.run_dir) == run_id
    assert client.get_run(run_id).info.status == "FINISHED"
    history = json.loads((result.run_dir / "history.json").read_text())
    logged = client.get_metric_history(run_id, "loss")
    assert [m.step for m in logged] == [0, 1, 2]
    assert [m.value for m in logged] == pytest.approx(history["loss"], rel=1e-6)
    assert len(client.search_runs([client.get_experiment_by_name("dlcv").experiment_id])) == 1


def test_an_epochs_numbers_are_logged_whatever_their_type_and_nothing_else(tmp_path, monkeypatch):
    from dlcv.tracking import MlflowRun

    monkeypatch.chdir(tmp_path)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = client.create_run(client.create_experiment("numbers")).info.run_id
    MlflowRun(client, run_id, "sqlite").log_epoch(4, {"loss": np.float32(0.5), "accuracy": 0.75, "seen": 10,
                                                     "val_loss": np.float64(0.25), "stopped": True, "name": "x"})
    logged = client.get_run(run_id).data.metrics
    assert logged == {"loss": 0.5, "accuracy": 0.75, "seen": 10.0, "val_loss": 0.25}
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [4]


def test_a_fresh_start_over_a_killed_run_ends_its_mlflow_run_killed(keras, tmp_path, monkeypatch):
    """A SIGKILLed process leaves its MLflow run RUNNING; training the same run again without --resume
    ends that one KILLED and tracks a new one."""
    from dlcv.config import load_config
    from dlcv.training.engine import train

    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(store)
    killed = client.create_run(client.create_experiment("dlcv")).info.run_id  # as a killed process left it
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "mlflow.json").write_text(json.dumps({"run_id": killed, "uri": store,
                                                                 "experiment": "dlcv"}))
    train(load_config(overrides=[f"output_dir={tmp_path}", "epochs=1", "name=again", f"tracking.mlflow.uri={store}",
                                 "callbacks.monitor=false"]), verbose=0)
    tracked = run_id_of(tmp_path / "again")
    assert client.get_run(killed).info.status == "KILLED"
    assert tracked != killed and client.get_run(tracked).info.status == "FINISHED"
