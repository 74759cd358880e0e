"""What every book-named script shares: ``--output`` and ``--seed`` flags, and one-line errors.

    parser = script_parser("Train a perceptron on a bitwise dataset.", default_output="output/perceptron")
    parser.add_argument("--dataset", choices=["and", "or", "xor"], default="or")
    run_script(main, parser)        # bad input -> one line on stderr, exit 2
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Callable

from ..errors import DlcvError, TrainingStopped
from ..files import ensure_writable_dir

EXIT_USAGE = 2


def script_parser(description: str, default_output: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--output", "-o", default=default_output,
                        help="folder for this script's files (plots, reports, images)")
    parser.add_argument("--seed", type=int, default=42, help="random seed, for reproducible runs")
    parser.set_defaults(output_is_folder=True)
    return parser


def run_script(main: Callable[[argparse.Namespace], object], parser: argparse.ArgumentParser,
               argv: list[str] | None = None) -> None:
    # `script.py | head` should stop quietly, not with a BrokenPipeError traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = parser.parse_args(argv)
    name = Path(sys.argv[0]).name
    try:
        if getattr(args, "output_is_folder", False):
            args.output = ensure_writable_dir(args.output)
        main(args)  # recipes return their results (for callers); the script's exit status is 0
        code = 0
    except (DlcvError, ValueError) as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        code = EXIT_USAGE
    except TrainingStopped as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        code = 1
    raise SystemExit(code)

