"""Shared fixtures. Tests run on whatever backend $KERAS_BACKEND names (TensorFlow by default), in this
process: the ``dlcv`` command through ``cli.main``, the scripts through their parsers and functions. A
real subprocess is used only where a process is the point (kills, a second backend, TensorFlow made
unimportable, one end-to-end command)."""
from __future__ import annotations

import os
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if "PYTEST_XDIST_WORKER" in os.environ:
    # One worker per core (-n auto): each worker's TensorFlow (and the processes its tests start) computes
    # on one thread instead of every worker's threads contending for every core.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def keras():
    from dlcv.runtime import import_keras, use_backend

    use_backend(None)
    return import_keras()


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def dlcv(capsys):
    """``dlcv ARGS`` in this process: its exit code, stdout and stderr."""
    from dlcv import cli

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        code = cli.main([str(a) for a in args])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)
    return run


@pytest.fixture
def script(capsys, monkeypatch):
    """``python scripts/NAME.py ARGS`` in this process (its ``__main__`` block runs): exit code, output."""
    def run(name: str, *args: str) -> Outcome:
        path = ROOT / "scripts" / f"{name}.py"
        monkeypatch.setattr(sys, "argv", [str(path), *map(str, args)])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            runpy.run_path(str(path), run_name="__main__")
        captured = capsys.readouterr()
        return Outcome(exited.value.code or 0, captured.out, captured.err)
    return run


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    """``python -m dlcv ARGS`` in a real subprocess (only where a process is the point)."""
    return subprocess.run([sys.executable, "-m", "dlcv", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def digits_run(keras, tmp_path_factory):
    """A short quickstart run (5 epochs) trained once for the whole session."""
    from dlcv.config import load_config
    from dlcv.training.engine import train

    out = tmp_path_factory.mktemp("runs")
    config = load_config(overrides=["epochs=5", f"output_dir={out}", "name=digits-short"])
    return train(config, verbose=0)


@pytest.fixture
def console_output():
    """What dlcv logs printed as the dlcv command prints it (a library call alone prints nothing)."""
    from dlcv.console import console

    with console():
        yield


def pytest_collection_modifyitems(items):
    """The slow tests (real processes, a minute each) first: xdist's workers then start with them and end
    on short tests, instead of one worker finishing a long test alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
