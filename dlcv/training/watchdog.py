"""A deadline for work that holds the GIL in C++ (TensorFlow waiting for a cluster to form).

    with deadline(300, "the workers did not all join within 300 s; ..."):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()   # may wait for ever
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def deadline(seconds: float, message: str) -> Iterator[None]:
    """End the process with ``message`` (one line on stderr, exit 1) unless the block finishes in time.

    TensorFlow waits for the cluster inside C++ holding the GIL, so no Python thread or signal handler
    can run meanwhile: a small watcher process writes the line, and ``faulthandler`` (a C thread, which
    needs no GIL) ends this process a moment later with exit code 1.
    """
    watcher = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(float(sys.argv[1])); "
                                "sys.stderr.write(sys.argv[2] + '\\n')", str(seconds), f"dlcv: {message}"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    sink = open(os.devnull, "w")
    faulthandler.dump_traceback_later(seconds + 2, exit=True, file=sink)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        sink.close()
        watcher.kill()
        watcher.wait()
