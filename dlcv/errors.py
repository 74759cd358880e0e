"""The two kinds of failure a user is told about in one line; everything else is a bug with a traceback.

- :class:`DlcvError` — the user asked for something wrong (a config, a path, a flag): exit code 2.
- :class:`Stopped` — the work could not go on for a reason the user can act on (the loss became NaN, the
  disk filled up, a worker of the cluster was lost); the message says what was kept and how to go on:
  exit code 1.

The CLI and every script turn exactly these into one line (:func:`dlcv.cli.run_action`). A ``ValueError`` or
``OSError`` raised anywhere else is not caught: it is a bug (or a fault no one line can explain) and keeps
its traceback.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

EXIT_USAGE = 2
EXIT_STOPPED = 1
EXIT_PREEMPTED = 143


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'X'?)`` where one of ``choices`` is close to ``word`` (a typo), else nothing.

    >>> did_you_mean("epoch", ["epochs", "seed"]), did_you_mean("colour", ["epochs"])
    (" (did you mean 'epochs'?)", '')
    """
    close = difflib.get_close_matches(str(word), [str(choice) for choice in choices], n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


class DlcvError(Exception):
    """A problem with the user's input: a config, a path, a file, a flag."""


class ConfigError(DlcvError):
    """An experiment config that does not match the schema or its rules."""


class Stopped(Exception):
    """Work stopped part-way for a reason the user can fix; the message says what was kept."""


class TrainingStopped(Stopped):
    """Training could not go on (the loss became NaN, a worker was lost)."""


class WriteFailed(Stopped):
    """An output could not be written: no space left, a read-only file system, a lost permission."""


class Preempted(Exception):
    """Training stopped at SIGTERM after the step in progress, its point checkpointed: one line and exit
    code 143 (128 + SIGTERM, as a process the signal ended). Not a :class:`Stopped`: a search does not
    count it as its trial's failure and go on, it stops too."""


class ExportFailed(Stopped):
    """An export did not reproduce the Keras model's predictions in its own runtime; it was removed."""
