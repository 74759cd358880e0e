"""The library logs; the command line prints. Every dlcv module reports through a logger under ``dlcv``
(as timm's ``train.py`` does); nothing reaches the screen unless logging is configured. The ``dlcv``
command and the book's scripts attach :class:`ConsoleHandler` for the duration of a command, which prints
each record as the plain line it has always been: information on standard output (on standard error
where standard output is the command's product, as for ``dlcv predict``), warnings on standard error as
``dlcv: warning: ...``.

    import logging
    logging.basicConfig(level=logging.INFO)        # a notebook or a service: see dlcv's lines
    with console():                                # or print them as the dlcv command does
        ...

A record logged with ``extra=TO_STDERR`` goes to standard error even at INFO (progress lines, which
must not mix with a command's product). What is printed is :func:`printable`: a class or file name with
terminal escape codes in it (a label table's cell) cannot recolour the terminal or set its title.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import unicodedata
from collections.abc import Iterator

LOGGER_NAME = "dlcv"
TO_STDERR = {"dlcv_stderr": True}
"""``extra=`` of a record that belongs on standard error (progress), not standard output."""


def escape_character(char: str) -> str:
    r"""One character as Python writes it in a string literal (``\x1b``, ``\u202e``)."""
    return repr(char)[1:-1] if ord(char) < 0x10000 else f"\\U{ord(char):08x}"


def printable(text: str) -> str:
    r"""``text`` with every control or format character (ANSI and OSC escapes, bidi overrides) but line
    breaks and tabs written as an escape; printable text unchanged.

        >>> printable("cats\x1b]0;owned\x07 and dogs\n")
        'cats\\x1b]0;owned\\x07 and dogs\n'
    """
    return "".join(char if char in "\n\t" or unicodedata.category(char)[0] != "C" else escape_character(char)
                   for char in text)


class ConsoleHandler(logging.Handler):
    """Information as plain lines on standard output (or ``info_stream``), warnings and errors on standard
    error prefixed ``dlcv: warning:``. The streams are looked up when a record comes, so a redirected
    ``sys.stdout`` (pytest's capture, ``contextlib.redirect_stdout``) gets it."""

    def __init__(self, info_to_stderr: bool = False) -> None:
        super().__init__(logging.INFO)
        self.info_to_stderr = info_to_stderr

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = printable(record.getMessage())
            if record.levelno >= logging.WARNING:
                stream, message = sys.stderr, f"dlcv: warning: {message}"
            elif self.info_to_stderr or getattr(record, "dlcv_stderr", False):
                stream = sys.stderr
            else:
                stream = sys.stdout
            stream.write(message + "\n")
            stream.flush()
        except Exception:  # logging's contract: a broken stream must not break the program
            self.handleError(record)


@contextlib.contextmanager
def console(info_to_stderr: bool = False) -> Iterator[ConsoleHandler]:
    """Print dlcv's records for the block as the command line does (restored afterwards)."""
    logger = logging.getLogger(LOGGER_NAME)
    handler = ConsoleHandler(info_to_stderr)
    previous, propagated = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # Ours alone: absl (through Keras's HDF5 warning) calls logging.basicConfig() mid-run, and a root
    # handler would print every line a second time.
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        logger.propagate = propagated


def shown(level: int = logging.INFO) -> bool:
    """Whether a record of ``level`` from dlcv reaches any handler that shows it (a console attached, or
    logging configured): a terminal progress bar is drawn only then."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.isEnabledFor(level):
        return False
    current: logging.Logger | None = logger
    while current is not None:
        if any(not isinstance(handler, logging.NullHandler) and handler.level <= level
               for handler in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False
