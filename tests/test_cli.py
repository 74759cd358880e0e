"""The command line offers what the library has: each choice list is the library's own (dlcv.cli)."""
from __future__ import annotations

import argparse


def choices(parser: argparse.ArgumentParser, *path: str) -> dict[str, list]:
    """``{option: choices}`` of the subcommand at ``path`` (e.g. "data", "build")."""
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return {a.option_strings[-1] if a.option_strings else a.dest: list(a.choices)
            for a in parser._actions if a.choices is not None and not isinstance(a, argparse._SubParsersAction)}


def test_the_commands_choices_are_the_librarys():
    from dlcv.casestudies.pretrained import NETWORKS
    from dlcv.cli import build_parser
    from dlcv.config import BACKENDS, DatasetConfig, PreprocessingConfig, choices_of
    from dlcv.data.audit import AUDIT_FORMATS
    from dlcv.export.formats import FORMATS
    from dlcv.predictions import WRITERS
    from dlcv.run_table import TABLE_FORMATS
    from dlcv.tta import TTA_MODES

    parser = build_parser()
    assert choices(parser, "predict") == {"--backend": list(BACKENDS), "--format": list(WRITERS),
                                          "--tta": list(TTA_MODES)}
    assert choices(parser, "export")["--format"] == list(FORMATS)
    assert choices(parser, "runs")["--format"] == list(TABLE_FORMATS)
    classify = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["classify"]
    network = next(a for a in classify._actions if "--network" in a.option_strings)
    assert [part.split(" (")[0] for part in network.help.split(", ")] == list(NETWORKS)
    assert choices(parser, "data", "build") == {"--channels": choices_of(PreprocessingConfig, "channels"),
                                                "--resize": choices_of(PreprocessingConfig, "resize"),
                                                "--decode": choices_of(DatasetConfig, "decode")}
    assert choices(parser, "data", "check")["--format"] == list(AUDIT_FORMATS)
