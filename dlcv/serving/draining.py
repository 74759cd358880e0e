"""uvicorn's server with dlcv's signals (imports uvicorn: loaded by ``dlcv serve`` alone).

SIGTERM or Ctrl+C: readiness goes false at once (a load balancer stops sending), then uvicorn's own
graceful shutdown (the listener closes, the requests in flight finish, ``--drain-s`` at most), and the
process exits 0. uvicorn's handler would raise the signal again once shut down (exit -15).
"""
from __future__ import annotations

import contextlib
import signal

import uvicorn


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state) -> None:
        super().__init__(config)
        self.state = state

    @contextlib.contextmanager
    def capture_signals(self):
        original = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def _stop(self, sig, frame) -> None:
        self.state.ready = False
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl+C: stop without waiting
        self.should_exit = True

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        self.state.ready = not self.should_exit
