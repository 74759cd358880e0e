"""How the fast route (:mod:`.compiled`) runs an epoch: in windows of batches, each one compiled call.

    Windows(window=None, resident=True)        # the whole epoch one window, the training set on the device
    Windows(resident=False, window_bytes=2**24) # windows of at most 16 MiB of images, fed from the host
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Windows:
    jit_compile: bool | str = "auto"
    """True, False or "auto" (:func:`~.compiled.use_xla`)."""
    steps: int | None = None
    """The run's training batches, every epoch's (None: a long run): on a CPU, ``auto`` compiles with XLA
    only where the run repays the compile."""
    window: int | None = None
    """Batches per compiled window (None: automatic — the whole epoch for resident data, fewer with a
    progress bar; for host-fed data as many as ``window_bytes`` allows)."""
    resident: bool = True
    """The training set put on the device once (it must be held in memory), else fed window by window."""
    loop: str = "scan"
    """JAX: each window one ``lax.scan``, or ``"step"``: one jitted step per batch."""
    window_bytes: int | None = None
    """At most this many bytes of images in one host-fed window."""
    progress: bool | None = None
    """A progress bar (None: in a terminal)."""
