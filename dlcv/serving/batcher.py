"""Request batching: images from concurrent requests grouped into one model call.

An asyncio queue stands in front of the model. The batcher takes the first waiting image, then whatever
arrives within ``max_wait_ms`` up to ``max_batch`` images, pads the batch to the next of a few fixed sizes
(1, 2, 4, ... ``max_batch``: a compiled model traces each shape once, at warm-up) and calls the model once,
in one worker thread (the event loop keeps taking requests meanwhile; a LiteRT interpreter is used by that
thread alone). At most ``max_queue`` images wait: past that, :class:`QueueFull` (the server's 503).

TF Serving (``max_batch_size``, ``batch_timeout_micros``, ``max_enqueued_batches``) and Ray Serve
(``@serve.batch``) batch so; neither fits a single dlcv process, hence this, in about a hundred lines.

    batcher = Batcher(classifier.predict_arrays, max_batch=32, max_wait_ms=5, max_queue=256)
    await batcher.start()
    probabilities = await batcher.submit(images)      # (n, H, W, C) uint8 -> (n, classes)
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


class QueueFull(Exception):
    """More images would wait than ``max_queue`` allows."""


def batch_sizes(max_batch: int) -> list[int]:
    """The sizes a batch is padded to: powers of two below ``max_batch``, and ``max_batch``.

        >>> batch_sizes(32), batch_sizes(12), batch_sizes(1)
        ([1, 2, 4, 8, 16, 32], [1, 2, 4, 8, 12], [1])
    """
    sizes, size = [], 1
    while size < max_batch:
        sizes.append(size)
        size *= 2
    return [*sizes, max_batch]


@dataclass
class _Request:
    """One request's images waiting, and where their probabilities go."""

    future: asyncio.Future
    results: list
    remaining: int

    def deliver(self, index: int, probabilities: np.ndarray) -> None:
        self.results[index] = probabilities
        self.remaining -= 1
        if self.remaining == 0 and not self.future.done():
            self.future.set_result(np.stack(self.results))

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class Batcher:
    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], max_batch: int = 32, max_wait_ms: float = 5.0,
                 max_queue: int = 256, on_batch: Callable[[int], None] | None = None) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_ms < 0:
            raise ValueError(f"max_batch {max_batch} and max_queue {max_queue} must be at least 1, max_wait_ms "
                             f"{max_wait_ms} at least 0")
        self.predict, self.max_batch, self.max_queue = predict, max_batch, max_queue
        self.max_wait = max_wait_ms / 1000
        self.sizes = batch_sizes(max_batch)
        self.on_batch = on_batch or (lambda size: None)
        self.waiting = 0
        """Images submitted and not yet answered (the queue's depth)."""
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="dlcv-model")

    def warm_up(self, image: np.ndarray) -> None:
        """Call the model once at every padded size (each compiled shape traced before the first request)."""
        for size in self.sizes:
            self.predict(np.repeat(image[None], size, axis=0))

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._thread.shutdown(wait=True)

    async def submit(self, images: np.ndarray) -> np.ndarray:
        """The class probabilities of ``images`` (n, H, W, C), once their batches have run."""
        if self.waiting + len(images) > self.max_queue:
            raise QueueFull(f"{self.waiting} images are waiting; at most {self.max_queue} may")
        request = _Request(asyncio.get_running_loop().create_future(), [None] * len(images), len(images))
        self.waiting += len(images)
        for index, image in enumerate(images):
            self._queue.put_nowait((image, request, index))
        return await request.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                if self._queue.empty():
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), left))
                    except TimeoutError:
                        break
                else:
                    batch.append(self._queue.get_nowait())
            await self._call(loop, batch)

    async def _call(self, loop: asyncio.AbstractEventLoop, batch: list) -> None:
        images = np.stack([image for image, _, _ in batch])
        size = next(size for size in self.sizes if size >= len(batch))
        if size > len(batch):  # padded with copies of the last image: one compiled shape per size
            images = np.concatenate([images, np.repeat(images[-1:], size - len(batch), axis=0)])
        try:
            probabilities = await loop.run_in_executor(self._thread, self.predict, images)
        except Exception as error:  # a model failure fails its requests, not the server
            for _, request, _ in batch:
                request.fail(error)
        else:
            self.on_batch(len(batch))
            for (_, request, index), row in zip(batch, probabilities):
                request.deliver(index, row)
        finally:
            self.waiting -= len(batch)
