#!/usr/bin/env python
"""The perceptron on the bitwise datasets (ch. 10): it learns OR and AND, and cannot learn XOR.

    python scripts/perceptron.py --dataset or
    python scripts/perceptron.py --dataset xor --epochs 100     # still fails: XOR is not linearly separable
"""
from dlcv.recipes.numpy_chapters import perceptron_bitwise, run_chapter_script
from dlcv.recipes.script import script_parser

parser = script_parser(__doc__, default_output="output/perceptron")
parser.add_argument("--dataset", "-d", choices=["or", "and", "xor"], default="or", help="bitwise function")
parser.add_argument("--epochs", "-e", type=int, default=20, help="passes over the four points")
parser.add_argument("--alpha", "-a", type=float, default=0.1, help="learning rate")


def main(args):
    perceptron_bitwise(args.dataset, args.epochs, args.alpha, args.seed)


if __name__ == "__main__":
    run_chapter_script(main, parser)
