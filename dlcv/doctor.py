"""``dlcv doctor``: what to check first on a new machine or in a container, one line each.

    $ dlcv doctor configs/minivggnet_cifar10.yaml --set distribution=mirrored
    ✓ Python 3.11.7
    ✓ dlcv 0.1.0, Keras 3.15.1, backend tensorflow
    ✓ TensorFlow 2.21.0 (built with CUDA 12.5.1, cuDNN 9)
    ✗ TensorFlow sees no GPU — needed: distribution: mirrored trains on every GPU of this machine
    ...

Each check is a :class:`Check`: a mark, what was found, and whether the config given needs it. The
exit status is 1 when a needed check failed (say, no GPU for ``distribution: mirrored``, an output
folder this user cannot write), 0 otherwise; optional things that are missing (Graphviz, the export
runtimes) are shown with ✗ but do not fail.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import ExperimentConfig


@dataclass(frozen=True)
class Check:
    ok: bool
    found: str
    needed_for: str | None = None
    """Why the config needs it (None: optional, or informational)."""

    @property
    def failed(self) -> bool:
        return not self.ok and self.needed_for is not None

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        why = f" — needed: {self.needed_for}" if self.failed else ("" if self.ok or self.needed_for else " (optional)")
        return f"{mark} {self.found}{why}"


def diagnose(config: ExperimentConfig, backend: str) -> Iterator[Check]:
    """Every check, in the order a user reads them; imports what is installed, never what is not."""
    yield _python()
    yield _keras(backend)
    if _installed("tensorflow"):
        yield from _tensorflow(config, backend)
    else:
        yield Check(False, "TensorFlow is not installed", _needed_as_backend(backend, "tensorflow"))
    if _installed("jax"):
        yield from _jax(config, backend)
    else:
        yield Check(False, "JAX is not installed", _needed_as_backend(backend, "jax"))
    yield _graphviz()
    yield _export_runtimes()
    if config.callbacks.tensorboard:
        yield Check(_installed("tensorboard"), "tensorboard " + ("installed" if _installed("tensorboard")
                                                                 else "is not installed"),
                    "callbacks.tensorboard: true")
    yield from _weights(config)
    yield _writable(Path(config.output_dir))
    yield _disk(Path(config.output_dir))
    yield _memory()


def _python() -> Check:
    version = platform.python_version()
    return Check(sys.version_info >= (3, 10), f"Python {version} ({sys.executable})", "dlcv runs on Python 3.10+")


def _keras(backend: str) -> Check:
    from . import __version__

    if not _installed("keras"):
        return Check(False, "Keras is not installed", "every command (pip install keras)")
    return Check(True, f"dlcv {__version__}, Keras {importlib.metadata.version('keras')}, backend {backend}")


def _tensorflow(config: ExperimentConfig, backend: str) -> Iterator[Check]:
    from .runtime import native_stderr_silenced

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced(enabled=True):  # TensorFlow's CUDA probe talks on stderr when it starts
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    info = tf.sysconfig.get_build_info()
    built = (f"built with CUDA {info['cuda_version']}, cuDNN {info['cudnn_version']}" if info.get("is_cuda_build")
             else "a CPU-only build")
    yield Check(True, f"TensorFlow {tf.__version__} ({built})")
    needs_gpu = "distribution: mirrored trains on every GPU of this machine" if (
        config.distribution == "mirrored") else None
    if gpus:
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
        yield Check(True, f"TensorFlow sees {len(gpus)} GPU(s): {', '.join(names)}")
    else:
        yield Check(False, "TensorFlow sees no GPU (training runs on the CPU)", needs_gpu)
    for device in tf.config.list_logical_devices():
        yield _compiles(f"XLA compiles on TensorFlow's {device.name}", lambda d=device.name: _tf_xla(tf, d),
                        "backend tensorflow" if backend == "tensorflow" else None)


def _tf_xla(tf, device: str) -> None:
    with tf.device(device):
        result = tf.function(lambda x: x * 2.0 + 1.0, jit_compile=True)(tf.ones(4))
    assert float(result[0]) == 3.0


def _jax(config: ExperimentConfig, backend: str) -> Iterator[Check]:
    import jax

    yield Check(True, f"JAX {jax.__version__} (jaxlib {importlib.metadata.version('jaxlib')})")
    accelerators = [d for d in jax.devices() if d.platform != "cpu"]
    needs = ("distribution: data_parallel spreads batches over JAX's devices"
             if config.distribution == "data_parallel" and backend == "jax" else None)
    if accelerators:
        described = ", ".join(f"{d.device_kind}{_jax_memory(d)}" for d in accelerators)
        yield Check(True, f"JAX sees {len(accelerators)} accelerator(s): {described}")
    else:
        yield Check(False, "JAX sees no GPU (only the CPU)", needs)
    for device in jax.devices():
        yield _compiles(f"XLA compiles on JAX's {device.platform}:{device.id}", lambda d=device: _jax_xla(jax, d),
                        "backend jax" if backend == "jax" else None)


def _jax_memory(device) -> str:
    try:
        limit = (device.memory_stats() or {}).get("bytes_limit")
    except Exception:  # not every platform reports memory
        limit = None
    return f" ({limit / 2**30:.1f} GiB)" if limit else ""


def _jax_xla(jax, device) -> None:
    import jax.numpy as jnp

    result = jax.jit(lambda x: x * 2.0 + 1.0)(jax.device_put(jnp.ones(4), device))
    assert float(result[0]) == 3.0


def _compiles(what: str, run: Callable[[], None], needed_for: str | None) -> Check:
    try:
        run()
    except Exception as exc:  # any failure to compile is what this check reports
        return Check(False, f"{what}: failed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})", needed_for)
    return Check(True, what)


def _graphviz() -> Check:
    dot = shutil.which("dot")
    if not _installed("pydot") or dot is None:
        missing = " and ".join(name for name, ok in (("pydot", _installed("pydot")), ("Graphviz", dot)) if not ok)
        return Check(False, f"architecture diagrams: {missing} not installed (model_summary.txt is written instead)")
    version = subprocess.run([dot, "-V"], capture_output=True, text=True).stderr.strip()
    return Check(True, f"architecture diagrams: pydot {importlib.metadata.version('pydot')}, {version}")


def _export_runtimes() -> Check:
    from .export.formats import FORMATS

    missing = sorted({package for fmt in FORMATS.values() for package in fmt.missing()})
    if missing:
        return Check(False, f"dlcv export: {', '.join(missing)} not installed (pip install 'dlcv[export]')")
    return Check(True, f"dlcv export: {', '.join(FORMATS)} (tf2onnx, onnxruntime, ai-edge-litert installed)")


def _weights(config: ExperimentConfig) -> Iterator[Check]:
    """The ImageNet weights file the config's backbone loads: in Keras's cache, or where to get it."""
    from .models.backbones import needed_weights
    from .models.weights import keras_cache

    for file in needed_weights(config):
        path = keras_cache() / file.name
        found = path.is_file()
        yield Check(found, f"ImageNet weights {file.name} " + (f"in {keras_cache()}/" if found else
                    f"not in {keras_cache()}/ (dlcv weights fetch {config.model.name})"),
                    None if found else f"{config.model.name} with weights: imagenet (downloaded on first use "
                    "where there is network)")


def _writable(folder: Path) -> Check:
    from .errors import DlcvError
    from .files import ensure_writable_dir

    try:
        ensure_writable_dir(folder)
    except DlcvError as exc:
        return Check(False, str(exc), "every run writes there (output_dir)")
    return Check(True, f"output folder {str(folder)!r} is writable (uid {os.getuid()})")


def _disk(folder: Path) -> Check:
    probe = folder if folder.exists() else Path.cwd()
    free = shutil.disk_usage(probe).free
    return Check(free >= 2**30, f"{free / 2**30:.1f} GiB free on the disk of {str(folder)!r}",
                 "runs, checkpoints and caches need space (at least 1 GiB)")


def _memory() -> Check:
    available = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        return Check(True, "available memory: unknown on this system")
    return Check(available >= 2**30, f"{available / 2**30:.1f} GiB of memory available",
                 "training needs at least 1 GiB")


def _needed_as_backend(backend: str, package: str) -> str | None:
    return f"backend {backend}" if backend == package else None


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
