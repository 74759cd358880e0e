"""MLflow tracking of a run, besides its run folder: the flattened config as parameters, each committed
epoch's metrics (step = Keras's epoch index, as MLflow's and Keras's own loggers count), the test scores,
the run folder's files and the model as an MLflow model, and tags for the backend, route, devices and dlcv
version.

Our own client calls, not ``mlflow.keras.autolog`` (it patches ``fit``, which the compiled route never
calls), through ``MlflowClient`` with explicit run ids (no global active run): a resumed run continues
*its* MLflow run (its id is kept in the run folder's ``mlflow.json``), and a search's trials nest under
the study's run. Tracking is best-effort once training runs: a server that stops answering costs one
warning and at most one short timeout, never the run; at the start, a URI that does not work is one line.

    check_tracking(config)                      # before training: the URI works (or DlcvError)
    with mlflow_run(config, run, resume=False) as tracker:
        ...fit(callbacks=[..., MetricsToMlflow(tracker)])...
        tracker.log_outcome(run, results, model, input_size=(32, 32, 3))

    mlflow.keras.load_model(f"runs:/{run_id}/model")   # the model, back from MLflow
"""
from __future__ import annotations

import contextlib
import logging
import numbers
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, files
from .config import ExperimentConfig, MlflowConfig
from .errors import DlcvError
from .runs import RunFolder
from .secrets import redacted, split_credentials

log = logging.getLogger(__name__)

RUN_RECORD = "mlflow.json"
"""In a run folder: the MLflow run it logs to (its id, the tracking URI and experiment)."""
MODEL_PATH = "model"
"""Where in a run's artefacts the MLflow model goes: ``runs:/<run id>/model``."""
REQUEST_TIMEOUT_S = 10
"""MLflow's client waits 120 s per request and retries seven times with back-off (minutes in all) by
default: we ask once, briefly. Set once, in the environment MLflow's client reads on each request, when
tracking starts (:func:`_connect`); a user's own MLFLOW_HTTP_REQUEST_* settings win."""
PARAM_VALUE_LIMIT = 6000
"""MLflow's limit on a parameter's value, in characters."""
TEST_SCORES = ("test_accuracy", "test_balanced_accuracy", "test_macro_f1", "test_loss", "test_map",
               "test_f1_micro", "test_f1_macro", "test_exact_match")
"""The scores of results.json logged as MLflow metrics."""
_NOT_LOGGED = (RunFolder.model_h5_file.name, RunFolder.model_keras_file.name, RunFolder.best_epoch_file.name)
"""The run folder's models (the MLflow model carries the model: model.keras inside it) and checkpoints."""


def check_tracking(config: ExperimentConfig) -> None:
    """Before any data is read: MLflow is installed, the URI's scheme is one MLflow knows and its
    server or database answers; else :class:`~dlcv.errors.DlcvError` in one line."""
    settings = config.tracking.mlflow
    if settings is not None:
        _connect(settings)


@contextlib.contextmanager
def mlflow_run(config: ExperimentConfig, run: RunFolder, resume: bool) -> Iterator[MlflowRun | None]:
    """The run's MLflow run (None where tracking is off): created, or with ``resume`` the one the run folder
    names, continued; ended as the block ends (:func:`_ended`)."""
    if config.tracking.mlflow is None:
        (run / RUN_RECORD).unlink(missing_ok=True)  # an earlier run's MLflow run is not this one's
        yield None
        return
    with _ended(MlflowRun.start(config, run, resume)) as tracker:
        yield tracker


@contextlib.contextmanager
def study_run(config: ExperimentConfig, study: Any) -> Iterator[MlflowRun | None]:
    """A search's MLflow run, the one its trials nest under (None where tracking is off): one per study,
    shared by every process running it (its id is kept in the study), ended as the block ends."""
    if config.tracking.mlflow is None:
        yield None
        return
    with _ended(MlflowRun.for_study(config, study)) as tracker:
        yield tracker


@contextlib.contextmanager
def _ended(tracker: MlflowRun) -> Iterator[MlflowRun]:
    """End the MLflow run as the block ends: FINISHED, KILLED (interrupted) or FAILED (an exception)."""
    status = "FINISHED"
    try:
        yield tracker
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except BaseException:
        status = "FAILED"
        raise
    finally:
        tracker.end(status)


