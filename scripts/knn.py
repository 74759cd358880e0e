#!/usr/bin/env python
"""k-nearest-neighbour classification of raw 32x32 pixels (ch. 7).

    python scripts/knn.py --dataset datasets/animals --neighbors 1
"""
from dlcv.recipes.classic import knn
from dlcv.recipes.script import run_script, script_parser

parser = script_parser(__doc__, default_output="output/knn")
parser.add_argument("--dataset", "-d", required=True, help="folder of <class>/<image> files")
parser.add_argument("--neighbors", "-k", type=int, default=1, help="neighbours that vote")
parser.add_argument("--jobs", "-j", type=int, default=-1, help="parallel jobs for the distance search (-1: all cores)")

if __name__ == "__main__":
    run_script(lambda a: knn(a.dataset, a.output, a.neighbors, a.jobs, a.seed), parser)
