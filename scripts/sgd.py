#!/usr/bin/env python
"""Mini-batch stochastic gradient descent on the book's two blobs (ch. 9), reshuffled every epoch.

    python scripts/sgd.py --epochs 100 --alpha 0.01 --batch-size 32
    python scripts/sgd.py --optimizer momentum --compare
    python scripts/sgd.py --book    # the printed code: no sigmoid derivative, no shuffling, test half trained on
"""
from dlcv.recipes.numpy_chapters import OPTIMIZERS, blobs_descent, compare_optimizers
from dlcv.recipes.script import run_script, script_parser

parser = script_parser(__doc__.splitlines()[1], default_output="output/sgd")
parser.add_argument("--epochs", "-e", type=int, default=100, help="passes over the training data")
parser.add_argument("--alpha", "-a", type=float, default=0.01, help="learning rate")
parser.add_argument("--batch-size", "-b", type=int, default=32, help="samples per update")
parser.add_argument("--optimizer", choices=OPTIMIZERS, default="gd",
                    help="plain SGD, momentum (0.9) or Nesterov momentum (0.9)")
parser.add_argument("--compare", action="store_true", help="train all three optimizers; overlay the losses")
parser.add_argument("--book", action="store_true",
                    help="reproduce the printed code's three bugs (see the module docstring)")


def main(args):
    if args.compare:
        compare_optimizers(args.output, args.epochs, args.alpha, args.batch_size, seed=args.seed)
    else:
        blobs_descent(args.output, args.epochs, args.alpha, args.batch_size, args.optimizer, args.book,
                      args.seed)


if __name__ == "__main__":
    run_script(main, parser)