class MlflowRun:
    """One MLflow run of a dlcv run: what is logged to it, and how a failing server is lived with."""

    def __init__(self, client: Any, run_id: str, uri: str) -> None:
        self.client, self.run_id, self.uri = client, run_id, uri
        self.lost: str | None = None
        """Why the server stopped being used (it stopped answering), else None."""

    @classmethod
    def start(cls, config: ExperimentConfig, run: RunFolder, resume: bool) -> MlflowRun:
        """The training run's: created, or with ``resume`` the run folder's, continued."""
        client, uri = _connect(config.tracking.mlflow)
        record = files.read_json(run / RUN_RECORD) if (run / RUN_RECORD).is_file() else None
        ours = record is not None and record.get("uri") == redacted(uri)
        tracker = cls.continued(client, record["run_id"], uri) if resume and ours else None
        continued = tracker is not None
        if not continued:
            if ours:  # a fresh start over an interrupted run: its MLflow run ends as it did, killed
                _end_if_running(client, record["run_id"], "KILLED")
            tracker = cls.created(client, uri, config, tags=_runtime_tags())
            files.write_json(run / RUN_RECORD, {"run_id": tracker.run_id, "uri": redacted(uri),
                                                "experiment": config.tracking.mlflow.experiment})
        if continued:
            tracker._log_missing_epochs(run)
        return tracker

    def log_config(self, config: ExperimentConfig) -> None:
        """The config the run trains with, resolved by its data (its task, input size), as parameters: the
        values config.yaml holds."""
        self._log_params(config.flat())

    @classmethod
    def for_study(cls, config: ExperimentConfig, study: Any) -> MlflowRun:
        """The search's: the study's MLflow run where it has one at this URI, else a new one it keeps."""
        client, uri = _connect(config.tracking.mlflow)
        attrs = study.user_attrs
        if attrs.get("mlflow_run_id") and attrs.get("mlflow_uri") == redacted(uri):
            tracker = cls.continued(client, attrs["mlflow_run_id"], uri)
            if tracker is not None:
                return tracker
        tracker = cls.created(client, uri, config, tags={"optuna_study": study.study_name}, name=study.study_name)
        study.set_user_attr("mlflow_run_id", tracker.run_id)
        study.set_user_attr("mlflow_uri", redacted(uri))
        search = config.search
        tracker._log_params({"search.metric": search.metric, "search.trials": search.trials,
                             "search.sampler": search.sampler, "search.pruner": search.pruner,
                             **{f"search.space.{key}": d.model_dump_json(exclude_none=True)
                                for key, d in search.space.items()}})
        return tracker

    @classmethod
    def created(cls, client: Any, uri: str, config: ExperimentConfig, tags: dict[str, str],
                name: str | None = None) -> MlflowRun:
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        settings = config.tracking.mlflow
        experiment_id = _experiment_id(client, settings.experiment)
        tags = {"dlcv_version": __version__, **tags}
        if settings.parent_run_id:
            tags[MLFLOW_PARENT_RUN_ID] = settings.parent_run_id
        created = client.create_run(experiment_id, run_name=name or config.name, tags=tags)
        log.info(f"MLflow: run {created.info.run_id} in experiment {settings.experiment!r} of {redacted(uri)}")
        return cls(client, created.info.run_id, uri)

    @classmethod
    def continued(cls, client: Any, run_id: str, uri: str) -> MlflowRun | None:
        """That run, running again; None where it is gone (deleted in MLflow)."""
        from mlflow.entities import RunStatus
        from mlflow.exceptions import MlflowException

        try:
            client.update_run(run_id, status=RunStatus.to_string(RunStatus.RUNNING))
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):  # gone, or deleted
                raise
            log.info(f"MLflow: run {run_id} is no longer in {redacted(uri)}; a new run takes its place")
            return None
        log.info(f"MLflow: continuing run {run_id} in {redacted(uri)}")
        return cls(client, run_id, uri)

    # ---- during training -----------------------------------------------------------------------------

    def log_epoch(self, epoch: int, logs: dict[str, Any]) -> None:
        """One epoch's metrics (loss, accuracy, validation, learning rate), at step ``epoch``."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, epoch) for key, value in logs.items()
                   if isinstance(value, numbers.Real) and not isinstance(value, bool)]  # NumPy's scalars too
        self._send(f"epoch {epoch + 1}'s metrics", lambda: self.client.log_batch(self.run_id, metrics=metrics))

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self._send("tags", lambda: self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()]))

    # ---- at the end ----------------------------------------------------------------------------------

    def log_outcome(self, run: RunFolder, results: dict[str, Any], model: Any | None,
                    input_size: tuple[int, int, int]) -> None:
        """The test scores, the route, the run folder's files and the model (None: not logged), which takes
        uint8 images of ``input_size`` (height, width, channels)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        scores = [Metric(key, float(results[key]), now, 0) for key in TEST_SCORES
                  if isinstance(results.get(key), (int, float))]
        self._send("the test scores", lambda: self.client.log_batch(self.run_id, metrics=scores))
        self.set_tags({"route": results.get("route", "")})
        for name in RunFolder.entries(folders=False):  # the files a run writes, as the run folder names them
            path = run / name
            if path.is_file() and name not in _NOT_LOGGED:
                self._send(name, lambda p=path: self.client.log_artifact(self.run_id, str(p)))
        if model is not None:
            self._send("the model", lambda: self._log_model(model, input_size))

    def log_scores(self, scores: dict[str, float], what: str) -> None:
        """Numbers that summarise the run (a k-fold run's held-out means), at step 0."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, 0) for key, value in scores.items()]
        self._send(what, lambda: self.client.log_batch(self.run_id, metrics=metrics))

    def log_search(self, best: Any | None, metric: str, written: dict[str, Path]) -> None:
        """A search's outcome: its best trial's (None: none completed) value and number, and its files
        (best.yaml, trials.csv, plots, summary)."""
        from mlflow.entities import Metric

        if best is not None:
            now = int(time.time() * 1000)
            values = [Metric(f"best_{metric}", float(best.value), now, 0), Metric("best_trial", best.number, now, 0)]
            self._send("the best trial", lambda: self.client.log_batch(self.run_id, metrics=values))
        for path in written.values():
            self._send(path.name, lambda p=path: self.client.log_artifact(self.run_id, str(p)))

    def end(self, status: str) -> None:
        self._send(f"the run's end ({status})", lambda: self.client.set_terminated(self.run_id, status))

    # ---- inside --------------------------------------------------------------------------------------

    def _log_model(self, model: Any, input_size: tuple[int, int, int]) -> None:
        """The model as an MLflow model taking uint8 images as a client sends them (the exports' contract,
        :func:`dlcv.export.exporter.serving_model`) and returning class probabilities."""
        import keras
        import mlflow.keras
        from mlflow.models import ModelSignature
        from mlflow.types import Schema, TensorSpec

        from .export.exporter import serving_model

        backend = keras.backend.backend()
        requirements = [f"keras=={keras.__version__}", f"{backend}=={_version_of(backend)}"]
        served = serving_model(model, input_size)
        signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("uint8"), (-1, *input_size))]),
                                   outputs=Schema([TensorSpec(np.dtype("float32"), (-1, served.outputs[0].shape[-1]))]))
        with tempfile.TemporaryDirectory(prefix="dlcv-mlflow-") as folder:
            target = str(Path(folder) / MODEL_PATH)
            # pip_requirements given: else MLflow loads the model in a subprocess to infer them (seconds)
            mlflow.keras.save_model(served, target, signature=signature, pip_requirements=requirements)
            self.client.log_artifacts(self.run_id, target, MODEL_PATH)

    def _log_params(self, flat: dict[str, Any]) -> None:
        """The config's keys as parameters; on a resumed run only those not logged yet (MLflow refuses to
        change a logged parameter: a changed setting stays in the run folder's config.yaml)."""
        from mlflow.entities import Param

        logged = self._fetch(lambda: self.client.get_run(self.run_id).data.params) or {}
        params = [Param(key, _param_value(value)) for key, value in flat.items() if key not in logged]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 parameters per request
            chunk = params[start:start + 100]
            self._send("the config", lambda c=chunk: self.client.log_batch(self.run_id, params=c))

    def _log_missing_epochs(self, run: RunFolder) -> None:
        """A process killed between committing an epoch and logging it: log the committed epochs MLflow
        lacks, from the run folder's history (logging after the commit, and this, log each epoch once)."""
        point = run.resume_point()
        if point is None or not run.history_file.is_file():
            return
        history = files.read_json(run.history_file)
        logged = {m.step for m in self._fetch(lambda: self.client.get_metric_history(self.run_id, "loss")) or []}
        for epoch in range(min(point.epoch, len(history.get("loss", [])))):
            if epoch not in logged:
                self.log_epoch(epoch, {key: values[epoch] for key, values in history.items()
                                       if epoch < len(values)})

    def _send(self, what: str, call) -> None:
        """Make one logging call; a failure — the server stopped answering, the database is locked —
        warns once and ends this run's logging (the run folder is complete whatever MLflow holds)."""
        if self.lost is None:
            try:
                call()
            except Exception as exc:  # any failure of the tracking side: training must go on
                self.lost = f"{type(exc).__name__}: {_first_line(exc)}"
                log.warning(f"MLflow: {redacted(self.uri)} failed while logging {what} ({self.lost}); training "
                            "goes on without it, and the run folder has everything")

    def _fetch(self, call):
        result = []
        self._send("a read", lambda: result.append(call()))
        return result[0] if result else None


