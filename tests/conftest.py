"""Shared fixtures. Tests run on whatever backend $KERAS_BACKEND names (TensorFlow by default)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def keras():
    from dlcv.runtime import import_keras, use_backend

    use_backend(None)
    return import_keras()


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m dlcv ARGS`` in a real subprocess and capture its output."""
    return subprocess.run([sys.executable, "-m", "dlcv", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="session")
def digits_run(keras, tmp_path_factory):
    """A short quickstart run (5 epochs) trained once for the whole session."""
    from dlcv.config import load_config
    from dlcv.training import train

    out = tmp_path_factory.mktemp("runs")
    config = load_config(overrides=["epochs=5", f"output_dir={out}", "name=digits-short"])
    return train(config, verbose=0)
