"""The HTTP API of ``dlcv serve``, as a FastAPI app around one classifier and its batcher (imports FastAPI:
loaded by ``dlcv serve`` alone).

- ``POST /v1/predict``: images as multipart files (field ``images``, one or many), one raw image body
  (``Content-Type: image/...``) or JSON ``{"images": ["<base64>", ...]}``; ``?top=K``. Each image is decoded
  as training decoded its files (:meth:`dlcv.inference.Classifier.decode_upload`) and answered with the
  task's prediction record and every class's probability, in request order.
- ``GET /healthz`` (alive), ``/readyz`` (warmed up, not draining), ``/metadata`` (the serving spec),
  ``/metrics`` (Prometheus).

Errors are JSON, ``{"error": {"code", "message", "index"}}``: 400 malformed, 404 / 405 a path or method the
API has not (the message names those it has), 413 body too large, 415 content type, 422 an image that cannot
be decoded or is over the pixel limit (``index``: which image), 503 the queue is full (with ``Retry-After``).
The server goes on after each.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..images import UnreadableImage
from .batcher import Batcher, QueueFull

RETRY_AFTER_SECONDS = 1
IMAGE_FIELD = "images"
PREDICT_PATH = "/v1/predict"
GET_PATHS = ("/healthz", "/readyz", "/metadata", "/metrics")


@dataclass
class ServingState:
    """What the app serves, and whether it takes requests."""

    classifier: Any
    batcher: Batcher
    spec: dict[str, Any]
    max_body: int
    pixel_limit: int | None
    ready: bool = False
    metrics: Any = field(default=None)


class HttpError(Exception):
    def __init__(self, status: int, message: str, index: int | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.index, self.headers = status, message, index, headers or {}


class Metrics:
    """``/metrics``: requests by status code, request seconds, batch sizes, queue depth, errors by kind."""

    def __init__(self, batcher: Batcher) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("dlcv_requests_total", "Requests answered, by HTTP status", ["code"],
                                registry=self.registry)
        self.seconds = Histogram("dlcv_request_seconds", "Seconds from a request's arrival to its answer",
                                 registry=self.registry)
        self.batch_size = Histogram("dlcv_batch_size", "Images per model call",
                                    buckets=[1, 2, 4, 8, 16, 32, 64, 128, 256], registry=self.registry)
        self.errors = Counter("dlcv_errors_total", "Requests refused or failed, by kind", ["kind"],
                              registry=self.registry)
        depth = Gauge("dlcv_queue_depth", "Images waiting for the model", registry=self.registry)
        depth.set_function(lambda: batcher.waiting)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def create_app(state: ServingState):
    """The FastAPI app serving ``state`` (its batcher started and stopped with the app)."""
    import contextlib

    state.metrics = state.metrics or Metrics(state.batcher)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await state.batcher.start()
        yield
        await state.batcher.stop()

    app = FastAPI(title="dlcv serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(HttpError)
    async def refused(request: Request, error: HttpError):
        state.metrics.errors.labels(kind=_KINDS.get(error.status, "other")).inc()
        body = {"error": {"code": error.status, "message": error.message, "index": error.index}}
        return JSONResponse(body, status_code=error.status, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def elsewhere(request: Request, error: StarletteHTTPException):
        """A path or method the API does not have: dlcv's error body, naming the ones it has (FastAPI's own
        says only "Not Found")."""
        if error.status_code not in (404, 405):
            return JSONResponse({"error": {"code": error.status_code, "message": str(error.detail), "index": None}},
                                status_code=error.status_code)
        asked = f"{request.method} {request.url.path[:200]}"
        message = f"no {asked}; expected POST {PREDICT_PATH}, or GET {', '.join(GET_PATHS)}"
        return JSONResponse({"error": {"code": error.status_code, "message": message, "index": None}},
                            status_code=error.status_code)

    @app.middleware("http")
    async def count(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        if request.url.path == PREDICT_PATH:
            state.metrics.requests.labels(code=str(response.status_code)).inc()
            state.metrics.seconds.observe(time.perf_counter() - started)
        return response

    @app.post(PREDICT_PATH)
    async def predict(request: Request, top: int = 1):
        if not 1 <= top <= len(state.classifier.class_names):
            raise HttpError(400, f"top={top}: expected 1 to {len(state.classifier.class_names)}")
        named = await _uploads(request, state.max_body)
        loop = asyncio.get_running_loop()
        images = await asyncio.gather(*(loop.run_in_executor(None, _decode, state, data, name, index)
                                        for index, (name, data) in enumerate(named)), return_exceptions=True)
        for image in images:
            if isinstance(image, BaseException):
                raise image
        try:
            probabilities = await state.batcher.submit(np.stack(images))
        except QueueFull as full:
            raise HttpError(503, f"busy: {full}; retry later", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) \
                from None
        names = state.classifier.task.class_names
        records = []
        for prediction, row in zip(state.classifier.records([name for name, _ in named], np.stack(images),
                                                            probabilities, top), probabilities):
            record = prediction.to_json()
            record.setdefault("probabilities", {n: round(float(p), 6) for n, p in zip(names, row)})
            records.append(record)
        return {"predictions": records}

    @app.get("/healthz")
    async def healthz():
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz():
        if not state.ready:
            return JSONResponse({"status": "not ready"}, status_code=503)
        return {"status": "ready"}

    @app.get("/metadata")
    async def metadata():
        return state.spec

    @app.get("/metrics")
    async def metrics():
        body, content_type = state.metrics.render()
        return Response(body, media_type=content_type)

    return app


_KINDS = {400: "malformed", 413: "too_large", 415: "content_type", 422: "image", 503: "busy"}


async def _uploads(request, max_body: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of each image a request carries, its body read up to ``max_body`` bytes."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("multipart/form-data", "application/json") and not kind.startswith("image/"):
        raise HttpError(415, f"content type {kind or '(none)'!r}; expected multipart/form-data (field "
                             f"{IMAGE_FIELD!r}), an image/* body or application/json")
    body = await _body(request, max_body)
    if kind.startswith("image/"):
        return [("0", body)]
    if kind == "application/json":
        return _from_json(body)
    return await _from_form(request, body)


async def _body(request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpError(413, f"the body is {int(declared):,} bytes; at most {limit:,} (--max-body-mb)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpError(413, f"the body is over {limit:,} bytes (--max-body-mb)")
        chunks.append(chunk)
    return b"".join(chunks)


def _from_json(body: bytes) -> list[tuple[str, bytes]]:
    try:
        images = json.loads(body)["images"]
    except (ValueError, KeyError, TypeError):
        raise HttpError(400, 'expected a JSON object {"images": ["<base64>", ...]}') from None
    if not isinstance(images, list) or not images or not all(isinstance(image, str) for image in images):
        raise HttpError(400, '"images": expected a non-empty list of base64 strings')
    named = []
    for index, text in enumerate(images):
        try:
            named.append((str(index), base64.b64decode(text, validate=True)))
        except (binascii.Error, ValueError):
            raise HttpError(400, f"images[{index}]: not base64", index) from None
    return named


async def _from_form(request, body: bytes) -> list[tuple[str, bytes]]:
    from starlette.datastructures import UploadFile
    from starlette.requests import Request

    async def replay():  # the body is read already (and its size checked): the form parser reads it again
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form()
    except Exception as error:  # python-multipart's errors have no common base worth naming
        raise HttpError(400, f"malformed multipart body ({type(error).__name__})") from None
    files = [item for item in form.getlist(IMAGE_FIELD) if isinstance(item, UploadFile)]
    if not files:
        raise HttpError(400, f"no files in the multipart field {IMAGE_FIELD!r}")
    return [(item.filename or str(index), await item.read()) for index, item in enumerate(files)]


def _decode(state: ServingState, data: bytes, name: str, index: int) -> np.ndarray:
    classifier = state.classifier
    try:
        image = classifier.decode_upload(data, name, state.pixel_limit)
    except UnreadableImage as error:
        raise HttpError(422, str(error), index) from None
    if image.shape != tuple(classifier.input_size):
        raise HttpError(422, f"image {name!r} is {'x'.join(map(str, image.shape))}; the model takes "
                             f"{'x'.join(map(str, classifier.input_size))} (a bare model file resizes nothing)", index)
    return image