def _connect(settings: MlflowConfig) -> tuple[Any, str]:
    """A client for the settings' URI (else $MLFLOW_TRACKING_URI, else MLflow's default) that has answered
    once, and that URI; DlcvError when MLflow is missing or the URI does not work."""
    try:
        import mlflow
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise DlcvError("tracking.mlflow needs MLflow, which is not installed; pip install mlflow") from None
    uri, user, password = split_credentials(settings.uri or mlflow.get_tracking_uri())
    user, password = settings.credentials or (user, password)
    if user or password:  # MLflow's documented way to give them, read on each request: never in the URI
        os.environ["MLFLOW_TRACKING_USERNAME"] = user or ""
        os.environ["MLFLOW_TRACKING_PASSWORD"] = password or ""
    for variable, value in (("MLFLOW_HTTP_REQUEST_TIMEOUT", REQUEST_TIMEOUT_S), ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 0)):
        os.environ.setdefault(variable, str(value))
    _reach_database(uri)
    try:
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)  # the store is made and asked once: it answers
    except (MlflowException, OSError, ValueError) as exc:
        raise DlcvError(f"tracking.mlflow.uri {redacted(uri)!r} does not work: {_why(exc)}; expected an MLflow "
                        "tracking server that answers (http://HOST:PORT) or a database (sqlite:///FILE)") from None
    return client, uri


DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
"""The database servers MLflow can store runs in, and their usual ports."""


def _reach_database(uri: str) -> None:
    """A database server's URI: its host and port answer within :data:`REQUEST_TIMEOUT_S`, else one line.
    MLflow's SQLAlchemy store retries a refused connection for about 100 s and then raises a traceback."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    scheme = parts.scheme.split("+")[0]  # postgresql+psycopg2
    if scheme not in DATABASE_PORTS or not parts.hostname:
        return
    import socket

    try:
        socket.create_connection((parts.hostname, parts.port or DATABASE_PORTS[scheme]), REQUEST_TIMEOUT_S).close()
    except OSError as exc:
        raise DlcvError(f"tracking.mlflow.uri {redacted(uri)!r} does not work: its database server does not answer "
                        f"({exc.strerror or type(exc).__name__}); expected a {scheme} server listening at "
                        f"{parts.hostname}:{parts.port or DATABASE_PORTS[scheme]}") from None


def _end_if_running(client: Any, run_id: str, status: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        if client.get_run(run_id).info.status == "RUNNING":
            client.set_terminated(run_id, status)
    except MlflowException:  # deleted meanwhile: nothing to end
        pass


def _experiment_id(client: Any, name: str) -> str:
    """The experiment's id, created when missing (by whichever of several processes gets there first)."""
    from mlflow.exceptions import MlflowException

    for _ in range(2):
        found = client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                raise DlcvError(f"tracking.mlflow.experiment {name!r} is deleted in MLflow; restore it "
                                "(mlflow experiments restore) or name another")
            return found.experiment_id
        try:  # the kind: MLflow's UI then opens it on its model-training pages, not its GenAI ones
            return client.create_experiment(name, tags={"mlflow.experimentKind": "custom_model_development"})
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
    raise RuntimeError(f"MLflow experiment {name!r} neither found nor created")


def _runtime_tags() -> dict[str, str]:
    import keras

    from .runtime import devices

    return {"backend": keras.backend.backend(), "devices": ", ".join(devices()) or "CPU only"}


def _param_value(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= PARAM_VALUE_LIMIT else text[:PARAM_VALUE_LIMIT - 3] + "..."


def _version_of(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def _why(exc: BaseException) -> str:
    """MLflow's message, said short: a refused connection, a timeout, a web server that is not MLflow's, a
    scheme MLflow does not know."""
    text = str(exc)
    if "unsupported URI" in text or "Unexpected URI" in text:
        return "a scheme MLflow does not know"
    if "MLFLOW_ALLOW_FILE_STORE" in text:
        return "MLflow 3 takes a folder store only with MLFLOW_ALLOW_FILE_STORE=true"
    status = re.search(r"error code (\d+) != 200", text)
    if status:
        return f"HTTP {status.group(1)} (not an MLflow tracking server?)"
    if "timed out" in text.lower():
        return f"no answer within {REQUEST_TIMEOUT_S} s"
    errno = re.search(r"\[Errno -?\d+\] ([^\"')]+)", text)
    return errno.group(1).strip().lower() if errno else _first_line(exc)[:300]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
