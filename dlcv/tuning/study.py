"""The study a search keeps its trials in: Optuna's, in a database, so that a search survives a crash and
runs on several machines at once (every machine runs the same ``dlcv tune`` against one study).

The default storage is an SQLite file in the search's folder (``output/<name>/study.db``: nothing to
start); a ``postgresql://`` or ``mysql://`` URL shares the study between machines. Running trials send a
heartbeat, so a trial whose process was killed is marked failed by the next process that starts a trial
(Optuna's ``fail_stale_trials``), and its place is taken: only finished trials count towards
``search.trials``.

    study = open_study(config, storage=None, study_name=None)      # output/<name>/study.db
    finished(study), best_trial(study)
"""
from __future__ import annotations

import logging
import random
import time
import warnings
from pathlib import Path
from typing import Any

from ..config import ExperimentConfig, SearchConfig
from ..errors import DlcvError
from ..secrets import redacted

log = logging.getLogger(__name__)

DRIVERS = {"postgresql": "psycopg (pip install 'psycopg[binary]')", "mysql": "a MySQL driver (pip install pymysql, "
           "then use mysql+pymysql://...)", "sqlite": "Python's sqlite3"}
"""What each database needs, said when it is missing."""
CREATION_RACE = ("already exists", "UNIQUE constraint failed", "duplicate key value", "database is locked")
"""What a database says when another process created Optuna's tables a moment before this one."""
CONNECT_TIMEOUT_S = 10
"""Seconds to wait for a database server before saying it does not answer."""


STUDY_FILE = "study.db"
"""The study's SQLite file in the search's folder, where ``--storage`` names no database."""


def storage_url(config: ExperimentConfig, storage: str | None) -> str:
    """``--storage``, else the SQLite file in the search's folder."""
    return storage or f"sqlite:///{config.run_dir / STUDY_FILE}"


def quiet_optuna() -> None:
    """Optuna's own INFO lines off ("A new study created in RDB ...", one per trial): dlcv says which study
    and each trial in its own lines; its warnings stay."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def open_study(config: ExperimentConfig, storage: str | None, study_name: str | None) -> Any:
    """The config's study (created, or continued when it exists) in ``storage`` (default: SQLite in the
    run folder); a storage that cannot be reached is one line (:class:`DlcvError`) before any training."""
    import optuna

    quiet_optuna()

    search = config.search
    url = storage_url(config, storage)
    if storage is None:
        Path(config.run_dir).mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are "experimental"
        rdb = _storage(url, search)
    direction = "minimize" if search.metric == "val_loss" else "maximize"
    name = study_name or config.name
    study = optuna.create_study(study_name=name, storage=rdb, sampler=build_sampler(search),
                                pruner=build_pruner(search, config.total_epochs), direction=direction,
                                load_if_exists=True)
    if study.direction.name.lower() != direction:  # an existing study keeps its own; Optuna does not check
        raise DlcvError(f"study {name!r} in {redacted(url)} was made to {study.direction.name.lower()} its "
                        f"metric, and search.metric {search.metric} needs {direction}; expected the metric it "
                        "was made with, or another --study name")
    return study


def _storage(url: str, search: SearchConfig) -> Any:
    import optuna
    import sqlalchemy.exc

    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in DRIVERS:
        raise DlcvError(f"--storage {redacted(url)}: unknown database {scheme!r}; expected sqlite:///FILE, "
                        "postgresql://USER:PASSWORD@HOST/DATABASE or mysql://...")
    engine_kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}} if scheme != "sqlite" else {}

    def connect():
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=search.heartbeat,
                                          grace_period=2 * search.heartbeat)

    try:
        for attempt in range(3):
            try:
                return connect()
            except sqlalchemy.exc.DBAPIError as exc:
                # Processes started at once on an empty database race to create Optuna's tables (seen:
                # PostgreSQL's 'type "studydirection" already exists', SQLite's 'table studies already
                # exists' and 'UNIQUE constraint failed: alembic_version'); the losers find them made.
                if attempt == 2 or not any(sign in str(exc) for sign in CREATION_RACE):
                    raise
                time.sleep(0.5 + random.random())
    except (ImportError, sqlalchemy.exc.NoSuchModuleError) as exc:  # Optuna re-raises the driver's as ImportError
        raise DlcvError(f"--storage {redacted(url)}: needs {DRIVERS[scheme]}, which is not installed ({exc})") \
            from None
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ArgumentError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DlcvError(f"--storage {redacted(url)}: the database does not answer ({reason}); expected a "
                        "running server and a database the user may write") from None


def build_sampler(search: SearchConfig) -> Any:
    """Unseeded: processes sharing a study must not all draw the same values."""
    import optuna

    if search.sampler == "grid":
        return optuna.samplers.GridSampler({key: d.values() for key, d in search.space.items()})
    if search.sampler == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.TPESampler()


def build_pruner(search: SearchConfig, epochs: int) -> Any:
    """Optuna's pruners, judging no trial before a tenth of its epochs: after the first epoch of a long
    run every trial is near chance, and the median of noise would prune good settings (seen on Animals)."""
    import optuna

    warm_up = epochs // 10
    if search.pruner == "median":
        return optuna.pruners.MedianPruner(n_warmup_steps=warm_up)
    if search.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, warm_up), max_resource=epochs)
    return optuna.pruners.NopPruner()


def finished(study: Any) -> int:
    """Trials that count towards ``search.trials``: complete or pruned (as Optuna's MaxTrialsCallback
    counts them when given those states)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def running(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def best_trial(study: Any) -> Any | None:
    """The best complete trial, or None before one has completed."""
    try:
        return study.best_trial
    except ValueError:
        return None
