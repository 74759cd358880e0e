"""``dlcv serve``: one process, one model, one batcher, behind uvicorn.

Everything that can fail at start fails before the port is listened on, in one line: the model (a run
folder, its model file, a k-fold run's folder, or an export: SavedModel, ONNX, LiteRT), the optional
packages, the port. The model is then warmed up at every padded batch size, and ``/readyz`` turns ready.

SIGTERM (and Ctrl+C) is dlcv's: readiness goes false at once (a load balancer stops sending), the
listener closes, the requests in flight finish, and the process exits 0; uvicorn's own handler would
re-raise the signal after its shutdown (exit -15), and gives a load balancer no not-ready window.

    serve("output/quickstart", port=8000)          # blocks until SIGTERM
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.util
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from ..errors import DlcvError

log = logging.getLogger(__name__)

PACKAGES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "multipart": "python-multipart",
            "prometheus_client": "prometheus-client"}
"""The ``serve`` extra: import name -> package."""


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_queue: int = 256
    max_body_mb: float = 20.0
    max_pixels: int | None = None
    drain_s: float = 25.0
    reject: bool = True
    """The run's reject rule applies (``--no-reject``: every image its top label)."""

    def __post_init__(self) -> None:
        for name, low in (("max_batch", 1), ("max_queue", 1), ("max_body_mb", 0.001), ("drain_s", 0)):
            if getattr(self, name) < low:
                raise DlcvError(f"--{name.replace('_', '-')} {getattr(self, name)}: expected at least {low}")
        if self.max_wait_ms < 0 or not 0 <= self.port <= 65535:
            raise DlcvError(f"--max-wait-ms {self.max_wait_ms} / --port {self.port}: expected a wait of at least 0 "
                            "and a port from 0 to 65535")
        if self.max_queue < self.max_batch:
            raise DlcvError(f"--max-queue {self.max_queue}: expected at least --max-batch ({self.max_batch})")


def check_serve_packages() -> None:
    missing = [package for module, package in PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise DlcvError(f"dlcv serve needs {', '.join(missing)} (pip install 'dlcv[serve]')")


def model_path_of(target: str | Path) -> Path:
    """The model ``dlcv serve TARGET`` loads: a run folder's model file, a k-fold run's folder, a model file,
    or an export (a SavedModel folder, .onnx, .tflite; an export folder's one model)."""
    from ..export.formats import FORMATS, SPEC_NAME, find_format
    from ..folds import is_parent
    from ..runs import model_file_of

    path = Path(target)
    if not path.exists():
        raise DlcvError(f"model not found: {str(path)!r}; expected a run folder, a model file or an export")
    if find_format(path) is not None or (path.is_dir() and is_parent(path)):
        return path
    if path.is_dir() and (path / SPEC_NAME).is_file():  # an export folder: the one model it holds
        found = [path / fmt.filename for fmt in FORMATS.values() if (path / fmt.filename).exists()]
        if not found:
            raise DlcvError(f"{str(path)!r} holds {SPEC_NAME} but no model of a known format "
                            f"({', '.join(fmt.filename for fmt in FORMATS.values())})")
        return found[0]
    return model_file_of(path)


def bind(host: str, port: int) -> socket.socket:
    """The server's socket, bound now (a port in use is one line, before anything is loaded or served)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, a keep-alive client waits ~40 ms a response (Nagle's
    # algorithm against the client's delayed ACK; measured: 42 ms a request with http.client, 1.3 ms with it)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        why = "in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
        raise DlcvError(f"--host {host} --port {port}: cannot listen there ({why}); expected a free port") from None
    return sock


def serve(target: str | Path, settings: ServeSettings = ServeSettings(), backend: str | None = None,
          verbose: bool = False) -> None:
    """Serve ``target`` until SIGTERM or Ctrl+C."""
    check_serve_packages()
    path = model_path_of(target)
    sock = bind(settings.host, settings.port)  # a port in use: said before the model loads
    try:
        classifier = _load(path, backend, verbose)
        classifier = classifier if settings.reject else classifier.without_reject()
        sock.listen(2048)
        _run(classifier, path, settings, sock)
    finally:
        sock.close()


def _load(path: Path, backend: str | None, verbose: bool):
    from ..export.formats import find_format
    from ..inference import load_classifier
    from ..runtime import start_keras

    exported = find_format(path)
    if exported is None:
        start_keras(backend, verbose, quiet=True)
    elif exported.missing(to_run=True):
        missing = exported.missing(to_run=True)
        raise DlcvError(f"{str(path)!r} is a {exported.name} export; its runtime needs {', '.join(missing)} "
                        f"(pip install {' '.join(missing)})")
    return load_classifier(path)


def _run(classifier, path: Path, settings: ServeSettings, sock: socket.socket) -> None:
    import numpy as np
    import uvicorn

    from ..export.formats import spec_of
    from ..images import max_pixels
    from .batcher import Batcher
    from .draining import DrainingServer
    from .http import GET_PATHS, PREDICT_PATH, Metrics, ServingState, create_app

    metrics: list = []
    batcher = Batcher(classifier.predict_arrays, settings.max_batch, settings.max_wait_ms, settings.max_queue,
                      on_batch=lambda size: metrics[0].batch_size.observe(size))
    spec = {**spec_of(classifier, {}), "model": {"path": path.name, "sha256": _sha256(path)}}
    state = ServingState(classifier, batcher, spec, int(settings.max_body_mb * 2**20),
                         max_pixels(settings.max_pixels or _run_pixel_limit(path)))
    state.metrics = Metrics(batcher)
    metrics.append(state.metrics)
    batcher.warm_up(np.zeros(classifier.input_size, np.uint8))
    config = uvicorn.Config(create_app(state), log_level="warning", timeout_graceful_shutdown=settings.drain_s,
                            access_log=False, lifespan="on")
    server = DrainingServer(config, state)
    host, port = sock.getsockname()[:2]
    log.info(f"serving {path} on http://{host}:{port}: POST images to {PREDICT_PATH} (max batch {settings.max_batch}, "
             f"max wait {settings.max_wait_ms:g} ms, max queue {settings.max_queue}); GET {', '.join(GET_PATHS)}; "
             "SIGTERM drains and stops")
    server.run(sockets=[sock])
    log.info("stopped: the requests in flight were answered")


def _run_pixel_limit(path: Path) -> int | None:
    """The run's ``dataset.max_pixels``, where the model comes from a run folder that sets it."""
    from ..runs import RunFolder

    folder = RunFolder(path if path.is_dir() else path.parent)
    with contextlib.suppress(DlcvError):
        config = folder.saved_config()
        return config.dataset.max_pixels if config is not None else None
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        with open(file, "rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
