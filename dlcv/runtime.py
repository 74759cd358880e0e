"""Starting Keras: choosing the backend, silencing TensorFlow's start-up noise, and the banner.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so the backend must be chosen before
anything imports Keras. Precedence: an explicit choice (``--backend``, then the config's ``backend``),
then ``$KERAS_BACKEND``, then TensorFlow. :func:`start_keras` is the one place every command starts it.

    backend = resolve_backend(args.backend, config.backend)   # a name; imports nothing
    keras = start_keras(backend)                               # prints the banner
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from types import ModuleType

from .errors import DlcvError

log = logging.getLogger(__name__)

DEFAULT_BACKEND = "tensorflow"


def resolve_backend(*requested: str | None) -> str:
    """The first backend named (``--backend``, then the config's), else $KERAS_BACKEND, else TensorFlow;
    in a process where Keras already runs, its backend. Imports nothing."""
    for choice in requested:
        if choice:
            return choice
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND


def start_keras(backend: str | None = None, verbose: bool = False, quiet: bool = False) -> ModuleType:
    """Select ``backend``, import Keras with the start-up logging off, and print the one-line banner."""
    use_backend(backend)
    keras = import_keras(verbose=verbose)
    if not quiet:
        log.info(banner())
    return keras


def use_backend(requested: str | None) -> str:
    """Select the Keras backend for this process and return its name."""
    backend = requested or os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND
    if "keras" in sys.modules:
        active = sys.modules["keras"].backend.backend()
        if active != backend:
            raise DlcvError(f"backend {backend!r} requested but Keras is already running on {active!r} "
                            "in this process; start a new process (or set KERAS_BACKEND)")
        return backend
    os.environ["KERAS_BACKEND"] = backend
    return backend


def import_keras(verbose: bool = False) -> ModuleType:
    """Import Keras (and its backend) with the C++ start-up logging off unless ``verbose``."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    if "keras" not in sys.modules:
        with native_stderr_silenced(enabled=not verbose):
            import keras
            if keras.backend.backend() == "tensorflow":
                import tensorflow  # noqa: F401  (loads the CUDA stubs while stderr is still redirected)
    if not verbose:  # also where Keras was imported before (by MLflow's Keras flavour, say)
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)  # e.g. the "HDF5 is legacy" notice on every save
        # TensorFlow's own Python warnings, e.g. "5 out of the last 8 calls ... triggered tf.function retracing"
        # when a k-fold run or a search builds its next model: each run compiles its own step by design
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return sys.modules["keras"]


def seed_everything(seed: int, verbose: bool = False) -> None:
    """``keras.utils.set_random_seed`` (Python, NumPy, the backend, and TensorFlow when installed, which
    it imports even under JAX: its native start-up noise is hidden as in :func:`import_keras`)."""
    keras = sys.modules["keras"]
    with native_stderr_silenced(enabled=not verbose and "tensorflow" not in sys.modules):
        keras.utils.set_random_seed(seed)


@contextlib.contextmanager
def native_stderr_captured(replay: Callable[[BaseException | None], bool]) -> Iterator[None]:
    """Send file descriptor 2 (what native code writes: TensorFlow's C++ logs) to a temp file for the
    block; afterwards write it out where ``replay(exception or None)`` says so, else drop it."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        raised: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            raised = exc
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if replay(raised):
                captured.seek(0)
                sys.stderr.write(captured.read().decode(errors="replace"))
                sys.stderr.flush()


def native_stderr_silenced(enabled: bool) -> contextlib.AbstractContextManager:
    """Drop what native code writes to stderr in the block (TensorFlow's CUDA probe writes before absl
    logging is initialised, so TF_CPP_MIN_LOG_LEVEL cannot hide it); replay it if the block fails, so
    that no real error is lost."""
    if not enabled:
        return contextlib.nullcontext()
    return native_stderr_captured(replay=lambda exc: exc is not None)


def has_accelerator() -> bool:
    """Whether the active backend computes on a GPU or TPU (else the CPU is the device): the one place the
    trainer asks (routes, windows, XLA)."""
    backend = sys.modules["keras"].backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(device.platform != "cpu" for device in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def devices() -> list[str]:
    """Accelerators visible to the active backend, by name; empty on a CPU-only machine."""
    keras = sys.modules["keras"]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    if backend == "jax":
        import jax

        return [str(d.device_kind) for d in jax.devices() if d.platform != "cpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def banner() -> str:
    """One line: dlcv and Keras versions, backend (and its version), devices, precision policy."""
    from . import __version__

    keras = sys.modules["keras"]
    backend = keras.backend.backend()
    version = getattr(sys.modules.get(backend), "__version__", "?")  # each backend's package has its name
    found = devices()
    where = ", ".join(found) if found else "CPU only"
    policy = keras.config.dtype_policy().name
    return (f"dlcv {__version__} | Keras {keras.__version__} | backend {backend} {version} | "
            f"devices: {where} | precision: {policy}")
