"""What every book-named script shares: ``--output`` and ``--seed`` flags, and one-line errors.

    parser = script_parser("Train a perceptron on a bitwise dataset.", default_output="output/perceptron")
    parser.add_argument("--dataset", choices=["and", "or", "xor"], default="or")
    run_script(main, parser)        # a user error -> one line on stderr, exit 2; a bug -> its traceback

A script's user errors are :class:`~dlcv.errors.DlcvError` (and :class:`~dlcv.errors.Stopped`, exit 1),
plus the exception types it names in ``user_errors`` — the NumPy reference path's
:class:`~dlcv.reference.ArgumentError` for the from-scratch chapters. Nothing else is caught.
"""
from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..cli import run_action
from ..errors import DlcvError
from ..files import ensure_writable_dir


def script_parser(description: str, default_output: str | None) -> argparse.ArgumentParser:
    """The flags every book script has: ``--seed`` and (unless ``default_output`` is None) ``--output``.
    ``description``: the script's docstring; its first paragraph is shown."""
    summary = " ".join(description.strip().split("\n\n")[0].split())
    parser = argparse.ArgumentParser(description=summary,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    if default_output is not None:
        parser.add_argument("--output", "-o", default=default_output,
                            help="folder for this script's files (plots, reports, images)")
        parser.set_defaults(output_is_folder=True)
    parser.add_argument("--seed", type=int, default=42, help="random seed, for reproducible runs")
    return parser


def run_script(main: Callable[[argparse.Namespace], object], parser: argparse.ArgumentParser,
               argv: Sequence[str] | None = None, user_errors: tuple[type[Exception], ...] = ()) -> None:
    """Parse the flags, run ``main`` and exit: 0, or 2 with one line for a user error."""
    # `script.py | head` should stop quietly, not with a BrokenPipeError traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = parser.parse_args(argv)
    name = Path(sys.argv[0]).name

    def action():
        if getattr(args, "output_is_folder", False):
            args.output = ensure_writable_dir(args.output)
        try:
            main(args)  # recipes return their results (for callers); the script's exit status is 0
        except user_errors as exc:
            raise DlcvError(str(exc)) from None

    raise SystemExit(run_action(action, name))
