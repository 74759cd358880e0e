"""Shared fixtures. Tests run on whatever backend $KERAS_BACKEND names (TensorFlow by default), in this
process: the ``dlcv`` command through ``cli.main``, the scripts through their parsers and functions. A
real subprocess is used only where a process is the point (kills, a second backend, TensorFlow made
unimportable, one end-to-end command)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import runpy
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
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


def run_config(tmp_path: Path, *overrides: str, epochs: int = 3):
    """The quickstart's config (digits, the MLP) as the run ``run`` under ``tmp_path``, ``epochs`` long;
    ``overrides`` as --set takes them."""
    from dlcv.config import load_config

    return load_config(overrides=[f"output_dir={tmp_path}", "name=run", f"epochs={epochs}", *overrides])


def folder_config(root: Path, tmp_path: Path, *overrides: str, size: int = 8):
    """A linear model on the class folders under ``root`` at ``size`` x ``size``, 2 epochs, the run ``run``."""
    from dlcv.config import load_config

    return load_config(overrides=["dataset.name=folder", f"dataset.path={root}", f"preprocessing.width={size}",
                                  f"preprocessing.height={size}", f"output_dir={tmp_path / 'out'}", "name=run",
                                  "model.name=linear", "model.params={}", "epochs=2", *overrides])


BACKBONE = "mobilenet_v3_small"
"""The backbone the transfer-learning tests train (the smallest)."""


def transfer_overrides(tmp_path: Path, photos: Path, name: str, *overrides: str) -> list[str]:
    """--set values of a 32x32 run of :data:`BACKBONE` on the ``photos`` folders."""
    return [f"output_dir={tmp_path}", f"name={name}", "dataset.name=folder", f"dataset.path={photos}",
            "dataset.val_size=0.2", "preprocessing.width=32", "preprocessing.height=32", f"model.name={BACKBONE}",
            "batch_size=8", *overrides]


@pytest.fixture(scope="session")
def photo_folders(tmp_path_factory) -> Path:
    """Three classes of 8 generated colour photos, 64x48 (the transfer-learning tests' data)."""
    from data_files import write_photo_folders

    return write_photo_folders(tmp_path_factory.mktemp("photos"), per_class=8, size=(64, 48))


# How Keras documents feeding each network: the module whose preprocess_input applies (stated here, not
# taken from dlcv's table, so that a wrong entry there fails).
KERAS_MODULES = {
    "mobilenet_v2": "mobilenet_v2", "mobilenet_v3_small": "mobilenet_v3", "mobilenet_v3_large": "mobilenet_v3",
    "efficientnet_b0": "efficientnet", "efficientnet_b1": "efficientnet", "efficientnet_b2": "efficientnet",
    "efficientnet_b3": "efficientnet", "efficientnet_v2_b0": "efficientnet_v2", "resnet50": "resnet50",
    "convnext_tiny": "convnext", "vgg16": "vgg16",
}


def photo_batch(size: int, count: int = 4, seed: int = 0) -> np.ndarray:
    """``count`` generated uint8 RGB photos, ``size`` x ``size``."""
    from data_files import structured_photo

    rng = np.random.default_rng(seed)
    tints = [(200, 60, 40), (40, 180, 60), (50, 70, 210)]
    return np.stack([structured_photo(rng, (size, size), tints[i % 3])[..., ::-1] for i in range(count)])


def trained_weights_file(keras, name: str, size: int, folder) -> tuple[str, object, object]:
    """keras.applications' network (no top) with BatchNormalization statistics learnt from a few photos
    (returned with its weights file and the Keras module that documents its input)
    (one training-mode pass with momentum 0: what long training leaves), its weights saved. Freshly
    initialised, its features would barely depend on the input."""
    from dlcv.models.backbones import BACKBONES

    module = getattr(keras.applications, KERAS_MODULES[name])
    network = BACKBONES[name].application()(include_top=False, weights=None, input_shape=(size, size, 3))
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    network(module.preprocess_input(photo_batch(size, seed=1).astype("float32")), training=True)
    for layer in network.layers:  # a few photos' variance can be ~0: floored, so that fine-tuning stays finite
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_variance.assign(np.maximum(keras.ops.convert_to_numpy(layer.moving_variance), 0.01))
    path = str(folder / f"{name}_notop.weights.h5")
    network.save_weights(path)
    return path, module, network


def serve_weights(monkeypatch, name: str, source) -> str:
    """Point the backbone's ImageNet weights at a local file (file:// URL), as if it were Google's."""
    from dlcv.models import backbones

    digest = hashlib.md5(source.read_bytes()).hexdigest()
    entry = backbones.BACKBONES[name]
    file_name = entry.weights_file(32).name
    (source.parent / file_name).write_bytes(source.read_bytes())
    monkeypatch.setitem(backbones.BACKBONES, name,
                        replace(entry, notop=(entry.notop[0], f"file://{source.parent}/", digest)))
    return file_name


@pytest.fixture(scope="session")
def digits_run(keras, tmp_path_factory):
    """A short quickstart run (5 epochs) trained once for the whole session."""
    from dlcv.config import load_config
    from dlcv.training.engine import train

    out = tmp_path_factory.mktemp("runs")
    config = load_config(overrides=["epochs=5", f"output_dir={out}", "name=digits-short"])
    result = train(config, verbose=0)
    as_trained = _files_of(result.run_dir)
    yield result
    # shared by every test of the session: a test that writes into it (dlcv evaluate, report) copies it first
    assert _files_of(result.run_dir) == as_trained, "a test changed the shared digits_run"


def _files_of(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


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


class Server:
    """``python -m dlcv serve MODEL --port 0 ARGS`` until stopped; its address read from the line that says
    where it listens (its stderr kept in a file: a pipe nobody reads would fill and stop it)."""

    def __init__(self, model, *args: str, cwd: Path = ROOT) -> None:
        import tempfile

        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen([sys.executable, "-m", "dlcv", "serve", str(model), "--port", "0", *args],
                                        cwd=cwd, stdout=subprocess.PIPE, stderr=self.errors, text=True)
        said, found = [], None
        while not found and len(said) < 50:  # its own lines first (a run it loads may say one)
            line = self.process.stdout.readline()
            said.append(line)
            found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
            if not line:
                break
        if not found:
            self.process.kill()
            self.process.wait(timeout=60)
            self.errors.seek(0)
            raise AssertionError("".join(said) + self.errors.read()[-2000:])
        self.url, self.announced = found.group(1), said[-1]

    def call(self, path: str, body: bytes | None = None, content_type: str | None = None):
        """(status, headers, JSON or text) of one request."""
        request = urllib.request.Request(self.url + path, body, {"Content-Type": content_type} if content_type else {},
                                         method="POST" if body is not None else "GET")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, headers, data = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, data = error.code, error.headers, error.read()
        kind = headers.get("Content-Type", "")
        return status, headers, json.loads(data) if kind.startswith("application/json") else data.decode()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def at_temperature(probabilities, run_dir: Path):
    """A run's softmax probabilities at its calibration.json's temperature, as serving.json tells a client:
    p ** (1 / T), normalised (written here, not taken from dlcv, so a wrong formula there fails)."""
    temperature = json.loads((Path(run_dir) / "calibration.json").read_text())["temperature"]
    scaled = np.clip(np.asarray(probabilities, np.float64), 1e-7, 1) ** (1 / temperature)  # clipped, as said
    return scaled / scaled.sum(axis=1, keepdims=True)
