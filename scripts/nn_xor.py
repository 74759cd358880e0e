#!/usr/bin/env python
"""Backpropagation learns XOR with a 2-2-1 network; a 2-1 network without a hidden layer cannot (ch. 10).

    python scripts/nn_xor.py --epochs 20000 --alpha 0.5
"""
from dlcv.recipes.numpy_chapters import nn_xor, run_chapter_script
from dlcv.recipes.script import script_parser

parser = script_parser(__doc__, default_output="output/nn_xor")
parser.add_argument("--epochs", "-e", type=int, default=20000, help="passes over the four points")
parser.add_argument("--alpha", "-a", type=float, default=0.5, help="learning rate")


def main(args):
    nn_xor(args.output, args.epochs, args.alpha, args.seed)


if __name__ == "__main__":
    run_chapter_script(main, parser)
