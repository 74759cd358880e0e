#!/usr/bin/env python
"""A 64-32-16-10 sigmoid network trained by NumPy backpropagation on scikit-learn's 8x8 digits (ch. 10).

    python scripts/nn_mnist.py                      # vectorised: mini-batches of 128, float32 (seconds)
    python scripts/nn_mnist.py --per-sample         # the book's loop: one sample at a time (minutes)
"""
from dlcv.recipes.numpy_chapters import digits_backprop, run_chapter_script
from dlcv.recipes.script import script_parser

parser = script_parser(__doc__, default_output="output/nn_mnist")
parser.add_argument("--epochs", "-e", type=int, default=1000, help="passes over the training data")
parser.add_argument("--alpha", "-a", type=float, default=0.1, help="learning rate")
parser.add_argument("--batch-size", "-b", type=int, default=128,
                    help="samples per vectorised update (gradients summed, as per-sample updates add up)")
parser.add_argument("--per-sample", action="store_true",
                    help="the book's mode: one update per sample, in data order, float64")


def main(args):
    if args.per_sample:
        digits_backprop(args.output, args.epochs, args.alpha, None, float32=False, seed=args.seed)
    else:
        digits_backprop(args.output, args.epochs, args.alpha, args.batch_size, float32=True, seed=args.seed)


if __name__ == "__main__":
    run_chapter_script(main, parser)
