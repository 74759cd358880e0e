"""Errors that mean "the user asked for something wrong" rather than "dlcv has a bug".

The CLI turns any :class:`DlcvError` into one line on stderr and exit code 2; anything else is a bug
and keeps its traceback.
"""


class DlcvError(ValueError):
    """A problem with the user's input: a config, a path, a file, a flag."""


class ConfigError(DlcvError):
    """An experiment config that does not match the schema."""


class TrainingStopped(Exception):
    """Training could not go on (the loss became NaN); the message says what was kept."""
