#!/usr/bin/env python
"""Segment captchas into digits and file each crop under its label, typed per crop or read from the
file name of a generated captcha (ch. 21).

    python scripts/captcha/annotate.py --input datasets/captchas --annot datasets/captcha_digits --from-names
"""
import argparse

from dlcv.casestudies.captcha.annotate import annotate_captcha_files
from dlcv.recipes.script import run_script, script_parser

parser = script_parser(__doc__, default_output="datasets/captcha_digits")
parser.add_argument("--input", "-i", required=True, help="folder of captcha images")
parser.add_argument("--annot", "-a", dest="output", default=argparse.SUPPRESS,
                    help="the book's name for --output: where the labelled crops go (<label>/<n>.png)")
parser.add_argument("--from-names", action="store_true",
                    help="take labels from generated file names (<index>_<digits>.png) instead of the keyboard")
parser.add_argument("--length", type=int, default=4, help="characters per captcha")

if __name__ == "__main__":
    run_script(lambda a: annotate_captcha_files(a.input, a.output, a.from_names, a.length), parser)
