#!/usr/bin/env python
"""Batch gradient descent on the book's two blobs (ch. 9): a sigmoid unit, sum-of-squared-errors loss.

    python scripts/gradient_descent.py --epochs 100 --alpha 0.01
    python scripts/gradient_descent.py --optimizer nesterov
    python scripts/gradient_descent.py --compare        # gd vs momentum vs nesterov, one plot
    python scripts/gradient_descent.py --book           # the printed code's gradient (no sigmoid derivative)
"""
from dlcv.recipes.numpy_chapters import OPTIMIZERS, blobs_descent, compare_optimizers
from dlcv.recipes.script import run_script, script_parser

parser = script_parser(__doc__.splitlines()[1], default_output="output/gradient_descent")
parser.add_argument("--epochs", "-e", type=int, default=100, help="passes over the training data")
parser.add_argument("--alpha", "-a", type=float, default=0.01, help="learning rate")
parser.add_argument("--optimizer", choices=OPTIMIZERS, default="gd",
                    help="plain gradient descent, momentum (0.9) or Nesterov momentum (0.9)")
parser.add_argument("--compare", action="store_true", help="train all three optimizers; overlay the losses")
parser.add_argument("--book", action="store_true",
                    help="reproduce the printed code: gradient without the sigmoid derivative")


def main(args):
    if args.compare:
        compare_optimizers(args.output, args.epochs, args.alpha, batch_size=None, seed=args.seed)
    else:
        blobs_descent(args.output, args.epochs, args.alpha, None, args.optimizer, args.book, args.seed)


if __name__ == "__main__":
    run_script(main, parser)
