#!/usr/bin/env python
"""A linear classifier on raw 32x32 pixels trained by SGD with no, L1 and L2 regularisation (ch. 9).

    python scripts/regularization.py --dataset datasets/animals
"""
from dlcv.recipes.classic import regularization
from dlcv.recipes.script import run_script, script_parser

parser = script_parser(__doc__, default_output="output/regularization")
parser.add_argument("--dataset", "-d", required=True, help="folder of <class>/<image> files")

if __name__ == "__main__":
    run_script(lambda a: regularization(a.dataset, a.output, a.seed), parser)
